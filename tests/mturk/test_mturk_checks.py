"""Client factory, pre-flight checks, cost estimates, qualifications and Answer XML parsing: no calls."""

import json
from decimal import Decimal

import pytest
from mturk_batch_factory import build_batch, question_xml

from studykit.mturk.answers import format_answers, parse_answers
from studykit.mturk.batch import HITSpec, load_batch, parse_annotation
from studykit.mturk.client import PRODUCTION_ENDPOINT, SANDBOX_ENDPOINT, Environment, make_client
from studykit.mturk.cost import bonus_cost, estimate_cost, fee_rate
from studykit.mturk.preflight import PreflightError, check_question, preflight
from studykit.mturk.qualifications import MASTERS_PRODUCTION, MASTERS_SANDBOX, Qualifications

HIT = dict(title="t", description="d", keywords="k", reward="0.04", max_assignments=5,
           assignment_duration_seconds=600, lifetime_seconds=86400, auto_approval_delay_seconds=259200)


# ---------------------------------------------------------------------------------- client
def test_sandbox_is_the_default_and_endpoints_are_explicit():
    assert Environment().endpoint == SANDBOX_ENDPOINT
    assert Environment(production=True).endpoint == PRODUCTION_ENDPOINT
    client = make_client(Environment())
    assert client.meta.endpoint_url == SANDBOX_ENDPOINT
    assert client.meta.region_name == "us-east-1"
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.config.retries["total_max_attempts"] == 10


def test_endpoint_override_from_option_or_environment_variable(monkeypatch):
    assert Environment.from_options(endpoint_url="http://127.0.0.1:9/").endpoint == "http://127.0.0.1:9"
    monkeypatch.setenv("AWS_ENDPOINT_URL_MTURK", "http://127.0.0.1:7")
    assert Environment.from_options().endpoint == "http://127.0.0.1:7"
    assert make_client(Environment.from_options()).meta.endpoint_url == "http://127.0.0.1:7"


def test_production_endpoint_needs_production(monkeypatch):
    with pytest.raises(ValueError, match="production"):
        Environment(endpoint_url=PRODUCTION_ENDPOINT)
    monkeypatch.setenv("AWS_ENDPOINT_URL_MTURK", PRODUCTION_ENDPOINT + "/")
    with pytest.raises(ValueError, match="production"):
        Environment.from_options()
    with pytest.raises(ValueError, match="sandbox"):
        Environment(production=True, endpoint_url=SANDBOX_ENDPOINT)
    with pytest.raises(ValueError, match="http"):
        Environment(endpoint_url="mturk.local")


@pytest.mark.parametrize("url", [
    "https://mturk-requester.us-east-1.amazonaws.com.", "https://MTURK-Requester.US-EAST-1.amazonaws.com",
    "https://mturk-requester.us-east-1.amazonaws.com:443/", "http://mturk-requester.us-east-1.amazonaws.com.:443"])
def test_the_production_host_is_recognised_however_written(url):
    with pytest.raises(ValueError, match="production needs production=True"):
        Environment(endpoint_url=url)
    production = Environment(production=True, endpoint_url=url)
    assert production.describe().startswith("MTurk PRODUCTION")
    assert (production.label, production.ledger_key) == ("production", PRODUCTION_ENDPOINT)
    with pytest.raises(ValueError, match="sandbox"):
        Environment(production=True, endpoint_url=SANDBOX_ENDPOINT.upper() + ".")


def test_connections_time_out_fast_and_retries_are_logged(fake_server, caplog):
    import socket

    from botocore.exceptions import EndpointConnectionError

    from studykit.mturk.local import Fault

    client = make_client(Environment(endpoint_url=fake_server.endpoint_url))
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (5, 60)
    fake_server.inject(Fault.THROTTLE, "GetAccountBalance")
    with caplog.at_level("WARNING", logger="studykit.mturk.client"):
        client.get_account_balance()
    assert [r.getMessage() for r in caplog.records] == [
        "MTurk GetAccountBalance: HTTP 400 ThrottlingException; retrying (attempt 2 of 10)"]
    caplog.clear()
    with socket.socket() as probe:   # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    unreachable = make_client(Environment(endpoint_url=f"http://127.0.0.1:{closed}"), max_attempts=2)
    with caplog.at_level("WARNING", logger="studykit.mturk.client"), pytest.raises(EndpointConnectionError):
        unreachable.get_account_balance()
    assert len(caplog.records) == 1 and "EndpointConnectionError" in caplog.records[0].getMessage()
    assert "attempt 2 of 2" in caplog.records[0].getMessage()


# ---------------------------------------------------------------------------------- manifest and pre-flight
@pytest.mark.parametrize("field, value, message", [
    ("reward", "$0.04", "reward"), ("reward", "0.5", "reward"), ("reward", 0.04, "reward"),
    ("reward", "0.00", "0.01"), ("max_assignments", 0, "max_assignments"),
    ("lifetime_seconds", 10, "lifetime_seconds"), ("lifetime_seconds", 40_000_000, "lifetime_seconds"),
    ("assignment_duration_seconds", "60", "assignment_duration_seconds"),
    ("auto_approval_delay_seconds", 2_592_001, "auto_approval_delay_seconds"), ("title", "x" * 129, "title"),
])
def test_hit_spec_names_the_bad_value(field, value, message):
    with pytest.raises(ValueError, match=message):
        HITSpec(**{**HIT, field: value})


def test_a_valid_batch_passes_preflight(batch_dir):
    batch = load_batch(batch_dir)
    preflight(batch)
    assert batch.request_token(batch.tasks[2]) == "studykit-sim-0a1b2c3d-t00002"
    assert parse_annotation(batch.annotation(batch.tasks[2])) == ("sim-0a1b2c3d", "t00002")
    assert parse_annotation("BatchId:3539631;OriginalHitTemplateId:920937340;") is None


def test_preflight_lists_every_problem(tmp_path):
    batch_dir = build_batch(tmp_path / "b", hosted=False, max_assignments=12, batch_id="x" * 60)
    big = question_xml("t00001", "https://images.example.org/a.png").replace("<body>", "<body>" + "x" * 70_000)
    (batch_dir / "hits" / "t00001.xml").write_text(big)
    (batch_dir / "hits" / "t00002.xml").write_text("<HTMLQuestion><oops></HTMLQuestion>")
    with pytest.raises(PreflightError) as info:
        preflight(load_batch(batch_dir))
    text = str(info.value)
    assert "max_assignments=12" in text and "65,535" in text and "not well-formed" in text
    assert "not HTTPS" in text and "'assets/" in text and "UniqueRequestToken" in text
    assert sum("max_assignments" in problem for problem in info.value.problems) == 1


def test_high_fee_can_be_accepted(tmp_path):
    preflight(load_batch(build_batch(tmp_path / "b", max_assignments=12)), accept_high_fee=True)


def test_question_urls_must_be_https():
    page = question_xml("t0", "http://example.org/a.png").encode()
    assert "not HTTPS" in check_question(page, "p.xml")[0]
    styled = question_xml("t0", "data:image/png;base64,AAAA").replace(
        "<body>", '<body style="background: url(//cdn.example.org/bg.png)">').encode()
    assert "//cdn.example.org/bg.png" in check_question(styled, "p.xml")[0]
    external = (b'<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/'
                b'2006-07-14/ExternalQuestion.xsd"><ExternalURL>https://example.org/x?a=1&amp;b=2</ExternalURL>'
                b"<FrameHeight>0</FrameHeight></ExternalQuestion>")
    assert check_question(external, "e.xml") == []


def test_missing_page_and_malformed_manifest(batch_dir):
    (batch_dir / "hits" / "t00001.xml").unlink()
    with pytest.raises(PreflightError, match="t00001.xml: missing"):
        preflight(load_batch(batch_dir))
    manifest = json.loads((batch_dir / "manifest.json").read_text())
    manifest["n_hits"] = 7
    (batch_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="n_hits"):
        load_batch(batch_dir)


# ---------------------------------------------------------------------------------- cost
def test_cost_matches_hand_computed_figures():
    # 100 HITs x 5 assignments x $0.04 = $20.00; fee 20% of $0.04 = $0.008 -> the $0.01 minimum, x 500 = $5.00.
    small = estimate_cost(HITSpec(**HIT), 100)
    assert (small.total_reward, small.fee_per_assignment, small.total_fee, small.total) == (
        Decimal("20.00"), Decimal("0.01"), Decimal("5.00"), Decimal("25.00"))
    # 20 HITs x 10 assignments x $0.50 = $100.00; fee 40% (10+ assignments) = $0.20 x 200 = $40.00.
    big = estimate_cost(HITSpec(**{**HIT, "reward": "0.50", "max_assignments": 10}), 20)
    assert (big.fee_rate, big.total_reward, big.total_fee, big.total) == (
        Decimal("0.40"), Decimal("100.00"), Decimal("40.00"), Decimal("140.00"))
    # 7 HITs x 3 x $0.12 = $2.52; fee 20% = $0.024, rounded up to $0.03, x 21 = $0.63.
    mid = estimate_cost(HITSpec(**{**HIT, "reward": "0.12", "max_assignments": 3}), 7)
    assert (mid.total_reward, mid.total_fee, mid.total) == (Decimal("2.52"), Decimal("0.63"), Decimal("3.15"))
    assert "$3.15" in mid.describe()
    assert fee_rate(9, masters=True) == Decimal("0.25")
    assert bonus_cost(Decimal("1.00")) == Decimal("1.20")


# ---------------------------------------------------------------------------------- qualifications
def test_default_qualifications_and_masters_ids():
    quals = Qualifications(masters=True)
    production = quals.requirements(production=True)
    ids = [r["QualificationTypeId"] for r in production]
    assert ids == ["000000000000000000L0", "00000000000000000040", "00000000000000000071", MASTERS_PRODUCTION]
    assert production[0]["IntegerValues"] == [95] and production[1]["IntegerValues"] == [1000]
    assert production[2]["LocaleValues"] == [{"Country": "US"}]
    assert quals.requirements(production=False) == []
    sandbox = Qualifications(masters=True, apply_in_sandbox=True).requirements(production=False)
    assert sandbox[-1]["QualificationTypeId"] == MASTERS_SANDBOX
    assert Qualifications(min_approval_rate=None, min_approved_hits=None, countries=()).requirements(True) == []
    with pytest.raises(ValueError, match="min_approval_rate"):
        Qualifications(min_approval_rate=101)
    with pytest.raises(ValueError, match="usa"):
        Qualifications(countries=("usa",))


# ---------------------------------------------------------------------------------- answers
def test_parse_answers_handles_real_world_shapes():
    xml = ('<?xml version="1.0" encoding="ASCII"?><QuestionFormAnswers xmlns="http://mechanicalturk.amazonaws.com/'
           'AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd">'
           "<Answer><QuestionIdentifier>choice</QuestionIdentifier><FreeText>A</FreeText></Answer>"
           "<Answer><QuestionIdentifier>match</QuestionIdentifier><FreeText>A|B</FreeText></Answer>"
           "<Answer><QuestionIdentifier>doNotRedirect</QuestionIdentifier><FreeText>true</FreeText></Answer>"
           "<Answer><QuestionIdentifier>comment</QuestionIdentifier><FreeText/></Answer>"
           "<Answer><QuestionIdentifier>pick</QuestionIdentifier><SelectionIdentifier>x</SelectionIdentifier>"
           "<SelectionIdentifier>y</SelectionIdentifier></Answer></QuestionFormAnswers>")
    assert parse_answers(xml) == {"choice": "A", "match": "A|B", "comment": "", "pick": "x|y"}
    assert parse_answers(None) == {} and parse_answers("") == {}
    with pytest.raises(ValueError, match="malformed"):
        parse_answers("<QuestionFormAnswers>")


def test_format_answers_round_trips():
    answers = {"choice": "B", "match": ["A", "B"], "text": 'caf\u00e9 <b>"&"</b>, line\nbreak'}
    assert parse_answers(format_answers(answers)) == {"choice": "B", "match": "A|B", "text": answers["text"]}
