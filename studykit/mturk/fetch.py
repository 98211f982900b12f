"""Fetching submitted work: every assignment of every HIT in the ledger, into the ledger and two files.

For each HIT the ledger knows (deleted ones excepted), ListAssignmentsForHIT is paged through
(Submitted, Approved and Rejected work; accepted-but-unsubmitted work is invisible to the API). Each
assignment's raw record, Answer XML included, is kept in the ledger; then

- ``results/mturk-<environment>.csv`` gets one row per assignment in the Requester website's
  batch-results layout (``Input.*`` from ``tasks.csv``, ``Answer.*`` parsed from the Answer XML),
  appended: a re-run adds only new assignments;
- ``results/mturk-<environment>.assignments.jsonl`` is rewritten with every raw record and its
  current status.

A HIT MTurk says does not exist (deleted outside studykit, or a wrong id in the ledger) does not stop
the fetch: it is named in the report, stamped ``missing_at`` in the ledger and skipped by later
fetches (``reconcile`` looks for the task's HIT again by its RequesterAnnotation). Other HITs'
assignments are saved and written as usual. Results files get ordinary permissions (0666 less the
umask), like any file the user creates.

A row is written when its assignment is first fetched; later status changes (approval, rejection)
are in the ledger and the JSONL file, and in the CSV only once it is rebuilt, which happens when new
answer fields appear (or when the CSV is deleted and the fetch run again).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from botocore.exceptions import ClientError

from studykit._io import write_text as atomic_write_text
from studykit._progress import progress_bar
from studykit.formats.results_csv import append_results, format_reward, format_time, results_columns

from .answers import parse_answers
from .batch import Batch
from .client import Environment, describe_error, is_turk_error
from .ledger import AssignmentRecord, Ledger
from .reconcile import list_batch_hits

__all__ = ["FetchReport", "results_path", "fetch_results"]

ASSIGNMENT_STATUSES = ["Submitted", "Approved", "Rejected"]
PAGE_SIZE = 100
HIT_DOES_NOT_EXIST = "AWS.MechanicalTurk.HITDoesNotExist"


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
    missing : dict of str to str
        HIT id -> why, for HITs MTurk says do not exist (now stamped ``missing_at`` in the ledger).
    failed : dict of str to str
        HIT id -> why, for HITs whose assignments could not be listed for another reason.
    n_skipped_missing : int
        HITs recorded missing by an earlier fetch, not asked for again.
    """

    n_hits: int
    n_assignments: int
    n_new: int
    rows_added: int
    results_csv: Path
    raw_jsonl: Path
    missing: dict = field(default_factory=dict)
    failed: dict = field(default_factory=dict)
    n_skipped_missing: int = 0

    @property
    def complete(self) -> bool:
        """Whether every HIT asked for was fetched."""
        return not self.missing and not self.failed


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


def _normal_permissions(path: Path) -> None:
    """Give a file written through a private temporary file (0600) the mode a new file would get."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _write_jsonl(path: Path, records: list[AssignmentRecord]) -> None:
    lines = [json.dumps({"TaskId": record.task_id, **record.record}, sort_keys=True) + "\n" for record in records]
    atomic_write_text(path, "".join(lines))
    _normal_permissions(path)


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
        added = append_results(path, rows, input_fields=input_fields, answer_fields=answer_fields)
    else:
        rebuilt = path.with_name(path.name + ".rebuild")
        rebuilt.unlink(missing_ok=True)
        append_results(rebuilt, rows, input_fields=input_fields, answer_fields=answer_fields)
        os.replace(rebuilt, path)
        added = len(rows)
    _normal_permissions(path)
    return added


def _refresh_ledger(client, ledger: Ledger, progress: bool) -> tuple[int, dict, dict, int]:
    """List and save the assignments of every HIT in the ledger, deleted and missing ones excepted.

    Returns the number of HITs listed, the missing HITs and the failed ones (HIT id -> why), and
    the number skipped as recorded missing earlier. A failure on one HIT does not stop the others.
    """
    live = [record for record in ledger.created_hits() if record.deleted_at is None]
    hits = [record for record in live if record.missing_at is None]
    missing, failed = {}, {}
    for record in progress_bar(hits, desc="fetching assignments", unit="HIT", disable=not progress):
        try:
            listed = _list_assignments(client, record.hit_id)
        except ClientError as error:
            reason = f"task {record.task_id}: {describe_error(error)}"
            if is_turk_error(error, HIT_DOES_NOT_EXIST):
                ledger.mark_hit(record.hit_id, "missing_at")
                missing[record.hit_id] = reason
            else:
                failed[record.hit_id] = reason
            continue
        ledger.save_assignments([
            AssignmentRecord(assignment_id=a["AssignmentId"], hit_id=record.hit_id, task_id=record.task_id,
                             worker_id=a["WorkerId"], status=a["AssignmentStatus"], record=_jsonable(a))
            for a in listed])
    return len(hits) - len(missing) - len(failed), missing, failed, len(live) - len(hits)


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
        Missing and failed HITs are reported there, not raised: the other HITs are fetched and
        written all the same.
    """
    results_csv = Path(results_csv)
    known = {record.assignment_id for record in ledger.assignments()}
    n_hits, missing, failed, n_skipped = _refresh_ledger(client, ledger, progress)
    assignments = ledger.assignments()
    rows, answer_fields = _result_rows(client, batch, ledger, assignments)
    added = _write_csv(results_csv, rows, list(batch.input_fields), answer_fields) if rows else 0
    raw_jsonl = results_csv.with_suffix(".assignments.jsonl")
    _write_jsonl(raw_jsonl, assignments)
    return FetchReport(n_hits=n_hits, n_assignments=len(assignments),
                       n_new=len({a.assignment_id for a in assignments} - known), rows_added=added,
                       results_csv=results_csv, raw_jsonl=raw_jsonl, missing=missing, failed=failed,
                       n_skipped_missing=n_skipped)
