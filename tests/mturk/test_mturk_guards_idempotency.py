"""Exactly one HIT per task without the list-based safety net, and HitAlreadyExists parsing (issue 20).

Posting has three layers (studykit.mturk.post): the ledger, the deterministic UniqueRequestToken and
the ListHITs reconciliation by RequesterAnnotation. Here the third is switched off, so only the token
can prevent a duplicate: a token that changes between calls (random, time-based, per process) must
fail these tests, which the fake server alone (where reconciliation adopts the HIT) would not notice.
"""

import pytest
from botocore.exceptions import ClientError
from mturk_batch_factory import build_batch

import studykit.mturk.post as post_module
from studykit.mturk.batch import load_batch
from studykit.mturk.client import Environment, make_client
from studykit.mturk.local import Fault
from studykit.mturk.ledger import Ledger
from studykit.mturk.post import HIT_ALREADY_EXISTS, PostError, post_batch, prepare_post
from studykit.mturk.qualifications import Qualifications

HIT_ID = "3PR0ZB0GK2QAUJ8T5O1S6I7JKHPLM4"  # 30 characters, as MTurk's HIT ids


def record_tokens(server, monkeypatch):
    """Every UniqueRequestToken the server receives on CreateHITWithHITType, in order; and the
    ListHITs safety net switched off (the server lists no HIT)."""
    seen, real = [], server.fake.handle

    def handle(operation, params):
        if operation == "ListHITs":
            return {"NumResults": 0, "HITs": []}
        if operation == "CreateHITWithHITType":
            seen.append((params.get("RequesterAnnotation"), params.get("UniqueRequestToken")))
        return real(operation, params)

    monkeypatch.setattr(server.fake, "handle", handle)
    return seen


def no_listing(monkeypatch):
    """Switch off the ListHITs search after a HitAlreadyExists (when there is one): only the message remains."""
    if hasattr(post_module, "list_batch_hits"):
        monkeypatch.setattr(post_module, "list_batch_hits", lambda client, batch_id: {})


def post(server, batch_dir):
    environment = Environment(endpoint_url=server.endpoint_url)
    batch = load_batch(batch_dir)
    with Ledger(batch_dir, environment.endpoint) as ledger:
        plan = prepare_post(make_client(environment), batch, ledger, environment, Qualifications())
        return post_batch(make_client(environment), batch, ledger, plan)


def test_the_retry_after_a_crash_sends_the_ledgers_token(fake_server, tmp_path, monkeypatch):
    batch_dir = build_batch(tmp_path / "batch")
    seen = record_tokens(fake_server, monkeypatch)
    real = Ledger.record_created

    def crash_on_second(self, task_id, *args):
        if task_id == "t00001":
            raise KeyboardInterrupt("killed between CreateHITWithHITType and the ledger write")
        return real(self, task_id, *args)

    with monkeypatch.context() as patch:
        patch.setattr(Ledger, "record_created", crash_on_second)
        with pytest.raises(KeyboardInterrupt):
            post(fake_server, batch_dir)
    with Ledger(batch_dir, fake_server.endpoint_url) as ledger:
        intent = {r.task_id: r.token for r in ledger.hits()}["t00001"]
    report = post(fake_server, batch_dir)
    assert (report.created, report.recovered, report.skipped) == (1, 1, 1)
    annotation = "studykit:sim-0a1b2c3d:t00001"
    assert [token for note, token in seen if note == annotation] == [intent, intent], \
        "the retry did not send the token the ledger recorded before the crash"
    assert sorted(hit["RequesterAnnotation"] for hit in fake_server.fake.hits.values()) == \
        [f"studykit:sim-0a1b2c3d:t{i:05d}" for i in range(3)]
    with Ledger(batch_dir, fake_server.endpoint_url) as ledger:
        assert {r.hit_id for r in ledger.hits()} == set(fake_server.fake.hits)


def test_tokens_do_not_change_between_processes_or_runs(tmp_path):
    """The token is a function of the batch and the task only (a second load, another folder)."""
    first, second = load_batch(build_batch(tmp_path / "a")), load_batch(build_batch(tmp_path / "b"))
    tokens = [first.request_token(task) for task in first.tasks]
    assert tokens == [first.request_token(task) for task in first.tasks]
    assert tokens == [second.request_token(task) for task in second.tasks]
    assert len(set(tokens)) == len(tokens) and all(1 <= len(t) <= 64 for t in tokens)


# ------------------------------------------------------------------ HitAlreadyExists parsing
class OneHit:
    """A client whose account holds one HIT, ``HIT_ID``, tagged ``annotation``."""

    def __init__(self, annotation):
        self.annotation, self.asked = annotation, []

    def get_hit(self, HITId):  # noqa: N803 - botocore's parameter name
        self.asked.append(HITId)
        if HITId != HIT_ID:
            raise ClientError({"Error": {"Code": "RequestError", "Message": f"Hit {HITId} does not exist."}}, "GetHIT")
        return {"HIT": {"HITId": HIT_ID, "RequesterAnnotation": self.annotation}}


def already_exists(message):
    return ClientError({"Error": {"Code": "RequestError", "Message": message}, "TurkErrorCode": HIT_ALREADY_EXISTS},
                       "CreateHITWithHITType")


@pytest.mark.parametrize("message", [
    # the documented promise is only "a message containing the HITId"; these are the forms seen or plausible
    f"There is already a HIT with this UniqueRequestToken: {HIT_ID}. (1624047673969)",
    f"The HIT with ID {HIT_ID} already exists. (1624047673969)",
    f"HIT {HIT_ID} already exists in the system from a previous call using the same UniqueRequestToken.",
    f'The request token "studykit-sim-0a1b2c3d-1" has already been used by HIT "{HIT_ID}" (1624047673969)',
    f"HITId={HIT_ID}",
])
def test_hit_already_exists_messages_name_the_hit(message, tmp_path, monkeypatch):
    no_listing(monkeypatch)  # the message alone must name the HIT
    batch = load_batch(build_batch(tmp_path / "batch"))
    client = OneHit(batch.annotation(batch.tasks[1]))
    assert post_module._recover_hit_id(client, already_exists(message), batch, batch.tasks[1]) == HIT_ID
    assert "1624047673969" not in client.asked  # the timestamp is not taken for an id


def test_a_hit_with_another_tag_is_never_adopted(tmp_path, monkeypatch):
    no_listing(monkeypatch)
    batch = load_batch(build_batch(tmp_path / "batch"))
    client = OneHit("studykit:some-other-batch:t00001")
    with pytest.raises(PostError, match="reconcile"):
        post_module._recover_hit_id(client, already_exists(f"There is already a HIT: {HIT_ID}."), batch, batch.tasks[1])


def test_recovery_does_not_depend_on_the_message(fake_server, tmp_path, monkeypatch):
    """A HitAlreadyExists whose message names no HIT: posting never creates a second HIT, and once it
    is done (at once, or after the error asks for another run) every task has exactly one HIT."""
    batch_dir = build_batch(tmp_path / "batch")
    fake_server.inject(Fault.DROP_CONNECTION, "CreateHITWithHITType")  # the reply to the first create is lost
    real_error = fake_server.fake._op_create_hit_with_hit_type

    def terse(params):
        try:
            return real_error(params)
        except Exception as error:
            if getattr(error, "turk_code", None) == HIT_ALREADY_EXISTS:
                error.args = ("There is already a HIT with this UniqueRequestToken.",)
            raise

    monkeypatch.setattr(fake_server.fake, "_op_create_hit_with_hit_type", terse)
    for _ in range(2):
        try:
            post(fake_server, batch_dir)
            break
        except PostError as error:
            assert "reconcile" in str(error) or "post again" in str(error)
    assert sorted(hit["RequesterAnnotation"] for hit in fake_server.fake.hits.values()) == \
        [f"studykit:sim-0a1b2c3d:t{i:05d}" for i in range(3)]
    with Ledger(batch_dir, fake_server.endpoint_url) as ledger:
        assert all(r.state == "created" for r in ledger.hits())
        assert {r.hit_id for r in ledger.hits()} == set(fake_server.fake.hits)

