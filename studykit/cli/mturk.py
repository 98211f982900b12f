"""``studykit mturk``: post a batch folder to MTurk (sandbox by default) and bring the results back.

Thin commands over :mod:`studykit.mturk`; boto3 and the library are imported inside the commands so
that ``studykit --help`` stays fast. Every command names the endpoint it talks to first. Production
needs ``--production`` and a confirmation typed at a terminal that shows the money involved (``--yes``
skips it, for scripts; an answer piped in is refused).
"""

from __future__ import annotations

import functools
import logging
import sys
from decimal import Decimal
from pathlib import Path

import click

from .common import user_errors

log = logging.getLogger(__name__)


def _user_errors():
    """One-line CLI errors for configuration, batch-folder and MTurk (botocore) errors."""
    from botocore.exceptions import BotoCoreError, ClientError

    return user_errors(RuntimeError, ClientError, BotoCoreError)


def _environment_options(command):
    """BATCH plus --production/--yes/--endpoint-url, opening the batch, its ledger and a client.

    A command with a ``rebuild`` option (``reconcile``) gets a damaged ledger moved aside first when it is
    set (a readable one is kept: it may hold the other mode's records).
    """
    @click.argument("batch_dir", metavar="BATCH", type=click.Path(file_okay=False, exists=True, path_type=Path))
    @click.option("--production", is_flag=True, help="Use MTurk production (real workers, real money). "
                  "Without it every command talks to the sandbox.")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation (scripts).")
    @click.option("--endpoint-url", default=None, metavar="URL",
                  help="Send calls to this MTurk-compatible endpoint (a local fake server...); "
                       "default: $AWS_ENDPOINT_URL_MTURK, else the sandbox or production endpoint.")
    @functools.wraps(command)
    def wrapper(batch_dir, production, yes, endpoint_url, **options):
        from studykit.mturk.batch import load_batch
        from studykit.mturk.client import Environment, make_client
        from studykit.mturk.ledger import Ledger, is_damaged, move_aside

        with _user_errors():
            environment = Environment.from_options(production=production, endpoint_url=endpoint_url)
            click.echo(f"endpoint: {environment.describe()}")
            batch = load_batch(batch_dir)
            if options.pop("rebuild", False):
                if is_damaged(batch_dir):
                    click.echo(f"moved the damaged ledger aside to {move_aside(batch_dir)}")
                else:
                    click.echo("the ledger is readable: kept (reconcile adds what MTurk lists and it lacks)")
            with Ledger(batch_dir, environment.ledger_key) as ledger:
                if ledger.foreign_origin:
                    click.echo(f"WARNING: {ledger.path} was made in {ledger.foreign_origin}, not in this folder: "
                               "its HITs are that folder's. If this folder is a copy meant as a new batch, give "
                               "it a new batch_id; if the folder was moved, `studykit mturk reconcile` records "
                               "the new place.", err=True)
                return command(environment, make_client(environment), batch, ledger, yes, **options)
    return wrapper


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _confirm(environment, yes: bool, question: str, *, also_in_sandbox: bool = False) -> None:
    """In production (or always, with ``also_in_sandbox``), ask ``question`` unless ``--yes``.

    A production question is answered only at a terminal: from a pipe or a file it is refused.
    """
    if yes or not (environment.production or also_in_sandbox):
        return
    if environment.production and not _stdin_is_terminal():
        raise click.ClickException("production needs a yes typed at a terminal, and standard input is not "
                                   "one (a pipe or a file); pass --yes to confirm from a script")
    prefix = "PRODUCTION: " if environment.production else ""
    click.confirm(f"{prefix}{question}", abort=True)


def _report_failures(failed: dict, what: str) -> None:
    for key, reason in failed.items():
        click.echo(f"  {what} {key}: {reason}", err=True)
    if failed:
        raise click.ClickException(f"{len(failed)} {what}(s) failed (listed above); run the command again "
                                   "once fixed: what succeeded is not repeated")


@click.group(name="mturk")
def mturk() -> None:
    """Post batch folders to Amazon Mechanical Turk (sandbox by default) and collect the results."""


@mturk.command("post")
@_environment_options
@click.option("--accept-high-fee", is_flag=True, help="Allow 10+ assignments per HIT (MTurk's fee is 40%, not 20%).")
@click.option("--min-approval-rate", type=int, default=95, show_default=True, help="Workers' lowest approval rate (%).")
@click.option("--min-approved-hits", type=int, default=1000, show_default=True, help="Workers' fewest approved HITs.")
@click.option("--country", "countries", multiple=True, default=("US",), show_default=True,
              help="Allowed worker locale (repeat for several).")
@click.option("--masters", is_flag=True, help="Require the Masters qualification (+5% fee).")
@click.option("--qualify-in-sandbox", is_flag=True, help="Apply the qualifications in the sandbox too.")
def post(environment, client, batch, ledger, yes, accept_high_fee, min_approval_rate, min_approved_hits, countries,
         masters, qualify_in_sandbox):
    """Create the batch's HIT type and one HIT per task; safe to re-run after any failure."""
    from studykit.mturk.post import post_batch, prepare_post
    from studykit.mturk.preflight import PreflightError
    from studykit.mturk.qualifications import Qualifications

    quals = Qualifications(min_approval_rate=min_approval_rate, min_approved_hits=min_approved_hits,
                           countries=countries, masters=masters, apply_in_sandbox=qualify_in_sandbox)
    try:
        plan = prepare_post(client, batch, ledger, environment, quals, accept_high_fee=accept_high_fee)
    except PreflightError as error:
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
        raise click.ClickException(f"{len(error.problems)} pre-flight problem(s), listed above; "
                                   "nothing was posted") from None
    click.echo(plan.describe())
    if plan.n_to_post and not plan.affordable:
        raise click.ClickException(f"the balance (${plan.balance:.2f}) does not cover ${plan.cost.total:.2f}")
    if plan.n_to_post:
        _confirm(environment, yes, f"post {plan.n_to_post} HITs for up to ${plan.cost.total:.2f}?")
    report = post_batch(client, batch, ledger, plan, progress=True)
    click.echo(f"posted: {report.created} created, {report.recovered} recovered, {report.skipped} already posted")
    if report.recovered:
        click.echo(f"  recovered: HITs tagged studykit:{batch.batch_id}:<task> that existed before this run "
                   "(an interrupted run, a lost ledger, or another folder with the same batch_id)", err=True)
    for task_id, extra in report.duplicates.items():
        click.echo(f"  task {task_id} has extra HITs (expire them by hand): {', '.join(extra)}", err=True)
    if not environment.endpoint_url:
        click.echo(f"preview: {environment.worker_site}/mturk/preview?groupId={report.hit_type_id}")


@mturk.command("status")
@_environment_options
def status(environment, client, batch, ledger, yes):
    """HITs and assignments by state, and the money spent so far."""
    from studykit.mturk.lifecycle import batch_status

    click.echo(batch_status(client, batch, ledger).describe())


@mturk.command("fetch")
@_environment_options
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Results CSV [default: BATCH/results/mturk-<environment>.csv].")
def fetch(environment, client, batch, ledger, yes, out):
    """Download submitted assignments into the batch-results CSV (only new rows are added)."""
    from studykit.mturk.fetch import fetch_results, results_path

    report = fetch_results(client, batch, ledger, out or results_path(batch, environment), progress=True)
    click.echo(f"{report.n_assignments} assignments from {report.n_hits} HITs ({report.n_new} new); "
               f"{report.rows_added} rows written to {report.results_csv}; raw records in {report.raw_jsonl}")
    if report.n_skipped_missing:
        click.echo(f"{report.n_skipped_missing} HIT(s) recorded missing by an earlier fetch were skipped "
                   f"(`studykit mturk reconcile {batch.directory}` looks for them again)")
    for hit_id, reason in report.missing.items():
        click.echo(f"  HIT {hit_id} does not exist on MTurk ({reason}); recorded in the ledger", err=True)
    for hit_id, reason in report.failed.items():
        click.echo(f"  HIT {hit_id} could not be fetched ({reason})", err=True)
    if not report.complete:
        raise click.ClickException(f"{len(report.missing) + len(report.failed)} HIT(s) could not be fetched "
                                   "(listed above); the other HITs' results were written")


@mturk.command("review")
@_environment_options
@click.option("--approve-all", is_flag=True, help="Approve every Submitted assignment.")
@click.option("--decisions", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A results CSV marked up as on the Requester website: x in Approve, feedback in Reject.")
def review(environment, client, batch, ledger, yes, approve_all, decisions):
    """Approve and reject fetched assignments (run fetch first); each decision is applied once."""
    from studykit.mturk import review as reviewing
    from studykit.mturk.lifecycle import assignment_cost

    if approve_all == bool(decisions):
        raise click.UsageError("give exactly one of --approve-all and --decisions")
    chosen = (reviewing.decide(ledger.assignments(), reviewing.approve_all) if approve_all
              else reviewing.decisions_from_csv(decisions))
    n_reject = sum(not d.approve for d in chosen)
    cost = (len(chosen) - n_reject) * assignment_cost(batch, ledger)
    click.echo(f"{len(chosen) - n_reject} approvals (${cost:.2f} with fees), {n_reject} rejections")
    if n_reject:
        _confirm(environment, yes, f"reject {n_reject} assignment(s)? Rejections hurt workers' approval rates",
                 also_in_sandbox=True)
    _confirm(environment, yes, f"approve {len(chosen) - n_reject} assignments for ${cost:.2f}?")
    report = reviewing.review_assignments(client, ledger, chosen, progress=True)
    click.echo(f"reviewed: {report.done} done, {report.skipped} already done")
    _report_failures(report.failed, "assignment")


@mturk.command("bonus")
@_environment_options
@click.option("--from", "bonus_csv", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="CSV with AssignmentId, BonusAmount (like 0.50) and Reason columns.")
@click.option("--reason", default=None, help="Reason shown to workers where the CSV gives none.")
def bonus(environment, client, batch, ledger, yes, bonus_csv, reason):
    """Pay bonuses on fetched assignments, at most one per assignment, never twice."""
    from studykit.mturk.cost import account_balance, bonus_cost
    from studykit.mturk.review import bonuses_from_csv, pay_bonuses

    bonuses = bonuses_from_csv(bonus_csv, default_reason=reason)
    paid = {a.assignment_id for a in ledger.actions("bonus") if a.state == "done"}
    to_pay = [b for b in bonuses if b.assignment_id not in paid]
    amount = sum((Decimal(b.amount) for b in to_pay), Decimal(0))
    total = sum((bonus_cost(Decimal(b.amount)) for b in to_pay), Decimal(0))
    available = account_balance(client)
    click.echo(f"{len(to_pay)} bonuses to pay ({len(bonuses) - len(to_pay)} already paid): ${amount:.2f} "
               f"+ MTurk fee ${total - amount:.2f} = ${total:.2f}; account balance: ${available:.2f}")
    if total > available:
        raise click.ClickException(f"the balance (${available:.2f}) does not cover the bonuses (${total:.2f} "
                                   "with fees); nothing was paid")
    _confirm(environment, yes, f"pay {len(to_pay)} bonuses for ${total:.2f}?")
    report = pay_bonuses(client, ledger, bonuses, progress=True)
    click.echo(f"bonuses: {report.done} paid, {report.skipped} already paid")
    _report_failures(report.failed, "bonus")


@mturk.command("notify")
@_environment_options
@click.option("--subject", required=True, help="Email subject (at most 200 characters).")
@click.option("--message", required=True, help="Email text (at most 4,096 characters).")
def notify(environment, client, batch, ledger, yes, subject, message):
    """Email every worker whose work on this batch was approved or rejected."""
    from studykit.mturk.review import notify_workers

    workers = [a.worker_id for a in ledger.assignments() if a.status in ("Approved", "Rejected")]
    _confirm(environment, yes, f"email {len(set(workers))} workers?")
    failures = notify_workers(client, workers, subject, message)
    click.echo(f"notified {len(set(workers)) - len(failures)} workers")
    _report_failures(failures, "worker")


@mturk.command("expire")
@_environment_options
def expire(environment, client, batch, ledger, yes):
    """Make every HIT of the batch unavailable now (accepted work can still be submitted)."""
    from studykit.mturk.lifecycle import expire_batch

    _confirm(environment, yes, f"expire the {len(ledger.created_hits())} HITs of batch {batch.batch_id}?")
    report = expire_batch(client, ledger, progress=True)
    click.echo(f"expired: {report.done}, already expired, deleted or missing: {report.skipped}")
    _report_failures(report.failed, "HIT")


@mturk.command("delete")
@_environment_options
def delete(environment, client, batch, ledger, yes):
    """Delete the batch's HITs that are Reviewable with all work reviewed (fetch and review first)."""
    from studykit.mturk.lifecycle import delete_batch

    _confirm(environment, yes, f"delete the {len(ledger.created_hits())} HITs of batch {batch.batch_id}?")
    report = delete_batch(client, ledger, progress=True)
    click.echo(f"deleted: {report.done}, already deleted: {report.skipped}")
    _report_failures(report.failed, "HIT")


@mturk.command("reconcile")
@_environment_options
@click.option("--rebuild", is_flag=True, help="For a corrupt ledger: move mturk.sqlite aside (kept as "
              "mturk.sqlite.broken-<time>) and rebuild it from the HITs MTurk lists.")
def reconcile(environment, client, batch, ledger, yes):
    """Rebuild the ledger from the HITs MTurk lists for this batch (after losing mturk.sqlite)."""
    from studykit.mturk.reconcile import reconcile_ledger

    report = reconcile_ledger(client, batch, ledger)
    ledger.claim()
    click.echo(f"{report.listed} tasks have HITs on MTurk; {report.added} added to the ledger")
    for task_id, extra in report.duplicates.items():
        click.echo(f"  task {task_id} has extra HITs (expire them by hand): {', '.join(extra)}", err=True)


@mturk.command("balance")
@_environment_options
def balance(environment, client, batch, ledger, yes):
    """The account's available balance (the sandbox always reports $10,000)."""
    from studykit.mturk.cost import account_balance

    click.echo(f"available balance: ${account_balance(client):.2f}")


@mturk.command("host")
@click.argument("batch_dir", metavar="BATCH", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--bucket", default=None, help="Upload the images to this S3 bucket (content-hash keys).")
@click.option("--prefix", default="studykit/", show_default=True, help="Key prefix in the bucket.")
@click.option("--base-url", default=None, metavar="URL",
              help="HTTPS URL the images are served from (your server, or CloudFront in front of --bucket).")
@click.option("--grant-public-read", is_flag=True,
              help="Add a bucket policy letting anyone read the prefix (lifts Block Public Access for policies).")
@click.option("--presign-seconds", type=int, default=None,
              help="Use presigned URLs valid this long (at most 7 days; warns if the HITs outlive them).")
def host(batch_dir, bucket, prefix, base_url, grant_public_read, presign_seconds):
    """Serve the batch's images over HTTPS and point the HIT pages (hits/*.xml) at them."""
    from studykit.mturk.batch import load_batch
    from studykit.mturk.hosting import AssetHosting, host_assets

    with _user_errors():
        hosting = AssetHosting(base_url=base_url, bucket=bucket, prefix=prefix, presign_seconds=presign_seconds,
                               grant_public_read=grant_public_read)
        s3 = None
        if bucket:
            import boto3

            s3 = boto3.client("s3")
        report = host_assets(load_batch(batch_dir), hosting, s3=s3)
    for warning in report.warnings:
        click.echo(f"WARNING: {warning}", err=True)
    if bucket:
        click.echo(f"s3://{bucket}/{prefix}: {report.uploaded} images uploaded, {report.already_hosted} already there")
    else:
        click.echo(f"copy {batch_dir / 'assets'}/* to {hosting.public_base}/ (the pages now load them from there)")
    click.echo(f"{report.pages_rewritten} HIT pages rewritten")
