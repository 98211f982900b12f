"""Quality control of annotations: named rules with the paper's defaults, and the report of what each excluded.

The rules, applied in this order (appendix D.4, E.2.1 and G.1, "Quality control"):

``unparseable``
    Rows the loader could not use (wrong number of fields, answers outside their options, no task id,
    a task missing from the answer key, a repeated assignment). Listed with their line numbers.
``duplicate_worker`` (studykit's addition)
    One answer per worker and task: when a worker answered the same task under several assignments,
    the first submitted (``SubmitTime``, then the line in the file) is kept and the others excluded.
``rejected`` (studykit's addition; ``drop_rejected=False`` keeps them)
    Assignments the requester rejected (``AssignmentStatus`` = Rejected).
``blank_worker``
    Every instance of a worker who left the task blank (no selection) in more than
    ``blank_worker_threshold`` (paper: 80 %) of their instances left by the rules above.
``no_selection``
    Individual instances where the annotator made no selection (the study's selection field is
    empty: ``choice``, ``common`` or ``match``).
``min_annotators``
    Every instance of a task with selections from fewer than ``min_annotators`` distinct workers
    (paper: 2 for simulatability and misclassification, 3 for spurious correlations).

A "task" is the ``task`` column, or the pair (``task``, ``question``) when the table has a
``question`` column (the generic analysis of :mod:`studykit.analysis.generic`).

The result is the same whether ``blank_worker`` runs before or after ``no_selection`` (both use the
blank rate before blanks are removed); running it first attributes a blank worker's blanks to it.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import pandas as pd

from studykit.formats.studies import StudySchema, study_schema

from .annotations import Annotations
from .load import LINE

__all__ = ["QCConfig", "QCReport", "QCResult", "apply_qc", "RULES"]

#: Rule name -> one-line description (the order in which the rules are applied).
RULES = {
    "unparseable": "rows that could not be read or used (see the problems list for their lines)",
    "duplicate_worker": "later answers of a worker to a task they had already answered (first submitted kept)",
    "rejected": "assignments the requester rejected",
    "blank_worker": "every instance of workers who left the task blank more than {threshold:.0%} of the time",
    "no_selection": "instances where the annotator made no selection ({selection} empty)",
    "min_annotators": "tasks with selections from fewer than {min_annotators} annotators",
}


@dataclasses.dataclass(frozen=True)
class QCConfig:
    """Quality-control settings (defaults: the paper's).

    Parameters
    ----------
    min_annotators : int
        Keep tasks with selections from at least this many distinct workers (>= 1).
    blank_worker_threshold : float
        Drop workers whose share of blank instances exceeds this (in [0, 1]; 1 drops nobody).
    drop_rejected : bool
        Drop assignments with ``AssignmentStatus`` = Rejected.
    """

    min_annotators: int
    blank_worker_threshold: float = 0.8
    drop_rejected: bool = True

    def __post_init__(self):
        if isinstance(self.min_annotators, bool) or not isinstance(self.min_annotators, (int, np.integer)) \
                or self.min_annotators < 1:
            raise ValueError(f"min_annotators must be an integer >= 1, got {self.min_annotators!r}")
        if not 0.0 <= float(self.blank_worker_threshold) <= 1.0:
            raise ValueError(f"blank_worker_threshold must be in [0, 1], got {self.blank_worker_threshold!r}")

    @classmethod
    def for_study(cls, study: str | StudySchema, **changes) -> "QCConfig":
        """The paper's settings for ``study``, with ``changes`` (``min_annotators=...``, ...) applied."""
        return cls(**{"min_annotators": study_schema(study).min_annotators, **changes})


@dataclasses.dataclass(frozen=True)
class QCReport:
    """What quality control kept and excluded.

    Attributes
    ----------
    summary : DataFrame
        One row for the loaded data (``rule`` = ``loaded``), one per rule, one for what is ``kept``:
        ``rule``, ``description``, ``rows``, ``workers``, ``tasks``. For a rule, the counts are what it
        excluded: rows removed, and workers and tasks it removed the last rows of (NaN for
        ``unparseable``, whose rows may have no usable worker or task).
    exclusions : DataFrame
        One row per excluded row: ``line``, ``assignment``, ``task``, ``worker`` (pseudonym), ``rule``,
        ``reason``.
    config : QCConfig
    notices : tuple of str
        Remarks on the file as a whole (encoding read, duplicated columns, confidences not numbers...).
    """

    summary: pd.DataFrame
    exclusions: pd.DataFrame
    config: QCConfig
    notices: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class QCResult:
    """Annotations that passed quality control, and the report."""

    annotations: Annotations
    report: QCReport


def apply_qc(annotations: Annotations, config: QCConfig | None = None) -> QCResult:
    """Apply the rules of this module in order.

    Parameters
    ----------
    annotations : Annotations
        From :func:`~studykit.analysis.annotations.to_annotations`.
    config : QCConfig, optional
        Default: :meth:`QCConfig.for_study` of the annotations' study.

    Returns
    -------
    QCResult
        The kept annotations (problems carried over) and the :class:`QCReport`.
    """
    schema = annotations.schema
    config = config or QCConfig.for_study(schema)
    frame = _with_codes(annotations.frame)
    problems = annotations.problems
    descriptions = _descriptions(schema, config)
    summary = [_counts("loaded", "rows read", frame, extra_rows=len(problems)),
               {"rule": "unparseable", "description": descriptions["unparseable"], "rows": len(problems),
                "workers": np.nan, "tasks": np.nan}]
    excluded = [problems.assign(task="", worker="", rule="unparseable")]
    for name, rule in _RULES.items():
        drop = rule(frame, schema, config)
        summary.append(_excluded_counts(name, descriptions[name], frame, drop))
        excluded.append(frame.loc[drop, [LINE, "assignment", "task", "worker"]].assign(rule=name, reason=""))
        # A rule that drops nothing keeps the frame as is (no copy of a million rows).
        frame = frame[~drop] if drop.any() else frame
    summary.append(_counts("kept", "rows left for analysis", frame))
    exclusions = pd.concat(excluded, ignore_index=True)[[LINE, "assignment", "task", "worker", "rule", "reason"]]
    kept = dataclasses.replace(annotations, frame=frame.drop(columns=list(_CODES)).reset_index(drop=True))
    report = QCReport(pd.DataFrame(summary), exclusions.sort_values(LINE, ignore_index=True), config,
                      tuple(getattr(annotations, "notices", ())))
    return QCResult(kept, report)


#: Integer codes of worker, task and unit (task, or task and question) added for the rules, then dropped.
_CODES = ("_worker", "_task", "_unit")


def _units(frame: pd.DataFrame) -> list[str]:
    return ["task", "question"] if "question" in frame.columns else ["task"]


def _with_codes(frame: pd.DataFrame) -> pd.DataFrame:
    """The rules count with integer codes: grouping a million strings again per rule is slow."""
    unit = pd.MultiIndex.from_frame(frame[_units(frame)].astype(str)) if "question" in frame.columns else frame["task"]
    return frame.assign(_worker=pd.factorize(frame["worker"])[0], _task=pd.factorize(frame["task"])[0],
                        _unit=pd.factorize(unit)[0])


def _n_distinct(codes: np.ndarray) -> int:
    return int(np.count_nonzero(np.bincount(codes))) if len(codes) else 0


def _duplicate_worker(frame: pd.DataFrame, schema: StudySchema, config: QCConfig) -> pd.Series:
    if not len(frame):
        return pd.Series(False, index=frame.index)
    order = pd.DataFrame({"_pair": frame["_unit"].to_numpy() * (int(frame["_worker"].max()) + 1)
                          + frame["_worker"].to_numpy(),
                          "_time": frame["submit_time"] if "submit_time" in frame.columns else pd.NaT,
                          "_line": frame[LINE]}, index=frame.index)
    order = order.sort_values(["_time", "_line"], na_position="last", kind="stable")
    return order["_pair"].duplicated(keep="first").reindex(frame.index)


def is_blank(frame: pd.DataFrame, schema: StudySchema) -> pd.Series:
    """Rows where the annotator made no selection."""
    return frame[schema.selection].eq("")


def _rejected(frame: pd.DataFrame, schema: StudySchema, config: QCConfig) -> pd.Series:
    if not config.drop_rejected:
        return pd.Series(False, index=frame.index)
    return frame["status"].astype(str).str.lower().eq("rejected")


def _blank_worker(frame: pd.DataFrame, schema: StudySchema, config: QCConfig) -> pd.Series:
    workers = frame["_worker"].to_numpy()
    if not len(workers):
        return pd.Series(False, index=frame.index)
    blank = is_blank(frame, schema).to_numpy(dtype=float)
    answers = np.bincount(workers)    # codes of workers with no row left count 0: their rate stays 0
    rate = np.divide(np.bincount(workers, weights=blank), answers, out=np.zeros(len(answers)), where=answers > 0)
    return pd.Series(rate[workers] > config.blank_worker_threshold, index=frame.index)


def _no_selection(frame: pd.DataFrame, schema: StudySchema, config: QCConfig) -> pd.Series:
    return is_blank(frame, schema)


def _min_annotators(frame: pd.DataFrame, schema: StudySchema, config: QCConfig) -> pd.Series:
    units, workers = frame["_unit"].to_numpy(), frame["_worker"].to_numpy()
    if not len(units):
        return pd.Series(False, index=frame.index)
    pairs = np.unique(units.astype(np.int64) * (int(workers.max()) + 1) + workers)
    per_unit = np.bincount(pairs // (int(workers.max()) + 1), minlength=int(units.max()) + 1)
    return pd.Series(per_unit[units] < config.min_annotators, index=frame.index)


_RULES: dict[str, Callable[[pd.DataFrame, StudySchema, QCConfig], pd.Series]] = {
    "duplicate_worker": _duplicate_worker, "rejected": _rejected, "blank_worker": _blank_worker, "no_selection": _no_selection,
    "min_annotators": _min_annotators,
}


def _descriptions(schema: StudySchema, config: QCConfig) -> dict[str, str]:
    values = {"threshold": config.blank_worker_threshold, "selection": schema.selection,
              "min_annotators": config.min_annotators}
    return {name: text.format(**values) for name, text in RULES.items()}


def _counts(rule: str, description: str, frame: pd.DataFrame, extra_rows: int = 0) -> dict:
    return {"rule": rule, "description": description, "rows": len(frame) + extra_rows,
            "workers": _n_distinct(frame["_worker"].to_numpy()), "tasks": _n_distinct(frame["_task"].to_numpy())}


def _excluded_counts(rule: str, description: str, frame: pd.DataFrame, drop: pd.Series) -> dict:
    """Rows dropped, and the workers and tasks left with no row by this rule."""
    keep = ~drop.to_numpy(dtype=bool)
    workers, tasks = frame["_worker"].to_numpy(), frame["_task"].to_numpy()
    return {"rule": rule, "description": description, "rows": int((~keep).sum()),
            "workers": _n_distinct(workers) - _n_distinct(workers[keep]),
            "tasks": _n_distinct(tasks) - _n_distinct(tasks[keep])}
