"""``studykit mturk``: the sandbox walk-through against the fake server, and production's safety catches."""

import pytest
from click.testing import CliRunner

from studykit.cli import main
from studykit.mturk.client import PRODUCTION_ENDPOINT, Environment
from studykit.mturk.ledger import Ledger

COMMANDS = ["post", "status", "fetch", "review", "bonus", "notify", "expire", "delete", "reconcile", "balance", "host"]


def run(*args, input=None):
    return CliRunner().invoke(main, ["mturk", *map(str, args)], input=input)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = run(command, "--help")
    assert result.exit_code == 0 and "Usage: studykit mturk" in result.output


def test_sandbox_walkthrough(fake_server, batch_dir, tmp_path):
    url = fake_server.endpoint_url
    posted = run("post", batch_dir, "--endpoint-url", url)
    assert posted.exit_code == 0, posted.output
    assert posted.output.startswith(f"endpoint: MTurk SANDBOX at {url}\n")
    assert "total, if every assignment is approved: $0.30" in posted.output
    assert "account balance: $10000.00" in posted.output and "3 created" in posted.output
    hits = [h for h in fake_server.fake.hits]
    first = fake_server.fake.submit_assignment(hits[0], {"choice": "A", "confidence": "2"}, worker_id="A1W")
    fake_server.fake.submit_assignment(hits[1], {"choice": "B", "confidence": "0"}, worker_id="A2W")
    fetched = run("fetch", batch_dir, "--endpoint-url", url)
    assert fetched.exit_code == 0 and "2 assignments from 3 HITs (2 new)" in fetched.output
    assert (batch_dir / "results" / f"mturk-{url.split('//')[1].replace(':', '-')}.csv").exists()
    assert "0 rows written" in run("fetch", batch_dir, "--endpoint-url", url).output
    reviewed = run("review", batch_dir, "--approve-all", "--endpoint-url", url)
    assert reviewed.exit_code == 0 and "2 approvals ($0.10 with fees)" in reviewed.output
    bonuses = tmp_path / "bonus.csv"
    bonuses.write_text(f"AssignmentId,BonusAmount,Reason\n{first},0.50,Careful work\n")
    paid = run("bonus", batch_dir, "--from", bonuses, "--endpoint-url", url)
    assert paid.exit_code == 0 and "1 paid" in paid.output
    assert "1 bonuses to pay (0 already paid): $0.50 + MTurk fee $0.10 = $0.60; account balance: $10000.00" \
        in paid.output
    assert "1 bonuses to pay" not in run("bonus", batch_dir, "--from", bonuses, "--endpoint-url", url).output
    status = run("status", batch_dir, "--endpoint-url", url)
    assert "Approved 2" in status.output and "spent so far: $0.70" in status.output
    notified = run("notify", batch_dir, "--subject", "Thanks", "--message", "Thank you!", "--endpoint-url", url)
    assert "notified 2 workers" in notified.output
    assert "expired: 3" in run("expire", batch_dir, "--endpoint-url", url).output
    assert "deleted: 3" in run("delete", batch_dir, "--endpoint-url", url).output
    assert "$10000.00" in run("balance", batch_dir, "--endpoint-url", url).output


def test_reconcile_and_failures_are_reported(fake_server, batch_dir):
    url = fake_server.endpoint_url
    run("post", batch_dir, "--endpoint-url", url)
    (batch_dir / "mturk.sqlite").unlink()
    result = run("reconcile", batch_dir, "--endpoint-url", url)
    assert "3 tasks have HITs on MTurk; 3 added" in result.output
    fake_server.fake.submit_assignment(next(iter(fake_server.fake.hits)), {"choice": "A"}, worker_id="A1W")
    failed = run("delete", batch_dir, "--endpoint-url", url)
    assert failed.exit_code == 1 and "InvalidHITState" in failed.output and "3 HIT(s) failed" in failed.output


def test_production_refuses_without_the_flag(fake_server, batch_dir, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_MTURK", PRODUCTION_ENDPOINT)
    result = run("post", batch_dir)
    assert result.exit_code == 1 and "--production" in result.output
    assert not (batch_dir / "mturk.sqlite").exists()


def test_production_asks_for_confirmation_showing_the_cost(fake_server, batch_dir, monkeypatch):
    monkeypatch.setattr("studykit.cli.mturk._stdin_is_terminal", lambda: True)   # a person at a terminal
    url = fake_server.endpoint_url
    declined = run("post", batch_dir, "--production", "--endpoint-url", url, input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert declined.output.startswith(f"endpoint: MTurk PRODUCTION at {url}")
    assert "PRODUCTION: post 3 HITs for up to $0.30?" in declined.output
    assert "approval rate >= 95%" in declined.output and fake_server.fake.hits == {}
    accepted = run("post", batch_dir, "--production", "--endpoint-url", url, input="y\n")
    assert accepted.exit_code == 0 and len(fake_server.fake.hits) == 3
    requirements = next(iter(fake_server.fake.hit_types.values()))["QualificationRequirements"]
    assert [r["QualificationTypeId"] for r in requirements] == [
        "000000000000000000L0", "00000000000000000040", "00000000000000000071"]
    with Ledger(batch_dir, Environment(production=True, endpoint_url=url).ledger_key) as ledger:
        assert len(ledger.created_hits()) == 3


def test_preflight_stops_posting_until_the_images_are_hosted(fake_server, tmp_path):
    from mturk_batch_factory import build_batch

    batch_dir = build_batch(tmp_path / "b", hosted=False)
    result = run("post", batch_dir, "--endpoint-url", fake_server.endpoint_url)
    assert result.exit_code == 1 and "not HTTPS" in result.output and fake_server.calls == {}
    problems = [line for line in result.output.splitlines() if "not HTTPS" in line]
    assert [line.split(":")[0].strip() for line in problems] == ["t00000.xml", "t00001.xml", "t00002.xml"]
    assert "Error: 3 pre-flight problem(s), listed above; nothing was posted" in result.output
    hosted = run("host", batch_dir, "--base-url", "https://lab.example.edu/study-1/")
    assert hosted.exit_code == 0 and "to https://lab.example.edu/study-1/" in hosted.output
    assert "3 HIT pages rewritten" in hosted.output
    assert run("post", batch_dir, "--endpoint-url", fake_server.endpoint_url).exit_code == 0
    assert len(fake_server.fake.hits) == 3


def test_rejections_need_confirmation(fake_server, batch_dir, tmp_path):
    url = fake_server.endpoint_url
    run("post", batch_dir, "--endpoint-url", url)
    assignment = fake_server.fake.submit_assignment(next(iter(fake_server.fake.hits)), {"choice": "A"})
    run("fetch", batch_dir, "--endpoint-url", url)
    marked = tmp_path / "marked.csv"
    marked.write_text(f"AssignmentId,Approve,Reject\n{assignment},,Did not follow the instructions.\n")
    declined = run("review", batch_dir, "--decisions", marked, "--endpoint-url", url, input="n\n")
    assert declined.exit_code == 1 and fake_server.fake.assignments[assignment]["AssignmentStatus"] == "Submitted"
    done = run("review", batch_dir, "--decisions", marked, "--endpoint-url", url, "--yes")
    assert done.exit_code == 0 and fake_server.fake.assignments[assignment]["AssignmentStatus"] == "Rejected"
