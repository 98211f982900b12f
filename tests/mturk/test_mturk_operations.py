"""Operating a posted batch when things go wrong (issue 17): a HIT deleted outside studykit, a corrupt
ledger, a piped "yes" in production, a copied folder, sandbox and production at one override URL,
bonuses beyond the balance, results-file permissions. Through the CLI and boto3 against the local server."""

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner

from studykit.cli import main
from studykit.mturk.client import Environment
from studykit.mturk.ledger import LEDGER_FILE, Ledger
from studykit.mturk.local import FakeMTurk, FakeMTurkServer


def run(*args):
    return CliRunner().invoke(main, ["mturk", *map(str, args)])


def posted(server, batch_dir):
    result = run("post", batch_dir, "--endpoint-url", server.endpoint_url)
    assert result.exit_code == 0, result.output
    with Ledger(batch_dir, server.endpoint_url) as ledger:
        return [record.hit_id for record in ledger.hits()]


def error_lines(result):
    """The output lines after the endpoint line, and no traceback."""
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return [line for line in result.output.splitlines() if not line.startswith("endpoint: ")]


def test_a_piped_yes_is_refused_in_production(fake_server, batch_dir):
    command = [sys.executable, "-m", "studykit.cli", "mturk", "post", str(batch_dir), "--production",
               "--endpoint-url", fake_server.endpoint_url]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    piped = subprocess.run(command, input="y\n", capture_output=True, text=True, env=env, timeout=120)
    assert piped.returncode == 1 and fake_server.fake.hits == {}
    assert piped.stderr.strip().splitlines()[-1] == (
        "Error: production needs a yes typed at a terminal, and standard input is not one (a pipe or a file); "
        "pass --yes to confirm from a script")
    scripted = run(*command[4:], "--yes")
    assert scripted.exit_code == 0, scripted.output
    assert len(fake_server.fake.hits) == 3


def test_fetch_goes_on_past_a_hit_deleted_outside_studykit(fake_server, batch_dir):
    url, fake = fake_server.endpoint_url, fake_server.fake
    hits = posted(fake_server, batch_dir)
    for i, hit in enumerate(hits):
        fake.submit_assignment(hit, {"choice": "A", "confidence": "1"}, worker_id=f"A{i}WORKER")
    fake.remove_hit(hits[1])
    first = run("fetch", batch_dir, "--endpoint-url", url)
    lines = error_lines(first)
    assert f"  HIT {hits[1]} does not exist on MTurk (task t00001: AWS.MechanicalTurk.HITDoesNotExist: " \
           f"Hit {hits[1]} does not exist." in first.output
    assert lines[-1] == "Error: 1 HIT(s) could not be fetched (listed above); the other HITs' results were written"
    rows = (batch_dir / "results" / f"mturk-{url.split('//')[1].replace(':', '-')}.csv").read_text().splitlines()
    assert len(rows) == 3 and hits[0] in rows[1] and hits[2] in rows[2]
    with Ledger(batch_dir, url) as ledger:
        assert [bool(r.missing_at) for r in ledger.hits()] == [False, True, False]
    again = run("fetch", batch_dir, "--endpoint-url", url)
    assert again.exit_code == 0, again.output
    assert "2 assignments from 2 HITs (0 new)" in again.output and "1 HIT(s) recorded missing" in again.output
    assert "expired: 2, already expired, deleted or missing: 1" in run("expire", batch_dir, "--endpoint-url", url).output


def _garbage(path):
    path.write_bytes(b"this is not an SQLite file\n" * 100)


def _damaged_pages(path):
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xff" * 4096
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_garbage, _damaged_pages], ids=["not-a-database", "damaged-pages"])
def test_a_corrupt_ledger_is_one_line_and_reconcile_rebuilds_it(fake_server, batch_dir, damage):
    url = fake_server.endpoint_url
    hits = posted(fake_server, batch_dir)
    damage(batch_dir / LEDGER_FILE)
    for command in ("post", "status", "fetch", "reconcile"):
        lines = error_lines(run(command, batch_dir, "--endpoint-url", url))
        assert len(lines) == 1 and lines[0].startswith(f"Error: {batch_dir / LEDGER_FILE}: not a readable")
        assert lines[0].endswith(f"rebuild it from MTurk with `studykit mturk reconcile {batch_dir} --rebuild`")
    rebuilt = run("reconcile", batch_dir, "--endpoint-url", url, "--rebuild")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "3 tasks have HITs on MTurk; 3 added to the ledger" in rebuilt.output
    assert len(list(batch_dir.glob(f"{LEDGER_FILE}.broken-*"))) == 1
    again = run("post", batch_dir, "--endpoint-url", url)
    assert again.exit_code == 0 and "0 created, 0 recovered, 3 already posted" in again.output
    kept = run("reconcile", batch_dir, "--endpoint-url", url, "--rebuild")   # a readable ledger stays
    assert "the ledger is readable: kept" in kept.output and "0 added" in kept.output
    assert len(list(batch_dir.glob(f"{LEDGER_FILE}.broken-*"))) == 1
    with Ledger(batch_dir, url) as ledger:
        assert [r.hit_id for r in ledger.hits()] == hits and len(fake_server.fake.hits) == 3


def test_a_locked_ledger_is_not_called_corrupt(fake_server, batch_dir):
    posted(fake_server, batch_dir)
    holder = sqlite3.connect(batch_dir / LEDGER_FILE)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ValueError, match="cannot use the ledger") as info:
            Ledger(batch_dir, fake_server.endpoint_url, timeout=0.1)
        assert "--rebuild" not in str(info.value)
    finally:
        holder.rollback()
        holder.close()


def test_a_copied_folder_warns_that_the_hits_are_the_originals(fake_server, batch_dir, tmp_path):
    url = fake_server.endpoint_url
    posted(fake_server, batch_dir)
    assert "WARNING" not in run("status", batch_dir, "--endpoint-url", url).output
    copy = shutil.copytree(batch_dir, tmp_path / "copy")
    warned = run("status", copy, "--endpoint-url", url)
    assert f"WARNING: {copy / LEDGER_FILE} was made in {batch_dir.resolve()}, not in this folder" in warned.output
    assert run("reconcile", copy, "--endpoint-url", url).exit_code == 0   # the folder was moved, say so
    assert "WARNING" not in run("status", copy, "--endpoint-url", url).output


def test_sandbox_and_production_at_one_override_url_keep_apart(fake_server, batch_dir):
    url = fake_server.endpoint_url
    sandbox, production = Environment(endpoint_url=url), Environment(production=True, endpoint_url=url)
    assert sandbox.ledger_key != production.ledger_key and sandbox.label != production.label
    posted(fake_server, batch_dir)
    status = run("status", batch_dir, "--production", "--yes", "--endpoint-url", url)
    assert status.exit_code == 0 and "HITs: 0 of 3 tasks posted" in status.output
    fetched = run("fetch", batch_dir, "--production", "--yes", "--endpoint-url", url)
    host = url.split("//")[1].replace(":", "-")
    assert fetched.exit_code == 0 and f"results/mturk-production-{host}.csv" in fetched.output


def test_bonus_checks_the_balance_before_paying(batch_dir, tmp_path):
    with FakeMTurkServer(FakeMTurk(balance="0.55")) as server:
        hits = posted(server, batch_dir)                                # $0.30 fits in $0.55
        assignment = server.fake.submit_assignment(hits[0], {"choice": "A"}, worker_id="A1W")
        assert run("fetch", batch_dir, "--endpoint-url", server.endpoint_url).exit_code == 0
        bonuses = tmp_path / "bonus.csv"
        bonuses.write_text(f"AssignmentId,BonusAmount,Reason\n{assignment},0.50,Careful work\n")
        refused = run("bonus", batch_dir, "--from", bonuses, "--endpoint-url", server.endpoint_url)
        assert "1 bonuses to pay (0 already paid): $0.50 + MTurk fee $0.10 = $0.60; account balance: $0.55" \
            in refused.output
        assert error_lines(refused)[-1] == ("Error: the balance ($0.55) does not cover the bonuses ($0.60 with "
                                            "fees); nothing was paid")
        assert server.fake.bonuses == [] and server.calls["SendBonus"] == 0


def test_a_manifest_that_is_a_list_is_one_line(batch_dir):
    (batch_dir / "manifest.json").write_text(json.dumps([{"batch_id": "x"}]))
    lines = error_lines(run("status", batch_dir, "--endpoint-url", "http://127.0.0.1:9"))
    assert lines == [f"Error: {batch_dir / 'manifest.json'}: not a JSON object (found a list)"]


def test_results_files_have_ordinary_permissions(fake_server, batch_dir):
    hits = posted(fake_server, batch_dir)
    fake_server.fake.submit_assignment(hits[0], {"choice": "A"}, worker_id="A1W")
    previous = os.umask(0o022)
    try:
        fetched = run("fetch", batch_dir, "--endpoint-url", fake_server.endpoint_url)
    finally:
        os.umask(previous)
    assert fetched.exit_code == 0, fetched.output
    modes = {p.suffix: stat.S_IMODE(p.stat().st_mode) for p in (batch_dir / "results").iterdir()}
    assert modes == {".csv": 0o644, ".jsonl": 0o644}
