"""Posting: the contract suite (fake server and Stubber), then faults, kills and lost ledgers (fake server)."""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from decimal import Decimal

import pytest
from mturk_batch_factory import build_batch, question_xml

from studykit.mturk.batch import load_batch
from studykit.mturk.client import Environment, make_client
from studykit.mturk.local import FakeMTurk, FakeMTurkServer, Fault
from studykit.mturk.ledger import LEDGER_FILE, Ledger
from studykit.mturk.post import post_batch, prepare_post
from studykit.mturk.qualifications import Qualifications
from studykit.mturk.reconcile import reconcile_ledger


def post(mturk, batch_dir, quals=Qualifications()):
    """Prepare and post ``batch_dir`` with the backend's client; returns (plan, report)."""
    batch = load_batch(batch_dir)
    with Ledger(batch_dir, mturk.environment.endpoint) as ledger:
        plan = prepare_post(mturk.client, batch, ledger, mturk.environment, quals)
        return plan, post_batch(mturk.client, batch, ledger, plan)


def ledger_view(mturk, batch_dir):
    with Ledger(batch_dir, mturk.environment.endpoint) as ledger:
        return [(r.task_id, r.state, r.token, r.annotation, r.hit_id) for r in ledger.hits()]


# ---------------------------------------------------------------------------------- contract suite
def test_post_creates_one_hit_per_task_then_nothing(mturk, batch_dir):
    def scenario(mturk, batch_dir):
        plan, first = post(mturk, batch_dir)
        _, second = post(mturk, batch_dir)
        return plan, first, second, ledger_view(mturk, batch_dir)

    plan, first, second, hits = mturk.run(scenario, batch_dir)
    assert plan.balance == Decimal("10000.00") and plan.affordable
    assert plan.cost.total == Decimal("0.30")  # 3 HITs x 2 x ($0.04 + $0.01 minimum fee)
    assert (first.created, first.recovered, first.skipped) == (3, 0, 0)
    assert (second.created, second.recovered, second.skipped) == (0, 0, 3)
    assert second.hit_type_id == first.hit_type_id
    assert [h[:4] for h in hits] == [
        (f"t0000{i}", "created", f"studykit-sim-0a1b2c3d-t0000{i}", f"studykit:sim-0a1b2c3d:t0000{i}") for i in range(3)]
    assert len({h[4] for h in hits}) == 3


def test_a_dropped_reply_recovers_the_hit_from_hit_already_exists(mturk, batch_dir):
    def scenario(mturk, batch_dir):
        mturk.inject(Fault.DROP_CONNECTION, "CreateHITWithHITType")
        _, report = post(mturk, batch_dir)
        return report, ledger_view(mturk, batch_dir)

    report, hits = mturk.run(scenario, batch_dir)
    assert (report.created, report.recovered) == (3, 0)  # this run created the HIT whose reply was lost
    assert all(h[1] == "created" and h[4] for h in hits) and len({h[4] for h in hits}) == 3


def test_reconcile_rebuilds_a_lost_ledger(mturk, batch_dir):
    def scenario(mturk, batch_dir):
        post(mturk, batch_dir)
        before = ledger_view(mturk, batch_dir)
        (batch_dir / LEDGER_FILE).unlink()
        with Ledger(batch_dir, mturk.environment.endpoint) as ledger:
            report = reconcile_ledger(mturk.client, load_batch(batch_dir), ledger)
        _, again = post(mturk, batch_dir)
        return before, report, again, ledger_view(mturk, batch_dir)

    before, report, again, after = mturk.run(scenario, batch_dir)
    assert (report.listed, report.added, report.duplicates) == (3, 3, {})
    assert (again.created, again.skipped) == (0, 3)
    assert [h[4] for h in after] == [h[4] for h in before]


# ---------------------------------------------------------------------------------- faults (fake server only)
def fake_post(server, batch_dir, **quals):
    environment = Environment(endpoint_url=server.endpoint_url)
    batch = load_batch(batch_dir)
    with Ledger(batch_dir, environment.endpoint) as ledger:
        plan = prepare_post(make_client(environment), batch, ledger, environment, Qualifications(**quals))
        return post_batch(make_client(environment), batch, ledger, plan)


def assert_one_hit_per_task(server, batch_dir, n_tasks):
    annotations = sorted(hit["RequesterAnnotation"] for hit in server.fake.hits.values())
    assert annotations == [f"studykit:sim-0a1b2c3d:t{i:05d}" for i in range(n_tasks)]
    with Ledger(batch_dir, server.endpoint_url) as ledger:
        assert {r.hit_id for r in ledger.hits()} == set(server.fake.hits)


def test_a_throttling_storm_still_posts_everything(fake_server, tmp_path):
    batch_dir = build_batch(tmp_path / "b", n_tasks=4)
    fake_server.storm(Fault.THROTTLE, period=2)
    report = fake_post(fake_server, batch_dir)
    assert report.created == 4
    assert_one_hit_per_task(fake_server, batch_dir, 4)
    assert fake_server.calls["CreateHITWithHITType"] == 8  # every create was throttled once, then retried


def test_server_errors_and_gateway_timeouts_create_no_duplicates(fake_server, batch_dir):
    fake_server.inject(Fault.SERVER_ERROR, "CreateHITWithHITType", times=2)
    fake_server.inject(Fault.GATEWAY_TIMEOUT, "CreateHITWithHITType")
    fake_server.inject(Fault.DROP_CONNECTION, "CreateHITWithHITType")
    report = fake_post(fake_server, batch_dir)
    assert (report.created, report.recovered) == (3, 0)  # the first HIT was created behind the 504, by this run
    assert_one_hit_per_task(fake_server, batch_dir, 3)


@pytest.mark.parametrize("forgetful", [False, True], ids=["tokens-expire-later", "server-forgets-tokens"])
def test_a_crash_after_create_is_resolved_by_listing_even_after_24_hours(batch_dir, monkeypatch, forgetful):
    original = Ledger.record_created

    def crash_on_second(self, task_id, *args):
        if task_id == "t00001":
            raise KeyboardInterrupt("killed between CreateHITWithHITType and the ledger write")
        return original(self, task_id, *args)

    with FakeMTurkServer(FakeMTurk(token_memory_seconds=0 if forgetful else 24 * 3600)) as server:
        monkeypatch.setattr(Ledger, "record_created", crash_on_second)
        with pytest.raises(KeyboardInterrupt):
            fake_post(server, batch_dir)
        monkeypatch.setattr(Ledger, "record_created", original)
        with Ledger(batch_dir, server.endpoint_url) as ledger:
            assert [r.state for r in ledger.hits()] == ["created", "intent"]
        if not forgetful:
            server.fake.forget_request_tokens()  # the 24-hour token memory has passed
        report = fake_post(server, batch_dir)
        assert (report.created, report.recovered, report.skipped) == (1, 1, 1)
        assert_one_hit_per_task(server, batch_dir, 3)


def test_hit_already_exists_without_a_hit_id_is_resolved_by_listing(tmp_path):
    batch_dir = build_batch(tmp_path / "b", n_tasks=4)
    with FakeMTurkServer(FakeMTurk(duplicate_message_names_hit=False)) as server:
        # every create's reply is lost; each retry hears "already a HIT with this UniqueRequestToken: <token>"
        server.storm(Fault.DROP_CONNECTION, period=2, operation="CreateHITWithHITType")
        report = fake_post(server, batch_dir)
        assert (report.created, report.recovered, report.skipped) == (4, 0, 0)  # one run, nothing stuck
        assert_one_hit_per_task(server, batch_dir, 4)
        assert server.calls["CreateHITWithHITType"] == 8 and server.calls["ListHITs"] == 1 + 4


def test_a_task_added_to_a_posted_batch_posts_only_the_new_one(fake_server, batch_dir):
    fake_post(fake_server, batch_dir)
    lines = (batch_dir / "tasks.csv").read_text().splitlines()
    lines.insert(1, "t00099,new.png,class 1")    # the new task comes first: every row moves down
    (batch_dir / "tasks.csv").write_text("\n".join(lines) + "\n")
    (batch_dir / "hits" / "t00099.xml").write_text(question_xml("t00099", "https://images.example.org/new.png"))
    manifest = json.loads((batch_dir / "manifest.json").read_text())
    (batch_dir / "manifest.json").write_text(json.dumps({**manifest, "n_hits": 4}))
    report = fake_post(fake_server, batch_dir)
    assert (report.created, report.recovered, report.skipped) == (1, 0, 3)
    annotations = sorted(hit["RequesterAnnotation"] for hit in fake_server.fake.hits.values())
    assert annotations == [f"studykit:sim-0a1b2c3d:t{i:05d}" for i in (0, 1, 2, 99)]
    with Ledger(batch_dir, fake_server.endpoint_url) as ledger:
        assert {r.hit_id for r in ledger.hits()} == set(fake_server.fake.hits)


POST_SCRIPT = textwrap.dedent("""
    import sys
    from studykit.mturk.batch import load_batch
    from studykit.mturk.client import Environment, make_client
    from studykit.mturk.ledger import Ledger
    from studykit.mturk.post import post_batch, prepare_post
    from studykit.mturk.qualifications import Qualifications
    environment = Environment(endpoint_url=sys.argv[2])
    client, batch = make_client(environment), load_batch(sys.argv[1])
    with Ledger(sys.argv[1], environment.endpoint) as ledger:
        plan = prepare_post(client, batch, ledger, environment, Qualifications())
        post_batch(client, batch, ledger, plan)
""")


def test_sigkill_at_random_points_then_resume_gives_exactly_one_hit_per_task(tmp_path):
    n_tasks, rng = 8, random.Random(6)
    batch_dir = build_batch(tmp_path / "b", n_tasks=n_tasks)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with FakeMTurkServer(reply_delay=0.02) as server:
        command = [sys.executable, "-c", POST_SCRIPT, str(batch_dir), server.endpoint_url]
        kills = 0
        for _ in range(6):
            target = sum(server.calls.values()) + rng.randint(1, 6)
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 30
            while process.poll() is None and sum(server.calls.values()) < target and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.03))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait()
        assert kills >= 3
        assert 0 < len(server.fake.hits) <= n_tasks
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert final.returncode == 0, final.stderr
        assert_one_hit_per_task(server, batch_dir, n_tasks)


def test_the_fake_speaks_mturks_json_protocol(fake_server):
    import json
    import urllib.error
    import urllib.request

    from studykit.mturk.client import turk_error_code

    def raw(target, auth=True):
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
        if auth:
            headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=x"
        request = urllib.request.Request(fake_server.endpoint_url, data=b"{}", headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert raw("MTurkRequesterServiceV20170117.GetAccountBalance")[1]["AvailableBalance"] == "10000.00"
    assert raw("MTurkRequesterServiceV20170117.GetAccountBalance", auth=False)[0] == 403
    assert raw("MTurkRequesterServiceV20170117.CreateQualificationType")[1]["__type"] == "UnknownOperationException"
    assert raw("MTurkRequesterServiceV20170117.GetHIT")[1]["TurkErrorCode"].endswith("ParameterValidationError")
    client = make_client(Environment(endpoint_url=fake_server.endpoint_url))
    with pytest.raises(client.exceptions.RequestError) as info:
        client.get_hit(HITId="NOSUCHHIT")
    assert turk_error_code(info.value) == "AWS.MechanicalTurk.HITDoesNotExist"
