"""Reviewing work: approve, reject, bonus and notify, each recorded in the ledger and safe to repeat.

Every action writes an intent to the ledger, calls MTurk, then writes ``done`` or ``failed``. A re-run
skips what is done. When a call fails (or a run was killed before its result was written), MTurk is
asked what actually happened — GetAssignment for approvals and rejections, ListBonusPayments for
bonuses — so an assignment is never approved twice, nor a bonus paid twice: each bonus also carries its
own ``UniqueRequestToken``, and ListBonusPayments is consulted before paying when the ledger has no
record (a lost ledger, or a token older than MTurk's 24-hour memory).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Iterable

from botocore.exceptions import ClientError

from studykit._progress import progress_bar

from studykit.formats.hit import REWARD_PATTERN

from .answers import parse_answers
from .client import describe_error
from .ledger import AssignmentRecord, Ledger

__all__ = [
    "Decision", "Bonus", "ActionReport", "approve_all", "decide", "decisions_from_csv", "review_assignments",
    "bonuses_from_csv", "bonus_token", "pay_bonuses", "notify_workers",
]

MAX_FEEDBACK_CHARS = 1024
MAX_SUBJECT_CHARS = 200
MAX_MESSAGE_CHARS = 4096
NOTIFY_CHUNK = 100


@dataclass(frozen=True)
class Decision:
    """Approve or reject one assignment; a rejection needs ``feedback`` (MTurk shows it to the worker)."""

    assignment_id: str
    approve: bool
    feedback: str = ""

    def __post_init__(self):
        if not self.approve and not self.feedback.strip():
            raise ValueError(f"rejecting assignment {self.assignment_id} needs feedback for the worker")
        if len(self.feedback) > MAX_FEEDBACK_CHARS:
            raise ValueError(f"feedback for {self.assignment_id} is longer than {MAX_FEEDBACK_CHARS} characters")

    @property
    def kind(self) -> str:
        return "approve" if self.approve else "reject"


@dataclass(frozen=True)
class Bonus:
    """A bonus for one assignment: ``amount`` in USD like ``"0.50"``, and the ``reason`` shown to the worker."""

    assignment_id: str
    amount: str
    reason: str

    def __post_init__(self):
        if not isinstance(self.amount, str) or not REWARD_PATTERN.match(self.amount) or Decimal(self.amount) <= 0:
            raise ValueError(f'bonus amount for {self.assignment_id} must be like "0.50", got {self.amount!r}')
        if not self.reason.strip():
            raise ValueError(f"bonus for {self.assignment_id} needs a reason for the worker")


@dataclass(frozen=True)
class ActionReport:
    """Outcome of a review or bonus run: ``done`` now, ``skipped`` (done before), ``failed`` (id -> why)."""

    done: int
    skipped: int
    failed: dict = field(default_factory=dict)


def approve_all(assignment: AssignmentRecord, answers: dict) -> Decision:
    """The rule that approves every submitted assignment."""
    return Decision(assignment.assignment_id, approve=True)


def decide(assignments: Iterable[AssignmentRecord],
           rule: Callable[[AssignmentRecord, dict], Decision | None]) -> list[Decision]:
    """Apply ``rule(assignment, answers)`` to every Submitted assignment; None means no decision yet."""
    decisions = []
    for assignment in assignments:
        if assignment.status == "Submitted":
            decision = rule(assignment, parse_answers(assignment.record.get("Answer")))
            if decision is not None:
                decisions.append(decision)
    return decisions


def decisions_from_csv(path: str | os.PathLike) -> list[Decision]:
    """Decisions from a results CSV marked up as on the Requester website: ``x`` in ``Approve``, or the
    feedback for the worker in ``Reject``; rows with neither are left alone.

    Raises
    ------
    ValueError
        For a row marked both ways, or a CSV without AssignmentId/Approve/Reject columns.
    """
    decisions = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"AssignmentId", "Approve", "Reject"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
        for row in reader:
            approve, reject = (row.get("Approve") or "").strip(), (row.get("Reject") or "").strip()
            if approve and reject:
                raise ValueError(f"{path}: assignment {row['AssignmentId']} is marked both Approve and Reject")
            if approve or reject:
                decisions.append(Decision(row["AssignmentId"], approve=bool(approve), feedback=reject))
    return decisions


def _assignment_status(client, assignment_id: str) -> str | None:
    try:
        return client.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"]
    except ClientError:
        return None


def _apply_decision(client, ledger: Ledger, decision: Decision, worker_id: str) -> str | None:
    """Approve or reject; None on success, else why not. The ledger records intent and outcome."""
    wanted = "Approved" if decision.approve else "Rejected"
    ledger.record_action(decision.kind, decision.assignment_id, worker_id, state="intent", message=decision.feedback)
    try:
        if decision.approve:
            client.approve_assignment(AssignmentId=decision.assignment_id,
                                      **({"RequesterFeedback": decision.feedback} if decision.feedback else {}))
        else:
            client.reject_assignment(AssignmentId=decision.assignment_id, RequesterFeedback=decision.feedback)
    except ClientError as error:
        status = _assignment_status(client, decision.assignment_id)
        if status != wanted:
            reason = f"{describe_error(error)} (the assignment is {status})"
            ledger.record_action(decision.kind, decision.assignment_id, worker_id, state="failed",
                                 message=decision.feedback, error=reason)
            return reason
    ledger.record_action(decision.kind, decision.assignment_id, worker_id, state="done", message=decision.feedback)
    ledger.set_assignment_status(decision.assignment_id, wanted)
    return None


def _reviewed(ledger: Ledger, assignment_id: str) -> str | None:
    """``"approve"`` or ``"reject"`` when that action is done in the ledger, else None."""
    for kind in ("approve", "reject"):
        record = ledger.action(kind, assignment_id)
        if record is not None and record.state == "done":
            return kind
    return None


def review_assignments(client, ledger: Ledger, decisions: Iterable[Decision], *,
                       progress: bool = False) -> ActionReport:
    """Apply approve/reject decisions to fetched assignments.

    Assignments already approved or rejected through studykit are skipped; an assignment MTurk
    already shows in the wanted state (an earlier run killed before writing its result) is recorded
    as done; one in another state (e.g. auto-approved before a rejection) is reported as failed.

    Returns
    -------
    ActionReport
    """
    workers = {a.assignment_id: a.worker_id for a in ledger.assignments()}
    done = skipped = 0
    failed = {}
    for decision in progress_bar(list(decisions), desc="reviewing", unit="assignment", disable=not progress):
        if decision.assignment_id not in workers:
            failed[decision.assignment_id] = "not in the ledger (run fetch first)"
        elif (previous := _reviewed(ledger, decision.assignment_id)) == decision.kind:
            skipped += 1
        elif previous is not None:
            failed[decision.assignment_id] = f"already {previous.rstrip('e')}ed through studykit"
        elif (reason := _apply_decision(client, ledger, decision, workers[decision.assignment_id])) is None:
            done += 1
        else:
            failed[decision.assignment_id] = reason
    return ActionReport(done=done, skipped=skipped, failed=failed)


def bonuses_from_csv(path: str | os.PathLike, *, default_reason: str | None = None) -> list[Bonus]:
    """Bonuses from a CSV with columns ``AssignmentId``, ``BonusAmount`` and ``Reason`` (the reason
    may be omitted when ``default_reason`` is given); rows with an empty amount are skipped."""
    bonuses = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            amount = (row.get("BonusAmount") or "").strip().lstrip("$")
            if amount:
                reason = (row.get("Reason") or "").strip() or default_reason or ""
                bonuses.append(Bonus(row["AssignmentId"], amount, reason))
    return bonuses


def bonus_token(assignment_id: str) -> str:
    """The bonus's ``UniqueRequestToken``: one studykit bonus per assignment."""
    return f"studykit-bonus-{assignment_id}"


def _paid(client, assignment_id: str) -> str | None:
    """The amount already paid as a bonus on this assignment, per ListBonusPayments; None if none."""
    payments = client.list_bonus_payments(AssignmentId=assignment_id, MaxResults=100).get("BonusPayments", [])
    return payments[0]["BonusAmount"] if payments else None


def _pay(client, ledger: Ledger, bonus: Bonus, worker_id: str) -> str | None:
    """Pay one bonus; None on success, else why not."""
    fields = dict(amount=bonus.amount, message=bonus.reason, token=bonus_token(bonus.assignment_id))
    ledger.record_action("bonus", bonus.assignment_id, worker_id, state="intent", **fields)
    try:
        client.send_bonus(WorkerId=worker_id, BonusAmount=bonus.amount, AssignmentId=bonus.assignment_id,
                          Reason=bonus.reason, UniqueRequestToken=fields["token"])
    except ClientError as error:
        if _paid(client, bonus.assignment_id) is None:
            reason = describe_error(error)
            ledger.record_action("bonus", bonus.assignment_id, worker_id, state="failed", error=reason, **fields)
            return reason
    ledger.record_action("bonus", bonus.assignment_id, worker_id, state="done", **fields)
    return None


def pay_bonuses(client, ledger: Ledger, bonuses: Iterable[Bonus], *, progress: bool = False) -> ActionReport:
    """Pay bonuses on fetched assignments, at most one per assignment.

    An assignment with a bonus done in the ledger, or already listed by ListBonusPayments, is skipped
    (and the ledger brought up to date).

    Returns
    -------
    ActionReport
    """
    workers = {a.assignment_id: a.worker_id for a in ledger.assignments()}
    done = skipped = 0
    failed = {}
    for bonus in progress_bar(list(bonuses), desc="paying bonuses", unit="bonus", disable=not progress):
        worker_id = workers.get(bonus.assignment_id)
        record = ledger.action("bonus", bonus.assignment_id)
        if worker_id is None:
            failed[bonus.assignment_id] = "not in the ledger (run fetch first)"
        elif record is not None and record.state == "done":
            skipped += 1
        elif (paid := _paid(client, bonus.assignment_id)) is not None:
            ledger.record_action("bonus", bonus.assignment_id, worker_id, state="done", amount=paid,
                                 message=bonus.reason, token=bonus_token(bonus.assignment_id))
            skipped += 1
        elif (reason := _pay(client, ledger, bonus, worker_id)) is None:
            done += 1
        else:
            failed[bonus.assignment_id] = reason
    return ActionReport(done=done, skipped=skipped, failed=failed)


def notify_workers(client, worker_ids: Iterable[str], subject: str, message: str) -> dict[str, str]:
    """Email workers through NotifyWorkers, 100 per call (MTurk's limit).

    Only workers whose work you approved or rejected can be reached.

    Returns
    -------
    dict of str to str
        WorkerId -> MTurk's failure message, for the workers not notified.
    """
    if not subject.strip() or len(subject) > MAX_SUBJECT_CHARS:
        raise ValueError(f"subject must be 1 to {MAX_SUBJECT_CHARS} characters, got {len(subject)}")
    if not message.strip() or len(message) > MAX_MESSAGE_CHARS:
        raise ValueError(f"message must be 1 to {MAX_MESSAGE_CHARS} characters, got {len(message)}")
    workers = list(dict.fromkeys(worker_ids))
    failures = {}
    for start in range(0, len(workers), NOTIFY_CHUNK):
        response = client.notify_workers(Subject=subject, MessageText=message,
                                         WorkerIds=workers[start:start + NOTIFY_CHUNK])
        for status in response.get("NotifyWorkersFailureStatuses", []):
            failures[status["WorkerId"]] = status.get("NotifyWorkersFailureMessage", "")
    return failures
