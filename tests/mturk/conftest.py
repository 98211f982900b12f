"""Fixtures for the MTurk tests: dummy credentials, the fake MTurk server, small batch folders, and the
``mturk`` backend that runs one contract scenario against the fake server and against botocore's Stubber.

The Stubber backend first runs the scenario against a fake server (on a scratch copy of the batch
folder) while recording every API call and parsed response, then runs it again on the real batch
folder with the client stubbed with that recording: the code must make exactly the same calls with
the same parameters, botocore validates every recorded response against the MTurk service model
(so the fake's replies are checked against the model), and both runs must give the same outcome.
"""

import copy
import shutil

import pytest
from botocore import xform_name
from mturk_batch_factory import build_batch

from studykit.mturk.client import Environment, make_client
from studykit.mturk.local import FakeMTurkServer


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch, tmp_path_factory):
    """Dummy credentials through boto3's standard chain; no user AWS configuration is read."""
    empty = tmp_path_factory.mktemp("aws") / "none"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTING")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_MTURK", "AWS_MAX_ATTEMPTS",
                 "AWS_RETRY_MODE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_server():
    """A running fake MTurk server on 127.0.0.1 (ephemeral port), stopped after the test."""
    with FakeMTurkServer() as server:
        yield server


@pytest.fixture
def batch_dir(tmp_path):
    """A three-task batch folder with HTTPS image URLs and two assignments per HIT."""
    return build_batch(tmp_path / "batch")


class _Recorder:
    """Records each API call's parameters and parsed response (after botocore's retries)."""

    def __init__(self, client):
        self.calls = []
        self._params = None
        client.meta.events.register("before-parameter-build.mturk", self._before)
        client.meta.events.register("after-call.mturk", self._after)

    def _before(self, params, model, **kwargs):
        self._params = copy.deepcopy(params)

    def _after(self, parsed, model, **kwargs):
        self.calls.append((xform_name(model.name), self._params, copy.deepcopy(parsed)))


def _stub(client, calls):
    from botocore.stub import Stubber

    stubber = Stubber(client)
    for operation, params, parsed in calls:
        if "Error" in parsed:
            modeled = {k: v for k, v in parsed.items() if k not in ("Error", "ResponseMetadata")}
            stubber.add_client_error(operation, service_error_code=parsed["Error"]["Code"],
                                     service_message=parsed["Error"]["Message"],
                                     http_status_code=parsed["ResponseMetadata"]["HTTPStatusCode"],
                                     expected_params=params, modeled_fields=modeled or None)
        else:
            response = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
            stubber.add_response(operation, response, expected_params=params)
    return stubber


class FakeBackend:
    """Runs a scenario against the fake server."""

    name = "fake"

    def __init__(self, server):
        self.server = server
        self.environment = Environment(endpoint_url=server.endpoint_url)
        self.client = make_client(self.environment)

    def submit(self, hit_id, answers, worker_id=None, work_seconds=60.0):
        return self.server.fake.submit_assignment(hit_id, answers, worker_id=worker_id, work_seconds=work_seconds)

    def inject(self, fault, operation=None, times=1):
        self.server.inject(fault, operation, times=times)

    def run(self, scenario, batch_dir):
        return scenario(self, batch_dir)


class StubberBackend:
    """Records a scenario against the fake server, then replays it through botocore's Stubber."""

    name = "stubber"

    def __init__(self, tmp_path):
        self._tmp_path = tmp_path

    def run(self, scenario, batch_dir):
        scratch = self._tmp_path / "recording"
        shutil.copytree(batch_dir, scratch)
        with FakeMTurkServer() as server:
            recording = FakeBackend(server)
            recorder = _Recorder(recording.client)
            submitted = []
            real_submit = recording.submit
            recording.submit = lambda *a, **k: submitted.append(real_submit(*a, **k)) or submitted[-1]
            expected = scenario(recording, scratch)
        self.environment = recording.environment
        self.client = make_client(self.environment)
        replies = iter(submitted)
        self.submit = lambda *a, **k: next(replies)
        self.inject = lambda *a, **k: None
        with _stub(self.client, recorder.calls) as stubber:
            outcome = scenario(self, batch_dir)
            stubber.assert_no_pending_responses()
        assert outcome == expected
        return outcome


@pytest.fixture
def live(fake_server):
    """The fake-server backend alone, for tests of faults and edge cases the Stubber cannot replay."""
    return FakeBackend(fake_server)


@pytest.fixture(params=["fake", "stubber"])
def mturk(request, tmp_path):
    """The contract-suite backend: ``mturk.run(scenario, batch_dir)`` returns the scenario's outcome."""
    if request.param == "fake":
        with FakeMTurkServer() as server:
            yield FakeBackend(server)
    else:
        yield StubberBackend(tmp_path)
