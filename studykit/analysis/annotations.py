"""The canonical long table of annotations: one row per assignment of a task.

Every studykit HIT shows one task (``docs/batch-folder.md``), so an assignment answers one question and
the table has one row per assignment x question. Its columns:

=============== ===========================================================================
``task``        task id (``Input.task_id``, else ``Answer.task_id``; ``HITId`` for files without one)
``hit``         ``HITId``
``assignment``  ``AssignmentId``
``worker``      pseudonym of the ``WorkerId``: ``w`` + 12 hex digits of HMAC-SHA256(salt, WorkerId)
``status``      ``AssignmentStatus`` (Submitted, Approved, Rejected)
``submit_time`` ``SubmitTime`` as a UTC timestamp (NaT when unreadable)
``work_time``   ``WorkTimeInSeconds`` as float seconds (NaN when unreadable)
``reward``      ``Reward`` in US dollars (NaN when unreadable)
``line``        the line of the file the row starts on
answer fields   one column per answer of the study (:mod:`studykit.formats.studies`), as text with
                options spelled canonically (``""`` = not answered); checkbox answers joined with ``|``
``confidence``  the Likert confidence 0-3 as float (NaN = not answered)
key columns     the answer key's columns (``layer``, ``correct_choice``, ...), joined by task id
=============== ===========================================================================

Raw worker IDs never leave :func:`to_annotations`. Rows that cannot be used (answers outside their
options, no task id, a task missing from the answer key, a repeated assignment) go to ``problems`` with
their line numbers; quality control counts them under the rule ``unparseable``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
from typing import Callable, Collection, Mapping

import numpy as np
import pandas as pd

from studykit.formats.studies import AnswerField, StudySchema, default_answers, study_schema

from .load import (LINE, RawResults, parse_numbers, parse_rewards, parse_times, problems_frame, read_results_csv,
                   strip_text)

__all__ = ["Annotations", "load_annotations", "to_annotations", "pseudonymize", "foreign_hits", "BASE_COLUMNS"]

#: Columns every annotations table has before its answer and key columns.
BASE_COLUMNS = ("task", "hit", "assignment", "worker", "status", "submit_time", "work_time", "reward", LINE)
_TASK_COLUMNS = ("Input.task_id", "Answer.task_id")
#: Columns read besides the answers.
_READ = ("AssignmentStatus", "SubmitTime", "WorkTimeInSeconds", "Reward", "RequesterAnnotation", *_TASK_COLUMNS)


@dataclasses.dataclass(frozen=True)
class Annotations:
    """Annotations of one study, ready for quality control.

    Attributes
    ----------
    frame : DataFrame
        The canonical long table (module docstring).
    problems : DataFrame
        Rows left out as unusable: ``line``, ``assignment``, ``reason``.
    schema : StudySchema
        The study.
    source : str
        Where the rows came from.
    notices : tuple of str
        Remarks on the file as a whole, for the QC report (:attr:`RawResults.notices`).
    simulated : bool
        Whether the file was written by ``studykit simulate``.
    """

    frame: pd.DataFrame
    problems: pd.DataFrame
    schema: StudySchema
    source: str
    notices: tuple[str, ...] = ()
    simulated: bool = False


def pseudonymize(workers: pd.Series, salt: str) -> pd.Series:
    """Replace worker IDs by ``w`` + the first 12 hex digits of HMAC-SHA256(salt, ID).

    The same salt gives the same pseudonyms across files; without the salt they cannot be linked back
    to MTurk worker IDs (not even by hashing a known ID).
    """
    if not salt:
        raise ValueError("pseudonymize: salt must be a non-empty string")
    key = salt.encode()
    codes, uniques = pd.factorize(workers.astype(str))
    names = np.array(["w" + hmac.new(key, u.encode(), hashlib.sha256).hexdigest()[:12] for u in uniques],
                     dtype=object)
    return pd.Series(names[codes] if len(codes) else [], index=workers.index, dtype=object)


def load_annotations(path: str | os.PathLike, study: str | StudySchema, *, salt: str,
                     answers: Mapping[str, str] | None = None, answer_key: pd.DataFrame | None = None,
                     hit_ids: Collection[str] | None = None) -> Annotations:
    """Read a batch-results CSV into annotations (:func:`read_results_csv` then :func:`to_annotations`)."""
    wanted = set(answers) if answers is not None else set(default_answers(study))
    wanted |= {f"Answer.{k}" for k in wanted}
    raw = read_results_csv(path, columns=lambda name: name in wanted or name in _READ
                           or name.rsplit(".", 1)[0] in wanted)
    return to_annotations(raw, study, salt=salt, answers=answers, answer_key=answer_key, hit_ids=hit_ids)


def to_annotations(raw: RawResults, study: str | StudySchema, *, salt: str,
                   answers: Mapping[str, str] | None = None, answer_key: pd.DataFrame | None = None,
                   hit_ids: Collection[str] | None = None) -> Annotations:
    """Turn a read batch-results file into the canonical annotations table.

    Parameters
    ----------
    raw : RawResults
        From :func:`~studykit.analysis.load.read_results_csv`.
    study : str or StudySchema
        The study the results answer.
    salt : str
        Secret salt of the worker pseudonyms (:func:`pseudonymize`).
    answers : mapping, optional
        ``Answer.*`` column -> canonical answer name, e.g. a batch manifest's ``answers``, or one written
        by hand for a CSV from elsewhere (the ``Answer.`` prefix may be left out; an entry for
        ``task_id`` is skipped: the task id comes from ``Input.task_id`` or ``Answer.task_id``). Default: studykit's own field names (``Answer.choice`` ->
        ``choice``, ...).
    answer_key : DataFrame, optional
        The batch's ``answer_key.csv``: ``task_id`` and the study's key columns.
    hit_ids : collection of str, optional
        The HIT ids of the batch (its posting ledger): rows of other HITs are reported as unusable
        (:func:`foreign_hits`; not for simulated files).

    Returns
    -------
    Annotations

    Raises
    ------
    ValueError
        When the mapping leaves an answer of the study out, names a column the file lacks, the answer
        key lacks a column, or the file has no task id column although an answer key is given.
    """
    schema = study_schema(study)
    mapping = _checked_mapping(answers if answers is not None else default_answers(schema), schema, raw)
    source = raw.frame
    frame = pd.DataFrame({"task": _task_ids(source, answer_key is not None, raw.source),
                          "hit": source["HITId"], "assignment": strip_text(source["AssignmentId"]),
                          "worker": pseudonymize(source["WorkerId"], salt),
                          "status": strip_text(_column(source, "AssignmentStatus")),
                          "submit_time": parse_times(_column(source, "SubmitTime")),
                          "work_time": parse_numbers(_column(source, "WorkTimeInSeconds")),
                          "reward": parse_rewards(_column(source, "Reward")),
                          LINE: source[LINE]})
    reasons = pd.Series("", index=frame.index, dtype=object)
    for column, name in mapping.items():
        values, invalid = _normalize(source[column], schema.field(name))
        frame[name] = values
        _note(reasons, invalid, lambda rows, c=column: c + " = " + source.loc[rows, c].map(repr)
              + " is not an allowed value")
    frame["confidence"] = pd.to_numeric(frame["confidence"].replace("", np.nan), errors="coerce")
    _note(reasons, frame["task"].eq(""), "no task id")
    _note(reasons, frame["assignment"].eq(""), "no AssignmentId")
    _note(reasons, frame["assignment"].duplicated() & frame["assignment"].ne(""), "repeats an earlier AssignmentId")
    notices = list(raw.notices)
    if hit_ids is not None and not raw.simulated:
        foreign = foreign_hits(frame["hit"], hit_ids, notices)
        _note(reasons, foreign, lambda rows: "HIT " + frame.loc[rows, "hit"].map(repr) + " is not in the batch")
    if answer_key is not None:
        frame = _join_key(frame, answer_key, schema, reasons)
    bad = reasons.ne("")
    problems = pd.concat([raw.problems, problems_frame(list(zip(frame.loc[bad, LINE], frame.loc[bad, "assignment"],
                                                                  reasons[bad])))], ignore_index=True)
    return Annotations(frame[~bad].reset_index(drop=True), problems.sort_values(LINE, ignore_index=True),
                       schema, raw.source, tuple(notices), raw.simulated)


def foreign_hits(hits: pd.Series, hit_ids: Collection[str], notices: list[str]) -> pd.Series:
    """Rows whose HIT is not one of the batch's posted HITs.

    When no row's HIT is among them, the file did not come from this posting (a preview's or the
    simulator's HIT ids, or another endpoint): nothing is marked and a notice says the HIT ids were not
    checked. Simulated files are never checked (their HIT ids are made up).
    """
    ids = strip_text(hits)
    known = ids.isin(set(hit_ids))
    if len(ids) and not known.any():
        notices.append("none of the file's HIT ids is in the batch's posting ledger (a preview's answers, or "
                       "another posting?): HIT ids were not checked")
        return pd.Series(False, index=hits.index)
    return ~known


def _checked_mapping(answers: Mapping[str, str], schema: StudySchema, raw: RawResults) -> dict[str, str]:
    mapping = {(k if k.startswith("Answer.") else f"Answer.{k}"): v for k, v in answers.items() if v != "task_id"}
    unknown = sorted(set(mapping.values()) - {a.name for a in schema.answers})
    if unknown:
        raise ValueError(f"answer mapping: {', '.join(unknown)} is not an answer of the {schema.name} study "
                         f"(its answers: {', '.join(a.name for a in schema.answers)})")
    unmapped = [a.name for a in schema.answers if a.name not in mapping.values()]
    if unmapped:
        raise ValueError(f"answer mapping: no Answer.* column for {', '.join(unmapped)}")
    absent = [c for c in mapping if c not in raw.frame.columns]
    if absent:
        raise ValueError(f"{raw.source}: missing answer column(s) {', '.join(absent)}")
    return mapping


def _task_ids(source: pd.DataFrame, needed: bool, where: str) -> pd.Series:
    """``Input.task_id``, else ``Answer.task_id`` (cell by cell), else ``HITId`` when no key is joined."""
    present = [c for c in _TASK_COLUMNS if c in source.columns]
    if not present:
        if needed:
            raise ValueError(f"{where}: missing column Input.task_id (or Answer.task_id), needed to join "
                             "the answer key; studykit's pages post it")
        return strip_text(source["HITId"])
    ids = strip_text(source[present[0]])
    for column in present[1:]:
        ids = ids.where(ids.ne(""), strip_text(source[column]))
    return ids


def _normalize(values: pd.Series, field: AnswerField) -> tuple[pd.Series, pd.Series]:
    """Answers spelled canonically, and a mask of answers outside the field's options (each distinct
    answer normalized once)."""
    codes, uniques = pd.factorize(values.fillna("").astype(str))
    canonical, invalid = _normalize_distinct(pd.Series(uniques, dtype=object), field)
    if not len(codes):
        return pd.Series([], index=values.index, dtype=object), pd.Series([], index=values.index, dtype=bool)
    return (pd.Series(canonical.to_numpy(dtype=object)[codes], index=values.index),
            pd.Series(invalid.to_numpy(dtype=bool)[codes], index=values.index))


def _normalize_distinct(values: pd.Series, field: AnswerField) -> tuple[pd.Series, pd.Series]:
    text = values.str.strip()
    if field.options is None:
        return text, pd.Series(False, index=values.index)
    spelling = {o.lower(): o for o in field.options}
    spelling.update({f"{o}.0": o for o in field.options if o.isdigit()})
    if not field.multiple:
        canonical = text.str.lower().map(spelling).fillna("")
        return canonical.where(text.ne(""), ""), text.ne("") & canonical.eq("")
    order = {o: i for i, o in enumerate(field.options)}
    parsed = text.map(lambda cell: _options(cell, spelling, order))
    return parsed.fillna(""), parsed.isna()


def _options(cell: str, spelling: dict[str, str], order: dict[str, int]) -> str | None:
    """``"b|A"`` -> ``"A|B"``; None when a part is not an option."""
    if not cell:
        return ""
    parts = [spelling.get(p.strip().lower()) for p in cell.split("|") if p.strip()]
    if any(p is None for p in parts):
        return None
    return "|".join(sorted(set(parts), key=order.__getitem__))


def _column(source: pd.DataFrame, name: str) -> pd.Series:
    """A text column of the file, or empty cells when the file lacks it."""
    return source[name].astype(str) if name in source.columns else pd.Series("", index=source.index, dtype=object)


def _note(reasons: pd.Series, mask: pd.Series, reason: str | Callable[[pd.Series], pd.Series]) -> None:
    """Record ``reason`` for the rows in ``mask`` that have none yet (a callable gets the mask of those rows)."""
    mask = mask & reasons.eq("")
    if mask.any():
        reasons[mask] = reason(mask) if callable(reason) else reason


def _join_key(frame: pd.DataFrame, key: pd.DataFrame, schema: StudySchema, reasons: pd.Series) -> pd.DataFrame:
    missing = [c for c in ("task_id", *schema.key_columns) if c not in key.columns]
    if missing:
        raise ValueError(f"answer key: missing column(s) {', '.join(missing)} for the {schema.name} study")
    key = key.assign(task_id=key["task_id"].astype(str).str.strip()).drop_duplicates("task_id")
    clash = [c for c in key.columns if c in frame.columns and c != "task_id"]
    if clash:
        raise ValueError(f"answer key: column(s) {', '.join(clash)} clash with the annotations' columns")
    _note(reasons, ~frame["task"].isin(key["task_id"]) & frame["task"].ne(""),
          lambda rows: "task " + frame.loc[rows, "task"].map(repr) + " is not in the answer key")
    joined = frame.merge(key, how="left", left_on="task", right_on="task_id", validate="many_to_one")
    joined.index = frame.index
    return joined.drop(columns="task_id")
