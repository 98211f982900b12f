"""Fetching submitted work: every assignment of every HIT in the ledger, into the ledger and two files.

For each HIT the ledger knows (deleted ones excepted), ListAssignmentsForHIT is paged through
(Submitted, Approved and Rejected work; accepted-but-unsubmitted work is invisible to the API). Each
assignment's raw record, Answer XML included, is kept in the ledger; then

- ``results/mturk-<environment>.csv`` gets one row per assignment in the Requester website's
  batch-results layout (``Input.*`` from ``tasks.csv``, ``Answer.*`` parsed from the Answer XML),
  appended: a re-run adds only new assignments;
- ``results/mturk-<environment>.assignments.jsonl`` is rewritten with every raw record and its
  current status.

A row is written when its assignment is first fetched; later status changes (approval, rejection)
are in the ledger and the JSONL file, and in the CSV only once it is rebuilt, which happens when new
answer fields appear (or when the CSV is deleted and the fetch run again).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tqdm.auto import tqdm

from studykit._io import write_text as atomic_write_text
from studykit.formats.results_csv import append_results, format_reward, format_time, results_columns

from .answers import parse_answers
from .batch import Batch
from .client import Environment
from .ledger import AssignmentRecord, Ledger
from .reconcile import list_batch_hits

__all__ = ["FetchReport", "results_path", "fetch_results"]

ASSIGNMENT_STATUSES = ["Submitted", "Approved", "Rejected"]
PAGE_SIZE = 100


@dataclass(frozen=True)
class FetchReport:
    """What :func:`fetch_results` did.

    Attributes
    ----------
    n_hits : int
        HITs whose assignments were listed.
    n_assignments : int
        Assignments known after the fetch (all HITs).
    n_new : int
        Assignments seen for the first time.
    rows_added : int
        Rows added to the results CSV (every row when it was rebuilt for new answer fields).
    results_csv, raw_jsonl : Path
    """

    n_hits: int
    n_assignments: int
    n_new: int
    rows_added: int
    results_csv: Path
    raw_jsonl: Path


def results_path(batch: Batch, environment: Environment) -> Path:
    """Where fetched results go: ``results/mturk-<environment label>.csv`` in the batch folder."""
    return batch.results_dir / f"mturk-{environment.label}.csv"


def _jsonable(record: dict) -> dict:
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in record.items()}


def _time(value: str | None) -> str:
    return format_time(datetime.fromisoformat(value)) if value else ""


def _list_assignments(client, hit_id: str) -> list[dict]:
    pages = client.get_paginator("list_assignments_for_hit").paginate(
        HITId=hit_id, AssignmentStatuses=ASSIGNMENT_STATUSES, PaginationConfig={"PageSize": PAGE_SIZE})
    return [assignment for page in pages for assignment in page.get("Assignments", [])]


def _hit_columns(batch: Batch, hit_id: str, listed: dict | None, annotation: str, hit_type_id: str | None) -> dict:
    """The HIT's columns: from its ListHITs record when MTurk still lists it, else from the manifest."""
    hit, spec = listed or {}, batch.hit
    return {
        "HITId": hit_id, "HITTypeId": hit.get("HITTypeId", hit_type_id), "Title": hit.get("Title", spec.title),
        "Description": hit.get("Description", spec.description), "Keywords": hit.get("Keywords", spec.keywords),
        "Reward": format_reward(hit.get("Reward", spec.reward)), "CreationTime": format_time(hit.get("CreationTime")),
        "MaxAssignments": hit.get("MaxAssignments", spec.max_assignments), "RequesterAnnotation": annotation,
        "AssignmentDurationInSeconds": hit.get("AssignmentDurationInSeconds", spec.assignment_duration_seconds),
        "AutoApprovalDelayInSeconds": hit.get("AutoApprovalDelayInSeconds", spec.auto_approval_delay_seconds),
        "Expiration": format_time(hit.get("Expiration")), "LifetimeInSeconds": spec.lifetime_seconds,
    }


def _assignment_row(record: AssignmentRecord, answers: dict) -> dict:
    raw = record.record
    accept, submit = raw.get("AcceptTime"), raw.get("SubmitTime")
    work = int((datetime.fromisoformat(submit) - datetime.fromisoformat(accept)).total_seconds()) \
        if accept and submit else ""
    return {"AssignmentId": record.assignment_id, "WorkerId": record.worker_id, "AssignmentStatus": record.status,
            "AcceptTime": _time(accept), "SubmitTime": _time(submit),
            "AutoApprovalTime": _time(raw.get("AutoApprovalTime")),
            "ApprovalTime": _time(raw.get("ApprovalTime")), "RejectionTime": _time(raw.get("RejectionTime")),
            "RequesterFeedback": raw.get("RequesterFeedback", ""), "WorkTimeInSeconds": work,
            **{f"Answer.{name}": value for name, value in answers.items()}}


def _write_jsonl(path: Path, records: list[AssignmentRecord]) -> None:
    lines = [json.dumps({"TaskId": record.task_id, **record.record}, sort_keys=True) + "\n" for record in records]
    atomic_write_text(path, "".join(lines))


def _csv_header(path: Path) -> list[str] | None:
    if not path.exists():
        return None
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), None)


def _write_csv(path: Path, rows: list[dict], input_fields: list[str], answer_fields: list[str]) -> int:
    """Append the rows; when the CSV differs only by its ``Answer.*`` columns (new answer fields), rebuild
    it whole instead. A CSV of another layout is left alone (``append_results`` raises ``ValueError``)."""
    header, columns = _csv_header(path), results_columns(input_fields, answer_fields)

    def fixed(names):
        return [name for name in names if not name.startswith("Answer.")]

    if header is None or header == columns or fixed(header) != fixed(columns):
        return append_results(path, rows, input_fields=input_fields, answer_fields=answer_fields)
    rebuilt = path.with_name(path.name + ".rebuild")
    rebuilt.unlink(missing_ok=True)
    append_results(rebuilt, rows, input_fields=input_fields, answer_fields=answer_fields)
    os.replace(rebuilt, path)
    return len(rows)


def _refresh_ledger(client, ledger: Ledger, progress: bool) -> int:
    """List the assignments of every HIT in the ledger (deleted ones excepted) and save them; the HIT count."""
    hits = [record for record in ledger.created_hits() if record.deleted_at is None]
    for record in tqdm(hits, desc="fetching assignments", unit="HIT", disable=not progress):
        ledger.save_assignments([
            AssignmentRecord(assignment_id=a["AssignmentId"], hit_id=record.hit_id, task_id=record.task_id,
                             worker_id=a["WorkerId"], status=a["AssignmentStatus"], record=_jsonable(a))
            for a in _list_assignments(client, record.hit_id)])
    return len(hits)


def _result_rows(client, batch: Batch, ledger: Ledger, assignments: list) -> tuple[list[dict], list[str]]:
    """One results row per assignment, and the sorted ``Answer.*`` field names (the manifest's and the seen)."""
    listed = {hit["HITId"]: hit for task_hits in list_batch_hits(client, batch.batch_id).values() for hit in task_hits}
    by_hit = {record.hit_id: record for record in ledger.created_hits()}
    inputs = {task.task_id: task.inputs for task in batch.tasks}
    answer_fields = {key.removeprefix("Answer.") for key in batch.manifest.get("answers") or {}}
    rows = []
    for assignment in assignments:
        answers = parse_answers(assignment.record.get("Answer"))
        answer_fields.update(answers)
        hit = by_hit[assignment.hit_id]
        rows.append({**_hit_columns(batch, hit.hit_id, listed.get(hit.hit_id), hit.annotation, hit.hit_type_id),
                     **_assignment_row(assignment, answers),
                     **{f"Input.{name}": value for name, value in inputs.get(assignment.task_id, {}).items()}})
    return rows, sorted(answer_fields)


def fetch_results(client, batch: Batch, ledger: Ledger, results_csv: str | os.PathLike, *,
                  progress: bool = False) -> FetchReport:
    """Fetch every assignment of the batch's HITs and write the results files.

    Parameters
    ----------
    client : botocore MTurk client
    batch : Batch
    ledger : Ledger
    results_csv : path-like
        The batch-results CSV (see :func:`results_path`); the raw JSONL file goes beside it.
    progress : bool
        Show a tqdm progress bar over HITs.

    Returns
    -------
    FetchReport
    """
    results_csv = Path(results_csv)
    known = {record.assignment_id for record in ledger.assignments()}
    n_hits = _refresh_ledger(client, ledger, progress)
    assignments = ledger.assignments()
    rows, answer_fields = _result_rows(client, batch, ledger, assignments)
    added = _write_csv(results_csv, rows, list(batch.input_fields), answer_fields) if rows else 0
    raw_jsonl = results_csv.with_suffix(".assignments.jsonl")
    _write_jsonl(raw_jsonl, assignments)
    return FetchReport(n_hits=n_hits, n_assignments=len(assignments),
                       n_new=len({a.assignment_id for a in assignments} - known), rows_added=added,
                       results_csv=results_csv, raw_jsonl=raw_jsonl)
