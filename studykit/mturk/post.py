"""Posting a batch: one HIT per task, exactly once, however often the run is killed and restarted.

Three layers make posting idempotent:

1. the **ledger** records an intent before each CreateHITWithHITType and the HIT id after it, each in
   its own transaction, so a finished task is never posted again;
2. each HIT carries a deterministic ``UniqueRequestToken`` (batch id + task id): within MTurk's
   24-hour token memory a repeated create fails with ``AWS.MechanicalTurk.HitAlreadyExists``; the
   HIT it names is recorded once GetHIT confirms its RequesterAnnotation, and when the message names
   none, the HIT is found by its RequesterAnnotation in ListHITs;
3. before creating anything, the account's HITs are listed and those tagged with this batch's
   ``RequesterAnnotation`` are adopted, which covers a lost ledger and tokens older than 24 hours.

A HIT counts as *recovered* only when it existed before the run (adopted from ListHITs, or created
by a run that was killed before recording it); one this run created counts as *created*, even when
its reply was lost and MTurk's ``HitAlreadyExists`` told of it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal

from botocore.exceptions import ClientError

from studykit._progress import progress_bar

from .batch import Batch, HITSpec, Task
from .client import Environment, is_turk_error
from .cost import CostEstimate, account_balance, estimate_cost
from .ledger import Ledger
from .preflight import preflight
from .qualifications import Qualifications
from .reconcile import list_batch_hits, reconcile_ledger

__all__ = ["PostPlan", "PostReport", "PostError", "prepare_post", "hit_type_params", "post_batch"]

log = logging.getLogger(__name__)

HIT_ALREADY_EXISTS = "AWS.MechanicalTurk.HitAlreadyExists"
#: MTurk ids in an error message: upper-case letters and digits, with at least one letter.
_ID_IN_MESSAGE = re.compile(r"\b(?=[A-Z0-9]*[A-Z])[A-Z0-9]{20,64}\b")


class PostError(RuntimeError):
    """Posting cannot safely go on (the ledger and MTurk disagree in a way studykit will not guess at)."""


@dataclass(frozen=True)
class PostPlan:
    """What posting will do, for the researcher to read before any HIT exists.

    Attributes
    ----------
    environment : Environment
    qualifications : Qualifications
    n_tasks : int
    n_to_post : int
        Tasks the ledger does not yet know a HIT for.
    cost : CostEstimate
        For the ``n_to_post`` HITs.
    balance : Decimal
        The account's available balance (GetAccountBalance).
    """

    environment: Environment
    qualifications: Qualifications
    n_tasks: int
    n_to_post: int
    cost: CostEstimate
    balance: Decimal

    @property
    def affordable(self) -> bool:
        return self.balance >= self.cost.total

    def describe(self) -> str:
        """The plan as human-readable lines (the endpoint is ``environment.describe()``)."""
        posted = self.n_tasks - self.n_to_post
        return "\n".join([
            f"tasks: {self.n_tasks} ({posted} already posted, {self.n_to_post} to post)",
            self.cost.describe(),
            f"account balance: ${self.balance:.2f}",
            self.qualifications.describe(self.environment.production),
        ])


@dataclass(frozen=True)
class PostReport:
    """What :func:`post_batch` did: HITs ``created`` by this run, ``recovered`` (HITs that existed before
    this run, now recorded), ``skipped`` (already in the ledger); ``duplicates`` maps task ids to extra
    HIT ids found on MTurk (to expire by hand)."""

    hit_type_id: str
    created: int
    recovered: int
    skipped: int
    duplicates: dict = field(default_factory=dict)


def prepare_post(client, batch: Batch, ledger: Ledger, environment: Environment, qualifications: Qualifications,
                 *, accept_high_fee: bool = False) -> PostPlan:
    """Run the pre-flight checks, estimate the cost and read the balance; create nothing.

    Raises
    ------
    studykit.mturk.preflight.PreflightError
        When the batch is not ready to post.
    """
    preflight(batch, accept_high_fee=accept_high_fee)
    posted = {record.task_id for record in ledger.created_hits()}
    n_to_post = sum(task.task_id not in posted for task in batch.tasks)
    cost = estimate_cost(batch.hit, n_to_post, masters=qualifications.uses_masters(environment.production))
    return PostPlan(environment=environment, qualifications=qualifications, n_tasks=len(batch.tasks),
                    n_to_post=n_to_post, cost=cost, balance=account_balance(client))


def hit_type_params(hit: HITSpec, requirements: list[dict]) -> dict:
    """The CreateHITType parameters for a batch's HIT spec and qualification requirements."""
    params = {"AutoApprovalDelayInSeconds": hit.auto_approval_delay_seconds,
              "AssignmentDurationInSeconds": hit.assignment_duration_seconds, "Reward": hit.reward,
              "Title": hit.title, "Description": hit.description, "QualificationRequirements": requirements}
    if hit.keywords:
        params["Keywords"] = hit.keywords
    return params


def _recover_hit_id(client, error: ClientError, batch: Batch, task: Task) -> str:
    """The existing HIT behind a HitAlreadyExists error: the one its message names, once GetHIT shows
    it carries the task's annotation; else the task's (oldest) HIT in ListHITs, by annotation."""
    annotation = batch.annotation(task)
    message = error.response.get("Error", {}).get("Message", "")
    for candidate in _ID_IN_MESSAGE.findall(message):
        try:
            hit = client.get_hit(HITId=candidate)["HIT"]
        except ClientError:
            continue
        if hit.get("RequesterAnnotation") == annotation:
            return candidate
    log.info("task %s: HitAlreadyExists names no HIT of this task (%r); searching ListHITs", task.task_id, message)
    listed = list_batch_hits(client, batch.batch_id).get(task.task_id)
    if listed:
        return listed[0]["HITId"]
    raise PostError(f"MTurk says the HIT of task {task.task_id} (token {batch.request_token(task)!r}) already "
                    f"exists ({message!r}), but neither the message nor ListHITs shows a HIT tagged "
                    f"{annotation!r}; run `studykit mturk reconcile` and post again") from error


def _post_task(client, batch: Batch, ledger: Ledger, task: Task, hit_type_id: str) -> bool:
    """Create the task's HIT (intent, call, result); True if it was new, False if it already existed."""
    token, annotation = batch.request_token(task), batch.annotation(task)
    ledger.record_intent(task.task_id, task.index, token, annotation, hit_type_id)
    try:
        response = client.create_hit_with_hit_type(
            HITTypeId=hit_type_id, MaxAssignments=batch.hit.max_assignments,
            LifetimeInSeconds=batch.hit.lifetime_seconds, Question=batch.question_path(task).read_text("utf-8"),
            RequesterAnnotation=annotation, UniqueRequestToken=token)
        hit_id, new = response["HIT"]["HITId"], True
    except ClientError as error:
        if not is_turk_error(error, HIT_ALREADY_EXISTS):
            raise
        hit_id, new = _recover_hit_id(client, error, batch, task), False
        log.info("task %s: HIT %s already existed (token %s)", task.task_id, hit_id, token)
    ledger.record_created(task.task_id, task.index, token, annotation, hit_type_id, hit_id)
    return new


def _post_remaining(client, batch: Batch, ledger: Ledger, hit_type_id: str, progress: bool) -> tuple[int, int]:
    """Post every task the ledger has no HIT for; (created, recovered). A HIT MTurk already had counts
    as recovered only when an earlier run recorded the intent (else this run's lost reply made it)."""
    records = ledger.hits()
    posted = {record.task_id for record in records if record.hit_id is not None}
    earlier_intents = {record.task_id for record in records if record.hit_id is None}
    created = recovered = 0
    todo = [task for task in batch.tasks if task.task_id not in posted]
    for task in progress_bar(todo, desc="posting HITs", unit="HIT", disable=not progress):
        if _post_task(client, batch, ledger, task, hit_type_id) or task.task_id not in earlier_intents:
            created += 1
        else:
            recovered += 1
    return created, recovered


def post_batch(client, batch: Batch, ledger: Ledger, plan: PostPlan, *, progress: bool = False) -> PostReport:
    """Create the batch's HIT type and one HIT per task not yet posted.

    Parameters
    ----------
    client : botocore MTurk client
        Built for ``plan.environment`` (see :func:`~studykit.mturk.client.make_client`).
    batch : Batch
    ledger : Ledger
        The batch's ledger for this endpoint.
    plan : PostPlan
        From :func:`prepare_post` (pre-flight checked, shown to the researcher).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    PostReport

    Notes
    -----
    Safe to run again after any failure or kill: tasks already posted are skipped, HITs that exist
    on MTurk but not in the ledger are adopted, and no task ever gets a second HIT. The ledger
    records this folder as the HITs' origin (see :attr:`Ledger.foreign_origin`).
    """
    requirements = plan.qualifications.requirements(plan.environment.production)
    hit_type_id = client.create_hit_type(**hit_type_params(batch.hit, requirements))["HITTypeId"]
    ledger.set("hit_type_id", hit_type_id)
    ledger.set("fee_rate", str(plan.cost.fee_rate))
    if ledger.origin is None:
        ledger.claim()
    posted = {record.task_id for record in ledger.created_hits()}
    skipped = sum(task.task_id in posted for task in batch.tasks)
    recovered, created, duplicates = 0, 0, {}
    if skipped < len(batch.tasks):
        reconciled = reconcile_ledger(client, batch, ledger)
        recovered, duplicates = reconciled.added, reconciled.duplicates
        created, recovered_now = _post_remaining(client, batch, ledger, hit_type_id, progress)
        recovered += recovered_now
    log.info("batch %s: %d HITs created, %d recovered, %d already posted", batch.batch_id, created, recovered, skipped)
    return PostReport(hit_type_id=hit_type_id, created=created, recovered=recovered, skipped=skipped,
                      duplicates=duplicates)
