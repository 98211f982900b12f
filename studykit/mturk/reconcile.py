"""Finding a batch's HITs on MTurk by their RequesterAnnotation, and rebuilding the ledger from them.

ListHITs returns every HIT of the account that is not deleted, with the ``RequesterAnnotation``
studykit tags each HIT with (``studykit:<batch_id>:<task_id>``). That tag, not the ledger, is the
ground truth: posting consults it before creating anything, and ``reconcile`` rebuilds a lost ledger
from it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .batch import Batch, parse_annotation
from .ledger import Ledger

__all__ = ["ReconcileReport", "list_batch_hits", "reconcile_ledger"]

log = logging.getLogger(__name__)
PAGE_SIZE = 100


def list_batch_hits(client, batch_id: str) -> dict[str, list[dict]]:
    """The account's HITs tagged with ``batch_id``, by task id (oldest first).

    Parameters
    ----------
    client : botocore MTurk client
    batch_id : str

    Returns
    -------
    dict of str to list of dict
        ``task_id`` -> the ListHITs records of its HITs; more than one means duplicates.
    """
    found: dict[str, list[dict]] = {}
    for page in client.get_paginator("list_hits").paginate(PaginationConfig={"PageSize": PAGE_SIZE}):
        for hit in page.get("HITs", []):
            tag = parse_annotation(hit.get("RequesterAnnotation"))
            if tag is not None and tag[0] == batch_id:
                found.setdefault(tag[1], []).append(hit)
    for hits in found.values():
        hits.sort(key=lambda hit: hit["CreationTime"])
    return found


@dataclass(frozen=True)
class ReconcileReport:
    """What :func:`reconcile_ledger` found.

    Attributes
    ----------
    listed : int
        Tasks of the batch with a HIT on MTurk.
    added : int
        Of those, tasks the ledger did not know a HIT for (now recorded).
    duplicates : dict of str to list of str
        ``task_id`` -> HIT ids beyond the first (oldest), for tasks with more than one HIT.
    """

    listed: int
    added: int
    duplicates: dict = field(default_factory=dict)


def reconcile_ledger(client, batch: Batch, ledger: Ledger) -> ReconcileReport:
    """Record in the ledger every HIT of ``batch`` that ListHITs shows and the ledger lacks.

    Tasks whose ledger record already has a HIT id keep it, unless MTurk said that HIT does not exist
    (``missing_at``, recorded by fetch): then the HIT listed for the task replaces it. A task with
    several HITs (possible only when the ledger was lost *and* the 24-hour token memory had passed)
    keeps the oldest; the others are reported, to be expired by hand.

    Returns
    -------
    ReconcileReport
    """
    listed = list_batch_hits(client, batch.batch_id)
    known = {record.task_id for record in ledger.created_hits() if record.missing_at is None}
    added = 0
    for task in batch.tasks:
        hits = listed.get(task.task_id)
        if not hits or task.task_id in known:
            continue
        log.info("task %s: HIT %s found by its RequesterAnnotation", task.task_id, hits[0]["HITId"])
        ledger.record_created(task.task_id, task.index, batch.request_token(task), batch.annotation(task),
                              hits[0]["HITTypeId"], hits[0]["HITId"])
        added += 1
    duplicates = {task_id: [hit["HITId"] for hit in hits[1:]] for task_id, hits in listed.items() if len(hits) > 1}
    if duplicates:
        log.warning("%d task(s) of batch %s have more than one HIT on MTurk", len(duplicates), batch.batch_id)
    return ReconcileReport(listed=len(listed), added=added, duplicates=duplicates)
