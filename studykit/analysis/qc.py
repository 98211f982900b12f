"""Quality control of annotations: named rules with the paper's defaults, and the report of what each excluded.

The rules, applied in this order (appendix D.4, E.2.1 and G.1, "Quality control"):

``unparseable``
    Rows the loader could not use (wrong number of fields, answers outside their options, no task id,
    a task missing from the answer key, a repeated assignment). Listed with their line numbers.
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
    """

    summary: pd.DataFrame
    exclusions: pd.DataFrame
    config: QCConfig


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
    frame = annotations.frame
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
        frame = frame[~drop]
    summary.append(_counts("kept", "rows left for analysis", frame))
    exclusions = pd.concat(excluded, ignore_index=True)[[LINE, "assignment", "task", "worker", "rule", "reason"]]
    kept = dataclasses.replace(annotations, frame=frame.reset_index(drop=True))
    report = QCReport(pd.DataFrame(summary), exclusions.sort_values(LINE, ignore_index=True), config)
    return QCResult(kept, report)


def is_blank(frame: pd.DataFrame, schema: StudySchema) -> pd.Series:
    """Rows where the annotator made no selection."""
    return frame[schema.selection].eq("")


def _rejected(frame: pd.DataFrame, schema: StudySchema, config: QCConfig) -> pd.Series:
    if not config.drop_rejected:
        return pd.Series(False, index=frame.index)
    return frame["status"].str.lower().eq("rejected")


def _blank_worker(frame: pd.DataFrame, schema: StudySchema, config: QCConfig) -> pd.Series:
    blank_rate = is_blank(frame, schema).groupby(frame["worker"]).transform("mean")
    return blank_rate > config.blank_worker_threshold


def _no_selection(frame: pd.DataFrame, schema: StudySchema, config: QCConfig) -> pd.Series:
    return is_blank(frame, schema)


def _min_annotators(frame: pd.DataFrame, schema: StudySchema, config: QCConfig) -> pd.Series:
    return frame.groupby("task")["worker"].transform("nunique") < config.min_annotators


_RULES: dict[str, Callable[[pd.DataFrame, StudySchema, QCConfig], pd.Series]] = {
    "rejected": _rejected, "blank_worker": _blank_worker, "no_selection": _no_selection,
    "min_annotators": _min_annotators,
}


def _descriptions(schema: StudySchema, config: QCConfig) -> dict[str, str]:
    values = {"threshold": config.blank_worker_threshold, "selection": schema.selection,
              "min_annotators": config.min_annotators}
    return {name: text.format(**values) for name, text in RULES.items()}


def _counts(rule: str, description: str, frame: pd.DataFrame, extra_rows: int = 0) -> dict:
    return {"rule": rule, "description": description, "rows": len(frame) + extra_rows,
            "workers": frame["worker"].nunique(), "tasks": frame["task"].nunique()}


def _excluded_counts(rule: str, description: str, frame: pd.DataFrame, drop: pd.Series) -> dict:
    """Rows dropped, and the workers and tasks left with no row by this rule."""
    kept = frame[~drop]
    return {"rule": rule, "description": description, "rows": int(drop.sum()),
            "workers": frame["worker"].nunique() - kept["worker"].nunique(),
            "tasks": frame["task"].nunique() - kept["task"].nunique()}
