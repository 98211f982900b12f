"""Simulated annotators, for dry runs of the analysis and for planning a study before paying for it.

The annotator model (:class:`AnnotatorModel`), per assignment:

1. A pool of ``n_workers`` workers; ``round(spammer_share * n_workers)`` of them are spammers. Each task
   gets ``assignments`` distinct workers drawn uniformly from the pool.
2. Any worker leaves a task blank with probability ``blank_rate`` (no answer at all).
3. An honest worker gives the study's target answer with probability ``accuracy[condition]``:

   - simulatability (condition: the task's ``layer``): picks the ``correct_choice``; otherwise one of
     the two other images, uniformly;
   - spurious (condition: ``layer``): answers ``yes`` (a common pattern); otherwise ``no``. Each task
     has a latent pattern: a description drawn from :data:`DESCRIPTIONS` and, per class, ``surroundings``
     with probability ``surroundings_rate``, else ``object``; an honest ``yes`` reports them;
   - misclassification (condition: the feature's role ``fp``, ``fl`` or ``fr``): ticks each of the two
     patterns independently with the probability of its role; ``none`` when it ticks neither; when it
     ticks both, names as best the one of role r with probability proportional to ``accuracy[r]``.

   A spammer answers uniformly at random: any option, ``yes``/``no`` with a random description and
   random parts, each pattern ticked with probability 1/2.
4. Confidence: honest answers draw it from ``confidence`` (probabilities of 0, 1, 2, 3), independently
   of whether the answer is right; spammers uniformly.
5. Work time: gamma with shape 4 and mean ``mean_work_time`` seconds (spammers: a fifth of it).

:func:`simulate_annotations` draws answers for an answer key in canonical form (also used by
:mod:`studykit.analysis.plan`); :func:`write_simulated_results` writes them for a batch folder in the
batch-results CSV layout (:func:`studykit.formats.results_csv.append_results`), like a download from
the Requester website. Everything is seeded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from studykit.formats.batch import Batch, read_batch
from studykit.formats.results_csv import append_results, format_approval_rate, format_reward, format_time
from studykit.formats.studies import STUDIES, StudySchema, study_schema

from .annotations import Annotations
from .load import LINE, SIMULATED_MARK, problems_frame

__all__ = ["AnnotatorModel", "DEFAULT_ACCURACY", "DESCRIPTIONS", "simulate_annotations", "simulated_annotations",
           "simulated_rows",
           "write_simulated_results", "conditions"]

#: Default honest-annotator accuracies per study (assumptions for planning, not the paper's results),
#: from the study registry (:attr:`studykit.formats.studies.StudySchema.simulated_accuracy`).
DEFAULT_ACCURACY: Mapping[str, Mapping[str, float]] = {name: entry.simulated_accuracy
                                                       for name, entry in STUDIES.items()}
#: Latent pattern descriptions of simulated spurious-correlation tasks.
DESCRIPTIONS = ("red color", "water", "stripes", "grass", "blue sky", "wheels", "fur texture", "metal",
                "round shape", "text", "snow", "wooden surface")
_PARTS = STUDIES["spurious"].field("part_a").options
_START = datetime(2024, 1, 8, 17, 0, tzinfo=timezone.utc)


@dataclasses.dataclass(frozen=True)
class AnnotatorModel:
    """Simulated annotators (module docstring).

    Parameters
    ----------
    accuracy : mapping of str to float
        Per condition (``dense``/``sparse``; ``fp``/``fl``/``fr`` for misclassification), in [0, 1].
    blank_rate : float
        Probability of leaving a task blank, in [0, 1].
    confidence : tuple of 4 floats
        Probabilities of confidence 0, 1, 2, 3 for honest answers (sum 1).
    spammer_share : float
        Share of the worker pool answering at random, in [0, 1].
    n_workers : int
        Size of the worker pool (at least the assignments per task).
    surroundings_rate : float
        Spurious study: probability that a task's pattern lies in a class's surroundings.
    mean_work_time : float
        Mean seconds per honest assignment (> 0).
    """

    accuracy: Mapping[str, float]
    blank_rate: float = 0.05
    confidence: tuple[float, float, float, float] = (0.1, 0.2, 0.4, 0.3)
    spammer_share: float = 0.1
    n_workers: int = 50
    surroundings_rate: float = 0.3
    mean_work_time: float = 60.0

    def __post_init__(self):
        for name, value in {**{f"accuracy[{k}]": v for k, v in self.accuracy.items()},
                            "blank_rate": self.blank_rate, "spammer_share": self.spammer_share,
                            "surroundings_rate": self.surroundings_rate}.items():
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        probabilities = np.asarray(self.confidence, dtype=float)
        if probabilities.shape != (4,) or (probabilities < 0).any() or not np.isclose(probabilities.sum(), 1.0):
            raise ValueError(f"confidence must be 4 probabilities (of 0, 1, 2, 3) summing to 1, got {self.confidence!r}")
        if int(self.n_workers) != self.n_workers or self.n_workers < 1:
            raise ValueError(f"n_workers must be an integer >= 1, got {self.n_workers!r}")
        if not self.mean_work_time > 0:
            raise ValueError(f"mean_work_time must be > 0, got {self.mean_work_time!r}")

    @classmethod
    def for_study(cls, study: str | StudySchema, **changes) -> "AnnotatorModel":
        """The model with :data:`DEFAULT_ACCURACY` of ``study`` and ``changes`` applied."""
        return cls(**{"accuracy": dict(DEFAULT_ACCURACY[study_schema(study).name]), **changes})


def conditions(study: str | StudySchema) -> tuple[str, str]:
    """The answer-key column holding a task's condition, and what the model's accuracy is keyed by."""
    name = study_schema(study).name
    return ("condition", "role") if name == "misclassification" else ("layer", "layer")


def simulate_annotations(answer_key: pd.DataFrame, study: str | StudySchema, model: AnnotatorModel, *,
                         assignments: int, seed: int = 0) -> pd.DataFrame:
    """Draw every assignment of every task of ``answer_key``.

    Parameters
    ----------
    answer_key : DataFrame
        ``task_id`` and the study's key columns (text, as in ``answer_key.csv``).
    study : str or StudySchema
    model : AnnotatorModel
    assignments : int
        Distinct workers per task (at most ``model.n_workers``).
    seed : int

    Returns
    -------
    DataFrame
        One row per assignment: ``task``, ``worker`` (index in the pool), ``spammer``, ``work_time`` and
        the study's answer fields as text (``""`` when blank), ``confidence`` as float (NaN when blank).
    """
    schema = study_schema(study)
    if not 1 <= assignments <= model.n_workers:
        raise ValueError(f"assignments must be between 1 and n_workers={model.n_workers}, got {assignments}")
    _check_accuracy(answer_key, schema, model)
    rng = np.random.default_rng(seed)
    n_tasks = len(answer_key)
    workers = np.argsort(rng.random((n_tasks, model.n_workers)), axis=1)[:, :assignments].ravel()
    spammers = np.zeros(model.n_workers, dtype=bool)
    spammers[rng.permutation(model.n_workers)[:round(model.spammer_share * model.n_workers)]] = True
    spammer = spammers[workers]
    key = answer_key.loc[answer_key.index.repeat(assignments)].reset_index(drop=True)
    answers = _ANSWERS[schema.name](key, spammer, rng, model)
    confidence = np.where(spammer, rng.integers(0, 4, len(key)), rng.choice(4, len(key), p=model.confidence))
    frame = pd.DataFrame({"task": key["task_id"].to_numpy(), "worker": workers, "spammer": spammer,
                          "work_time": rng.gamma(4.0, model.mean_work_time / 4, len(key)) * np.where(spammer, 0.2, 1),
                          **answers, "confidence": confidence.astype(float)})
    blank = rng.random(len(key)) < model.blank_rate
    frame.loc[blank, list(answers)] = ""
    frame.loc[blank, "confidence"] = np.nan
    return frame


def simulated_annotations(answer_key: pd.DataFrame, study: str | StudySchema, model: AnnotatorModel, *,
                          assignments: int, seed: int = 0) -> Annotations:
    """:func:`simulate_annotations` as the canonical annotations table, answer key joined, without a CSV
    round trip (workers named ``w<index>``, one HIT per task)."""
    simulated = simulate_annotations(answer_key, study, model, assignments=assignments, seed=seed)
    rows = np.arange(len(simulated))
    frame = simulated.drop(columns="spammer").assign(
        hit=simulated["task"], assignment=rows.astype(str), worker="w" + simulated["worker"].astype(str),
        status="Submitted", submit_time=pd.NaT, reward=np.nan, **{LINE: rows + 2})
    key = answer_key.rename(columns={"task_id": "task"})
    return Annotations(frame.merge(key, on="task", how="left"), problems_frame([]), study_schema(study), "simulation")


def _check_accuracy(key: pd.DataFrame, schema: StudySchema, model: AnnotatorModel) -> None:
    column, kind = conditions(schema)
    if column not in key.columns:
        raise ValueError(f"answer key: missing column {column} for the {schema.name} study")
    needed = sorted({r for c in key[column].unique() for r in c.split("_")}) if kind == "role" \
        else sorted(key[column].astype(str).unique())
    missing = [c for c in needed if c not in model.accuracy]
    if missing:
        raise ValueError(f"the annotator model has no accuracy for {kind} {', '.join(missing)} "
                         f"(it has {', '.join(model.accuracy) or 'none'})")


def _simulatability(key: pd.DataFrame, spammer: np.ndarray, rng: np.random.Generator,
                    model: AnnotatorModel) -> dict[str, np.ndarray]:
    options = np.array(["A", "B", "C"])
    correct = key["correct_choice"].map({"A": 0, "B": 1, "C": 2}).to_numpy()
    right = rng.random(len(key)) < key["layer"].map(model.accuracy).to_numpy(dtype=float)
    wrong = (correct + rng.integers(1, 3, len(key))) % 3
    honest = np.where(right, correct, wrong)
    return {"choice": options[np.where(spammer, rng.integers(0, 3, len(key)), honest)]}


def _spurious(key: pd.DataFrame, spammer: np.ndarray, rng: np.random.Generator,
              model: AnnotatorModel) -> dict[str, np.ndarray]:
    n = len(key)
    tasks, first = np.unique(key["task_id"].to_numpy(), return_inverse=True)
    pattern = rng.integers(0, len(DESCRIPTIONS), len(tasks))[first]
    parts = np.where(rng.random((len(tasks), 2)) < model.surroundings_rate, "surroundings", "object")[first]
    yes = np.where(spammer, rng.random(n) < 0.5, rng.random(n) < key["layer"].map(model.accuracy).to_numpy(float))
    description = np.where(spammer, rng.integers(0, len(DESCRIPTIONS), n), pattern)
    random_parts = np.asarray(_PARTS)[rng.integers(0, len(_PARTS), (n, 2))]
    parts = np.where(spammer[:, None], random_parts, parts)
    return {"common": np.where(yes, "yes", "no"),
            "description": np.where(yes, np.asarray(DESCRIPTIONS)[description], ""),
            "part_a": np.where(yes, parts[:, 0], ""), "part_b": np.where(yes, parts[:, 1], "")}


def _misclassification(key: pd.DataFrame, spammer: np.ndarray, rng: np.random.Generator,
                       model: AnnotatorModel) -> dict[str, np.ndarray]:
    n = len(key)
    roles = {letter: np.full(n, "", dtype=object) for letter in ("A", "B")}
    for role in ("fp", "fl", "fr"):
        for letter in roles:
            roles[letter][key[f"option_{role}"].to_numpy() == letter] = role
    rate = {letter: np.where(spammer, 0.5, pd.Series(r).map(model.accuracy).fillna(0.0).to_numpy(dtype=float))
            for letter, r in roles.items()}
    ticked = {letter: rng.random(n) < rate[letter] for letter in roles}
    match = np.where(ticked["A"] & ticked["B"], "A|B", np.where(ticked["A"], "A", np.where(ticked["B"], "B", "none")))
    share_a = np.divide(rate["A"], rate["A"] + rate["B"], out=np.full(n, 0.5), where=rate["A"] + rate["B"] > 0)
    best = np.where(rng.random(n) < share_a, "A", "B")
    return {"match": match, "best": np.where(ticked["A"] & ticked["B"], best, "")}


_ANSWERS = {"simulatability": _simulatability, "spurious": _spurious, "misclassification": _misclassification}


def _code(*parts: object, length: int) -> str:
    """A deterministic upper-case identifier of ``length`` characters from ``parts``."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=32).hexdigest().upper()
    return digest[:length]


def simulated_rows(batch: Batch, model: AnnotatorModel, *, seed: int = 0) -> list[dict[str, object]]:
    """Batch-results rows (column -> value) of simulated assignments for every task of ``batch``.

    ``Input.*`` holds the ``tasks.csv`` columns (``task_id`` included); ``Answer.*`` the answers under the
    manifest's ``answers`` field names. ``RequesterAnnotation`` (an MTurk column, free for the requester)
    is ``studykit:simulated:<batch id>``, so every report computed from the file says it is simulated. The number of assignments is the manifest's ``max_assignments``.
    """
    hit = batch.hit
    assignments = int(hit.get("max_assignments", 5))
    frame = simulate_annotations(batch.answer_key, batch.schema, model, assignments=assignments, seed=seed)
    inputs = {task: {f"Input.{c}": v for c, v in row.items()}
              for task, row in batch.tasks.set_index("task_id", drop=False).to_dict("index").items()}
    rng = np.random.default_rng([seed, 1])
    accept = [_START + timedelta(seconds=float(s)) for s in rng.uniform(0, 3 * 86400, len(frame))]
    delay = int(hit.get("auto_approval_delay_seconds", 259200))
    history = rng.integers(0, 500, model.n_workers)
    batch_id = batch.manifest.get("batch_id", batch.directory.name)
    columns = {name: field for field, name in batch.answers.items()}
    shared = {"HITTypeId": "3" + _code(batch_id, length=29), "Title": hit.get("title", ""),
              "Description": hit.get("description", ""), "Keywords": hit.get("keywords", ""),
              "Reward": format_reward(hit.get("reward", 0)), "CreationTime": format_time(_START),
              "MaxAssignments": assignments, "AssignmentDurationInSeconds": hit.get("assignment_duration_seconds", ""),
              "AutoApprovalDelayInSeconds": delay, "LifetimeInSeconds": hit.get("lifetime_seconds", ""),
              "AssignmentStatus": "Submitted", "RequesterAnnotation": f"{SIMULATED_MARK}:{batch_id}"}
    rows = []
    for i, (record, when) in enumerate(zip(frame.itertuples(index=False), accept)):
        submit = when + timedelta(seconds=int(record.work_time))
        rate = format_approval_rate(int(history[record.worker]), int(history[record.worker]))
        rows.append({**shared, "HITId": "3" + _code(batch_id, record.task, length=29),
                     "AssignmentId": "3" + _code(batch_id, seed, i, length=29),
                     "WorkerId": "A" + _code("worker", seed, record.worker, length=13),
                     "AcceptTime": format_time(when), "SubmitTime": format_time(submit),
                     "AutoApprovalTime": format_time(submit + timedelta(seconds=delay)),
                     "WorkTimeInSeconds": int(record.work_time), "LifetimeApprovalRate": rate,
                     "Last30DaysApprovalRate": rate, "Last7DaysApprovalRate": rate, **inputs[record.task],
                     **{field: _answer_cell(record, name) for name, field in columns.items()}})
    return rows


def _answer_cell(record, name: str) -> str:
    """The CSV cell of answer ``name`` of a simulated assignment (``task_id`` for a hidden task-id field)."""
    if name == "task_id":
        return record.task
    value = getattr(record, name)
    if name == "confidence":
        return "" if np.isnan(value) else str(int(value))
    return value


def write_simulated_results(batch_dir: str | os.PathLike, out: str | os.PathLike, model: AnnotatorModel | None = None,
                            *, seed: int = 0, overwrite: bool = False) -> int:
    """Simulate every assignment of a batch folder and write them as a batch-results CSV.

    Parameters
    ----------
    batch_dir : path-like
        The batch folder (``docs/batch-folder.md``).
    out : path-like
        The CSV to write.
    model : AnnotatorModel, optional
        Default: :meth:`AnnotatorModel.for_study` of the batch's study.
    seed : int
    overwrite : bool
        Replace ``out`` when it exists (otherwise :class:`FileExistsError`).

    Returns
    -------
    int
        Assignments written.
    """
    batch = read_batch(batch_dir)
    model = model or AnnotatorModel.for_study(batch.schema)
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass overwrite=True (--overwrite) to replace it")
    rows = simulated_rows(batch, model, seed=seed)
    out.unlink(missing_ok=True)
    return append_results(out, rows, input_fields=list(batch.tasks.columns),
                          answer_fields=[f.removeprefix("Answer.") for f in batch.answers])
