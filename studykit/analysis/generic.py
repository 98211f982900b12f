"""Analysis of any batch-results CSV: name the answer columns, get QC, votes, agreement and accuracy.

For a batch that is not one of the paper's three studies (a pilot, a variant, another group's HITs),
:func:`analyze_results` takes the ``Answer.*`` columns to analyse (``questions``), optionally a
confidence column and an answer key, and gives:

- the long table: one row per assignment x item, ``task`` = ``Input.task_id`` when the file has
  it, else ``HITId``; a pattern with glob characters (``Answer.coherence*``) makes each matching
  column an item of its HIT, ``task`` = ``<task>/<column without "Answer.">`` and ``question`` the
  pattern's stem (``coherence``);
- the named QC rules of :mod:`studykit.analysis.qc` with the paper's defaults (blank answers, workers
  blank more than 80 % of the time, tasks with fewer than 2 annotators per question, one answer per
  worker and task, rejected assignments);
- the vote per task and question (:func:`vote`): weighted by ``1 + confidence`` when a confidence
  column is given (the paper's rule), else plain; seeded tie break, and whether the winner was tied;
- per question: label distributions, Krippendorff's alpha (nominal), the plain vote and Dawid-Skene
  beside the vote (with a caution when they disagree on more than 5 % of tasks), and accuracy
  against the answer key when one is given.

The answer key is a CSV either long, with columns ``task``, ``label`` and optionally ``question``
(``votes.csv``'s layout), or wide, with ``task_id`` and one column per question or item
(``coherence_1``) holding the right label.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from pathlib import Path
from typing import Collection, Sequence

import numpy as np
import pandas as pd

from .aggregate import dawid_skene, majority_vote, weighted_majority_vote
from .agreement import krippendorff_alpha
from .annotations import Annotations, foreign_hits, pseudonymize
from .load import LINE, RawResults, parse_times, problems_frame, read_results_csv, strip_text
from .qc import QCConfig, QCReport, apply_qc
from .report import Section, Table, format_interval, format_percent, write_report
from .stats import wilson_interval
from studykit.formats.studies import STUDIES, AnswerField
from .summaries import dawid_skene_note, method_caution

__all__ = ["GenericAnalysis", "analyze_results", "write_results_analysis", "answers_table", "vote",
           "read_answer_key", "question_columns", "VOTES_COLUMNS", "GENERIC"]

#: Columns of ``votes.csv``.
VOTES_COLUMNS = ("task", "question", "label", "n_annotators", "tied")
#: The study schema of the generic long table (one answer, ``label``; QC's selection).
GENERIC = dataclasses.replace(STUDIES["simulatability"], name="generic", answers=(AnswerField("label"),),
                              selection="label", key_columns=(), min_annotators=2, title="", description="")
_GLOB = set("*?[")


@dataclasses.dataclass(frozen=True)
class GenericAnalysis:
    """An analysed results file (:func:`analyze_results`).

    Attributes
    ----------
    loaded, kept : Annotations
        The long table before and after quality control (``task``, ``question``, ``label``, ...).
    qc : QCReport
    votes : DataFrame
        One row per task and question: :data:`VOTES_COLUMNS`, then ``score`` and ``share``.
    sections : list of Section
    description : str
    """

    loaded: Annotations
    kept: Annotations
    qc: QCReport
    votes: pd.DataFrame
    sections: list[Section]
    description: str


def question_columns(columns: Sequence[str], patterns: Sequence[str], source: str = "") -> list[
        tuple[str, str, str | None]]:
    """``(question, column, item)`` for every column matching a pattern (``item`` None for a plain name).

    Raises ValueError naming a pattern that matches no column, or a column two patterns claim.
    """
    answers = [c for c in columns if c.startswith("Answer.")]
    found, seen = [], {}
    for pattern in patterns:
        pattern = pattern if pattern.startswith("Answer.") else f"Answer.{pattern}"
        globbed = bool(_GLOB & set(pattern))
        matches = fnmatch.filter(answers, pattern) if globbed else [c for c in answers if c == pattern]
        if not matches:
            shown = ", ".join(answers[:12]) + (" ..." if len(answers) > 12 else "")
            raise ValueError(f"{source or 'results'}: --question {pattern}: no such answer column "
                             f"(the file has: {shown or 'none'})")
        stem = pattern.removeprefix("Answer.")
        question = stem.split("*")[0].split("?")[0].split("[")[0].rstrip("_.-") or stem if globbed else stem
        for column in matches:
            if column in seen:
                raise ValueError(f"{column} matches both --question {seen[column]} and --question {pattern}")
            seen[column] = pattern
            found.append((question, column, column.removeprefix("Answer.") if globbed else None))
    return found


def answers_table(raw: RawResults, questions: Sequence[str], *, salt: str, confidence: str | None = None,
                  hit_ids: Collection[str] | None = None) -> Annotations:
    """The long table of ``questions`` (module docstring), workers pseudonymized, unusable rows in ``problems``."""
    source = raw.frame
    targets = question_columns(list(source.columns), questions, raw.source)
    notices = list(raw.notices)
    if confidence is not None:
        confidence = confidence if confidence.startswith("Answer.") else f"Answer.{confidence}"
        if confidence not in source.columns:
            raise ValueError(f"{raw.source}: no confidence column {confidence}")
    base, reasons = _base_columns(source, None if raw.simulated else hit_ids, salt, notices)
    weights = _confidences(source, confidence, notices) if confidence is not None else None
    parts = []
    for question, column, item in targets:
        part = base.assign(question=question, label=strip_text(source[column]).to_numpy())
        if item is not None:
            part["task"] = part["task"].astype(str) + "/" + item
        if weights is not None:
            part["confidence"] = weights
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    bad = np.tile(reasons.ne("").to_numpy(), len(parts))
    problems = pd.concat([raw.problems, problems_frame(list(zip(base.loc[reasons.ne(""), LINE],
                                                                  base.loc[reasons.ne(""), "assignment"],
                                                                  reasons[reasons.ne("")])))], ignore_index=True)
    for column in ("task", "question", "worker"):
        frame[column] = frame[column].astype("category")
    return Annotations(frame[~bad].reset_index(drop=True), problems.sort_values(LINE, ignore_index=True), GENERIC,
                       raw.source, tuple(notices), raw.simulated)


def _base_columns(source: pd.DataFrame, hit_ids: Collection[str] | None, salt: str, notices: list[str]):
    """Per assignment: task, hit, assignment, worker, status, submit_time, line; and why a row is unusable."""
    hit = strip_text(source["HITId"])
    task = strip_text(source["Input.task_id"]) if "Input.task_id" in source.columns else hit
    assignment = strip_text(source["AssignmentId"])
    status = strip_text(source["AssignmentStatus"]) if "AssignmentStatus" in source.columns else ""
    times = parse_times(source["SubmitTime"]) if "SubmitTime" in source.columns else pd.NaT
    workers = strip_text(source["WorkerId"])
    base = pd.DataFrame({"task": task, "hit": hit, "assignment": assignment, "worker": pseudonymize(workers, salt),
                         "status": status, "submit_time": times, LINE: source[LINE].to_numpy()})
    reasons = pd.Series("", index=source.index, dtype=object)
    reasons[workers.eq("")] = "no WorkerId"
    reasons[reasons.eq("") & task.eq("")] = "no task id (Input.task_id empty)"
    reasons[reasons.eq("") & assignment.eq("")] = "no AssignmentId"
    reasons[reasons.eq("") & assignment.duplicated() & assignment.ne("")] = "repeats an earlier AssignmentId"
    if hit_ids is not None:
        foreign = reasons.eq("") & foreign_hits(hit, hit_ids, notices)
        reasons[foreign] = "HIT " + hit[foreign].map(repr) + " is not in the batch"
    return base, reasons


def _confidences(source: pd.DataFrame, column: str, notices: list[str]) -> np.ndarray:
    text = strip_text(source[column])
    values = pd.to_numeric(text.where(text.ne("")), errors="coerce")
    wrong = text.ne("") & values.isna()
    if wrong.any():
        lines = ", ".join(str(v) for v in source.loc[wrong, LINE].head(5))
        notices.append(f"{int(wrong.sum())} answer(s) have a {column} that is not a number (lines {lines}"
                       f"{', ...' if wrong.sum() > 5 else ''}); they are counted with weight 1")
    return values.to_numpy(dtype=float)


def vote(frame: pd.DataFrame, *, weighted: bool, seed: int = 0) -> pd.DataFrame:
    """The vote per task and question: :data:`VOTES_COLUMNS`, ``score`` and ``share``.

    ``weighted``: each answer weighs ``1 + confidence`` (column ``confidence``; the paper's rule), else 1.
    Ties are broken by :func:`~studykit.analysis.aggregate.weighted_majority_vote`'s seeded key.
    """
    parts = []
    for question, part in frame.groupby("question", sort=True, observed=True):
        voted = weighted_majority_vote(part, "label", weight="confidence" if weighted else None, seed=seed)
        parts.append(voted.rename_axis("task").reset_index().assign(question=question))
    if not parts:
        return pd.DataFrame(columns=[*VOTES_COLUMNS, "score", "share"])
    votes = pd.concat(parts, ignore_index=True)
    votes["task"] = votes["task"].astype(str)
    votes["tied"] = votes["tied"].astype(bool)
    return votes[[*VOTES_COLUMNS, "score", "share"]]


def read_answer_key(path: str | os.PathLike, questions: Collection[str]) -> pd.DataFrame:
    """An answer key (module docstring) as a long table ``task``, ``question`` (None = any), ``label``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such answer key")
    key = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if {"task", "label"} <= set(key.columns):
        question = key["question"] if "question" in key.columns else None
        return pd.DataFrame({"task": key["task"].str.strip(), "question": question, "label": key["label"].str.strip()})
    if "task_id" not in key.columns:
        raise ValueError(f"{path}: an answer key needs columns task and label, or task_id and one column per question")
    columns = [c for c in key.columns if c != "task_id"]
    if not columns:
        raise ValueError(f"{path}: no answer column besides task_id")
    long = key.melt(id_vars="task_id", value_vars=columns, var_name="column", value_name="label")
    plain = long["column"].isin(set(questions))
    return pd.DataFrame({"task": np.where(plain, long["task_id"].str.strip(),
                                          long["task_id"].str.strip() + "/" + long["column"]),
                         "question": np.where(plain, long["column"], None), "label": long["label"].str.strip()})


def analyze_results(results: str | os.PathLike, questions: Sequence[str], *, salt: str, confidence: str | None = None,
                    answer_key: str | os.PathLike | None = None, qc: QCConfig | None = None, seed: int = 0,
                    hit_ids: Collection[str] | None = None) -> GenericAnalysis:
    """Analyse any batch-results CSV (module docstring).

    Parameters
    ----------
    results : path-like
        The batch-results CSV.
    questions : sequence of str
        ``Answer.*`` columns or glob patterns (``Answer.coherence*``: one item per matching column).
    salt : str
        Secret salt of the worker pseudonyms.
    confidence : str, optional
        ``Answer.*`` column of a numeric confidence: the vote weighs each answer ``1 + confidence``.
    answer_key : path-like, optional
        The right labels (module docstring): adds accuracy.
    qc : QCConfig, optional
        Default: ``QCConfig(min_annotators=2)`` (blank-worker threshold 80 %, rejected dropped).
    seed : int
        Seed of the tie break.
    hit_ids : collection of str, optional
        The batch's HIT ids: rows of other HITs are reported.
    """
    if not questions:
        raise ValueError("name at least one answer column to analyse (--question Answer.NAME)")
    extra = {"Input.task_id", "AssignmentStatus", "SubmitTime", "RequesterAnnotation"}
    raw = read_results_csv(results, columns=lambda name: name in extra or name.startswith("Answer."))
    loaded = answers_table(raw, questions, salt=salt, confidence=confidence, hit_ids=hit_ids)
    checked = apply_qc(loaded, qc or QCConfig(min_annotators=2))
    kept = checked.annotations.frame
    votes = vote(kept, weighted=confidence is not None, seed=seed)
    key = read_answer_key(answer_key, {q for q in kept["question"].unique()}) if answer_key is not None else None
    sections = _sections(kept, votes, key, confidence is not None, seed) if len(kept) else [
        Section("Results", "No rows are left after quality control: see the quality-control report above.")]
    description = (f"Results: `{Path(results).name}`; questions: {', '.join(f'`{q}`' for q in questions)}; "
                   + (f"vote weighted by 1 + `{confidence}`" if confidence else "plain majority vote (no confidence "
                      "column)") + f"; tie break seed {seed}. Worker IDs are replaced by salted-hash pseudonyms.")
    return GenericAnalysis(loaded, checked.annotations, checked.report, votes, sections, description)


def _sections(kept: pd.DataFrame, votes: pd.DataFrame, key: pd.DataFrame | None, weighted: bool,
              seed: int) -> list[Section]:
    tables = [_distribution(kept, votes), _agreement(kept), _methods(kept, votes, weighted, seed)]
    if key is not None:
        tables.append(_accuracy(kept, votes, key))
    text = ("One vote per task and question (`votes.csv`: task, question, label, n_annotators, tied); "
            + ("each answer weighs 1 + its confidence (the paper's rule)." if weighted else "every answer weighs 1.")
            + " Ties are broken by a seeded pseudo-random order; `tied` says where.")
    return [Section("Votes", text, tables=tables, files={"votes": votes[list(VOTES_COLUMNS)]})]


def _distribution(kept: pd.DataFrame, votes: pd.DataFrame) -> Table:
    answers = kept.groupby(["question", "label"], observed=True).size().rename("answers")
    voted = votes.groupby(["question", "label"]).size().rename("votes")
    data = pd.concat([answers, voted], axis=1).fillna(0).astype(int).reset_index()
    data["answer_share"] = data["answers"] / data.groupby("question")["answers"].transform("sum")
    data["vote_share"] = data["votes"] / data.groupby("question")["votes"].transform("sum").replace(0, np.nan)
    display = data.assign(answer_share=[format_percent(v) for v in data["answer_share"]],
                          vote_share=[format_percent(v) for v in data["vote_share"]])
    display.columns = ["question", "label", "answers", "votes", "answers (%)", "votes (%)"]
    return Table("label_distribution", "Labels per question", data, display,
                 "Answers kept by quality control, and tasks won by each label in the vote.")


def _agreement(kept: pd.DataFrame) -> Table:
    rows = []
    for question, part in kept.groupby("question", observed=True):
        rows.append({"question": question, "n_tasks": int(part.groupby("task", observed=True).size().ge(2).sum()),
                     "alpha": krippendorff_alpha(part, "label", unit="task")})
    data = pd.DataFrame(rows, columns=["question", "n_tasks", "alpha"])
    return Table("agreement", "Inter-annotator agreement (Krippendorff's alpha, nominal)", data,
                 note="Over tasks with at least two answers (1 = perfect agreement, 0 = chance).",
                 empty="No question has a task with two answers, so agreement cannot be measured.")


def _methods(kept: pd.DataFrame, votes: pd.DataFrame, weighted: bool, seed: int) -> Table:
    first = "confidence-weighted vote" if weighted else "plain majority vote"
    rows, compared, notes = [], {first: [], "plain majority vote": [], "Dawid-Skene": []}, []
    for question, part in kept.groupby("question", observed=True):
        ours = votes[votes["question"] == question].set_index("task")
        ds = dawid_skene(part, "label", seed=seed)
        others = {"plain majority vote": majority_vote(part, "label", seed=seed), "Dawid-Skene": ds.votes}
        if not weighted:
            others.pop("plain majority vote")
        row = {"question": question, "tasks": len(ours)}
        for name, other in others.items():
            same = other["label"].reindex(ours.index).astype(str).eq(ours["label"].astype(str))
            row[f"{name} agrees"] = float(same.mean()) if len(same) else np.nan
        rows.append(row)
        notes.append(f"`{question}`: " + dawid_skene_note(ds).strip())
        for name, frame in {first: ours, **others}.items():
            compared[name].append(frame[["label"]].set_axis(question + "\x1f" + frame.index.astype(str)))
    data = pd.DataFrame(rows)
    display = data.copy()
    for column in [c for c in data.columns if c.endswith("agrees")]:
        display[column + " (%)"] = [format_percent(v) for v in data[column]]
        display = display.drop(columns=column)
    caution = method_caution({name: pd.concat(parts) for name, parts in compared.items() if parts})
    return Table("aggregation_methods", f"Agreement of other aggregation methods with the {first}", data, display,
                 " ".join([f"Share of tasks where each method picks the {first}'s label."] + notes + [caution]).strip())


def _accuracy(kept: pd.DataFrame, votes: pd.DataFrame, key: pd.DataFrame) -> Table:
    rows = []
    for what, frame in (("vote", votes), ("single answers", kept)):
        joined = _join_key(frame, key)
        for question, part in joined.groupby("question", observed=True):
            n, right = len(part), int((part["label"].astype(str) == part["right"]).sum())
            low, high = wilson_interval(right, n)
            rows.append({"question": question, "of": what, "n": n, "correct": right,
                         "accuracy": right / n if n else np.nan, "ci_low": float(low), "ci_high": float(high)})
    data = pd.DataFrame(rows, columns=["question", "of", "n", "correct", "accuracy", "ci_low", "ci_high"])
    display = data[["question", "of", "n", "correct"]].assign(
        **{"accuracy (%)": [format_percent(a) for a in data["accuracy"]],
           "95% CI": [format_interval(lo, hi) for lo, hi in zip(data["ci_low"], data["ci_high"])]})
    return Table("accuracy", "Accuracy against the answer key", data, display,
                 "Tasks (vote) or answers (single answers) with a key entry; Wilson 95 % intervals.",
                 empty="No task of the answer key was answered: check that its task ids match the results'.")


def _join_key(frame: pd.DataFrame, key: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(task=frame["task"].astype(str), question=frame["question"].astype(str))
    specific = key[key["question"].notna()].rename(columns={"label": "right"})
    general = key[key["question"].isna()].drop(columns="question").rename(columns={"label": "right"})
    joined = frame.merge(specific.drop_duplicates(["task", "question"]), on=["task", "question"], how="left")
    fallback = frame.merge(general.drop_duplicates("task"), on="task", how="left")["right"]
    joined["right"] = joined["right"].fillna(fallback)
    return joined[joined["right"].notna()]


def write_results_analysis(analysis: GenericAnalysis, out_dir: str | os.PathLike, *,
                           overwrite: bool = False) -> list[Path]:
    """Write the report folder: ``votes.csv``, the tables, the QC report, ``annotations.csv``, ``report.md``."""
    loaded = analysis.loaded.frame
    keys = [LINE, "task", "question"]
    kept = analysis.kept.frame[keys].astype({"task": str, "question": str}).assign(kept=True)
    flagged = loaded.astype({"task": str, "question": str}).merge(kept, on=keys, how="left")
    flagged["kept"] = flagged["kept"].notna()
    data = Section("Data", "The answers as analysed (one row per assignment and item; `kept`: passed quality "
                   "control).", files={"annotations": flagged})
    return write_report(out_dir, title="Batch results", qc=analysis.qc, sections=[*analysis.sections, data],
                        preamble=analysis.description, overwrite=overwrite, simulated=analysis.loaded.simulated)
