"""A posted batch over its life: where it stands, what it has cost, expiring it and deleting it.

- :func:`batch_status` counts HITs by MTurk's HITStatus (one ListHITs pass), assignments by status
  (as of the last fetch and review) and the money spent: approved assignments and paid bonuses,
  MTurk's fee included.
- :func:`expire_batch` makes every HIT unavailable at once (UpdateExpirationForHIT with a past time);
  workers who already accepted one may still submit until their assignment duration ends.
- :func:`delete_batch` deletes HITs, which MTurk allows only once a HIT is Reviewable with every
  assignment approved or rejected; the others are reported, not forced.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from botocore.exceptions import ClientError

from studykit._progress import progress_bar

from .batch import Batch
from .client import describe_error
from .cost import bonus_cost, fee, fee_rate
from .ledger import Ledger
from .reconcile import list_batch_hits
from .review import ActionReport

__all__ = ["BatchStatus", "assignment_cost", "batch_status", "expire_batch", "delete_batch"]

#: A time in the past: UpdateExpirationForHIT with it expires a HIT immediately.
EXPIRED = datetime(2015, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class BatchStatus:
    """Where a batch stands on one endpoint.

    Attributes
    ----------
    n_tasks, n_posted : int
        Tasks in the batch, and tasks with a HIT in the ledger.
    hits : dict of str to int
        HITs by HITStatus (Assignable, Unassignable, Reviewable, Reviewing), plus ``Deleted`` (by
        studykit) and ``Unlisted`` (in the ledger but no longer listed by MTurk).
    assignments : dict of str to int
        ``Available`` and ``Pending`` (from MTurk's HIT counters), and fetched assignments by
        AssignmentStatus (``Submitted``, ``Approved``, ``Rejected``).
    spent : Decimal
        Approved assignments and paid bonuses, fees included.
    owed : Decimal
        What the Submitted assignments will cost once approved (or auto-approved).
    """

    n_tasks: int
    n_posted: int
    hits: dict
    assignments: dict
    spent: Decimal
    owed: Decimal

    def describe(self) -> str:
        """The status as a few human-readable lines."""
        def counts(mapping):
            return ", ".join(f"{name} {count}" for name, count in mapping.items() if count) or "none"
        return (f"HITs: {self.n_posted} of {self.n_tasks} tasks posted; {counts(self.hits)}\n"
                f"assignments: {counts(self.assignments)}\n"
                f"spent so far: ${self.spent:.2f} (fees included); owed for Submitted work: ${self.owed:.2f}")


def assignment_cost(batch: Batch, ledger: Ledger) -> Decimal:
    """What one approved assignment costs: the reward plus MTurk's fee at the rate recorded when posting."""
    rate = Decimal(ledger.get("fee_rate") or fee_rate(batch.hit.max_assignments))
    return batch.hit.reward_amount + fee(batch.hit.reward_amount, rate)


def batch_status(client, batch: Batch, ledger: Ledger) -> BatchStatus:
    """Count the batch's HITs and assignments by state, and the money spent.

    Assignment statuses are those of the last fetch (and of reviews since); run ``fetch`` first for
    current numbers.
    """
    listed = {hit["HITId"]: hit for hits in list_batch_hits(client, batch.batch_id).values() for hit in hits}
    hits, assignments = Counter(), Counter()
    for record in ledger.created_hits():
        hit = listed.get(record.hit_id)
        hits["Deleted" if record.deleted_at else hit["HITStatus"] if hit else "Unlisted"] += 1
        if hit is not None:
            assignments["Available"] += hit.get("NumberOfAssignmentsAvailable", 0)
            assignments["Pending"] += hit.get("NumberOfAssignmentsPending", 0)
    assignments.update(record.status for record in ledger.assignments())
    per_assignment = assignment_cost(batch, ledger)
    bonuses = sum((bonus_cost(Decimal(a.amount)) for a in ledger.actions("bonus") if a.state == "done"), Decimal(0))
    return BatchStatus(n_tasks=len(batch.tasks), n_posted=len(ledger.created_hits()), hits=dict(hits),
                       assignments=dict(assignments), spent=assignments["Approved"] * per_assignment + bonuses,
                       owed=assignments["Submitted"] * per_assignment)


def _for_each_hit(ledger: Ledger, call, column: str, *, skip, desc: str, progress: bool) -> ActionReport:
    """``call(hit_id)`` for each HIT in the ledger not ``skip``-ped; stamps ``column`` on success."""
    done = skipped = 0
    failed = {}
    for record in progress_bar(ledger.created_hits(), desc=desc, unit="HIT", disable=not progress):
        if skip(record):
            skipped += 1
            continue
        try:
            call(record.hit_id)
        except ClientError as error:
            failed[record.hit_id] = describe_error(error)
            continue
        ledger.mark_hit(record.hit_id, column)
        done += 1
    return ActionReport(done=done, skipped=skipped, failed=failed)


def expire_batch(client, ledger: Ledger, *, progress: bool = False) -> ActionReport:
    """Expire every HIT of the batch now (HITs already expired or deleted through studykit, and HITs a
    fetch found missing on MTurk, are skipped).

    Returns
    -------
    ActionReport
        Failures by HIT id.
    """
    return _for_each_hit(ledger, lambda hit_id: client.update_expiration_for_hit(HITId=hit_id, ExpireAt=EXPIRED),
                         "expired_at", skip=lambda r: r.expired_at or r.deleted_at or r.missing_at, desc="expiring HITs",
                         progress=progress)


def delete_batch(client, ledger: Ledger, *, progress: bool = False) -> ActionReport:
    """Delete every HIT of the batch that MTurk lets go (Reviewable, every assignment reviewed); HITs
    already deleted, or found missing by a fetch, are skipped.

    Deleted HITs disappear from ListHITs and their assignments can no longer be fetched or their
    rejections overturned: fetch and review first.

    Returns
    -------
    ActionReport
        Failures by HIT id, with MTurk's reason.
    """
    return _for_each_hit(ledger, lambda hit_id: client.delete_hit(HITId=hit_id), "deleted_at",
                         skip=lambda r: r.deleted_at or r.missing_at, desc="deleting HITs", progress=progress)
