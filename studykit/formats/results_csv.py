"""The MTurk Requester website's batch-results CSV layout: writing it, and reading its raw rows.

Every source of results in studykit (API fetch, local preview, simulated annotators) writes this one
layout, so :mod:`studykit.analysis` reads them all like a file downloaded from the Requester website:
every cell quoted, CRLF line endings, times like ``Mon Nov 04 22:15:19 PST 2019`` (US Pacific time, as
the website prints them), rewards like ``$0.04``, approval rates like ``100% (36/36)``, ``Input.*``
columns then ``Answer.*`` columns, then the ``Approve`` and ``Reject`` columns left empty.

This module imports only the standard library and :mod:`studykit._io`; ``studykit.mturk``,
``studykit.preview`` and ``studykit.analysis`` (its reader, :mod:`studykit.analysis.load`) use it.
"""

from __future__ import annotations

import csv
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from studykit import _io

__all__ = [
    "HIT_COLUMNS", "ASSIGNMENT_COLUMNS", "TRAILING_COLUMNS",
    "format_time", "format_reward", "format_approval_rate", "results_columns", "append_results", "read_rows",
]

HIT_COLUMNS: tuple[str, ...] = (
    "HITId", "HITTypeId", "Title", "Description", "Keywords", "Reward", "CreationTime", "MaxAssignments",
    "RequesterAnnotation", "AssignmentDurationInSeconds", "AutoApprovalDelayInSeconds", "Expiration",
    "NumberOfSimilarHITs", "LifetimeInSeconds",
)
ASSIGNMENT_COLUMNS: tuple[str, ...] = (
    "AssignmentId", "WorkerId", "AssignmentStatus", "AcceptTime", "SubmitTime", "AutoApprovalTime",
    "ApprovalTime", "RejectionTime", "RequesterFeedback", "WorkTimeInSeconds", "LifetimeApprovalRate",
    "Last30DaysApprovalRate", "Last7DaysApprovalRate",
)
TRAILING_COLUMNS: tuple[str, ...] = ("Approve", "Reject")

_PACIFIC = ZoneInfo("America/Los_Angeles")


def format_time(when: datetime | None) -> str:
    """``Mon Nov 04 22:15:19 PST 2019`` (US Pacific time); ``""`` for None. Naive datetimes are UTC."""
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    local = when.astimezone(_PACIFIC)
    return local.strftime("%a %b %d %H:%M:%S ") + local.tzname() + local.strftime(" %Y")


def format_reward(amount: str | float) -> str:
    """``"0.04"`` or ``0.04`` -> ``"$0.04"``."""
    return f"${float(amount):.2f}"


def format_approval_rate(approved: int, total: int) -> str:
    """``format_approval_rate(36, 36) == "100% (36/36)"``; ``"0% (0/0)"`` for a new worker."""
    percent = round(100 * approved / total) if total else 0
    return f"{percent}% ({approved}/{total})"


def results_columns(input_fields: Sequence[str], answer_fields: Sequence[str]) -> list[str]:
    """The header for the given ``Input.*`` and ``Answer.*`` field names (without their prefixes)."""
    return ([*HIT_COLUMNS, *ASSIGNMENT_COLUMNS] + [f"Input.{f}" for f in input_fields]
            + [f"Answer.{f}" for f in answer_fields] + list(TRAILING_COLUMNS))


def append_results(path: str | os.PathLike, rows: Iterable[Mapping[str, object]], *,
                   input_fields: Sequence[str], answer_fields: Sequence[str]) -> int:
    """Add assignment rows to a batch-results CSV, skipping assignments it already holds.

    Parameters
    ----------
    path : path-like
        The CSV; created when absent. When it exists its header must equal the one these fields give.
    rows : iterable of mappings
        One per assignment, keyed by column name (``"HITId"``, ``"Input.task_id"``,
        ``"Answer.choice"``...). Missing columns are written empty; unknown keys raise ``ValueError``.
    input_fields, answer_fields : sequences of str
        Field names without their ``Input.``/``Answer.`` prefixes, in column order.

    Returns
    -------
    int
        The number of rows added (rows whose ``AssignmentId`` was already in the file are skipped,
        so a re-run of a fetch duplicates nothing).

    The file is rewritten through a temporary file and an atomic rename: an interrupted call leaves
    the previous file whole.
    """
    path = Path(path)
    columns = results_columns(input_fields, answer_fields)
    existing: list[list[str]] = []
    if path.exists():
        header, existing = read_rows(path)
        if header is not None and header != columns:
            raise ValueError(f"{path}: its columns differ from this batch's results columns "
                             f"({len(header)} vs {len(columns)}); write to a new file")
    seen = {row[columns.index("AssignmentId")] for row in existing if len(row) > columns.index("AssignmentId")}
    known = set(columns)
    added: list[list[str]] = []
    for row in rows:
        unknown = set(row) - known
        if unknown:
            raise ValueError(f"{path}: unknown results column(s) {sorted(unknown)}")
        assignment = str(row.get("AssignmentId", ""))
        if not assignment:
            raise ValueError(f"{path}: a results row has no AssignmentId")
        if assignment in seen:
            continue
        seen.add(assignment)
        added.append(["" if row.get(c) is None else str(row.get(c)) for c in columns])
    if not added and path.exists():
        return 0
    _io.write_csv(path, [*existing, *added], header=columns, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    return len(added)


def read_rows(path: str | os.PathLike) -> tuple[list[str] | None, list[list[str]]]:
    """The header (None for an empty file) and the rows of a batch-results CSV, every cell as text.

    A byte-order mark is dropped; no cell is interpreted (:func:`studykit.analysis.load.read_results_csv`
    parses times, rewards and answers).
    """
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        return header, list(reader)
