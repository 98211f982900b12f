"""Amazon Mechanical Turk: post a batch folder, keep a ledger, fetch results, review, host images.

A batch folder (``docs/batch-folder.md``) goes to MTurk and comes back as a batch-results CSV::

    environment = Environment()                       # the sandbox; Environment(production=True) for real
    client, batch = make_client(environment), load_batch("batch/")
    with Ledger(batch.directory, environment.ledger_key) as ledger:
        plan = prepare_post(client, batch, ledger, environment, Qualifications())
        print(plan.describe())                        # endpoint, cost with MTurk's fee, balance
        post_batch(client, batch, ledger, plan, progress=True)
        ...                                           # workers work
        fetch_results(client, batch, ledger, results_path(batch, environment))

Posting is idempotent (ledger + ``UniqueRequestToken`` + ``RequesterAnnotation``), so a run can be
killed and restarted at any point. :mod:`studykit.mturk.local` serves the same protocol
locally for tests and the demo. ``docs/mturk.md`` walks through the sandbox with the CLI.
"""

from .batch import Batch, HITSpec, Task, load_batch
from .client import PRODUCTION_ENDPOINT, SANDBOX_ENDPOINT, Environment, make_client
from .cost import CostEstimate, account_balance, estimate_cost
from .fetch import FetchReport, fetch_results, results_path
from .hosting import AssetHosting, HostingReport, host_assets
from .ledger import Ledger
from .lifecycle import BatchStatus, batch_status, delete_batch, expire_batch
from .post import PostError, PostPlan, PostReport, post_batch, prepare_post
from .preflight import PreflightError, preflight
from .qualifications import Qualifications
from .reconcile import ReconcileReport, reconcile_ledger
from .review import (ActionReport, Bonus, Decision, approve_all, decide, decisions_from_csv, notify_workers,
                     pay_bonuses, review_assignments)

__all__ = [
    "Batch", "HITSpec", "Task", "load_batch", "PRODUCTION_ENDPOINT", "SANDBOX_ENDPOINT", "Environment",
    "make_client", "CostEstimate", "account_balance", "estimate_cost", "FetchReport", "fetch_results",
    "results_path", "AssetHosting", "HostingReport", "host_assets", "Ledger", "BatchStatus", "batch_status",
    "delete_batch", "expire_batch", "PostError", "PostPlan", "PostReport", "post_batch", "prepare_post",
    "PreflightError", "preflight", "Qualifications", "ReconcileReport", "reconcile_ledger", "ActionReport", "Bonus",
    "Decision", "approve_all", "decide", "decisions_from_csv", "notify_workers", "pay_bonuses", "review_assignments",
]
