"""After posting: fetch, review, bonus, notify, status, expire and delete (contract suite, then fake-only faults)."""

import csv
import json
import time
from decimal import Decimal

import pytest

from studykit.formats.results_csv import results_columns
from studykit.mturk.batch import load_batch
from studykit.mturk.client import Environment, make_client
from studykit.mturk.fetch import fetch_results, results_path
from studykit.mturk.ledger import Ledger
from studykit.mturk.lifecycle import batch_status, delete_batch, expire_batch
from studykit.mturk.post import post_batch, prepare_post
from studykit.mturk.qualifications import Qualifications
from studykit.mturk.review import (Bonus, Decision, approve_all, decide, decisions_from_csv, notify_workers,
                                   pay_bonuses, review_assignments)

W1, W2, W3 = "A1STUDYKITWORKER1", "A2STUDYKITWORKER2", "A3STUDYKITWORKER3"


def posted(mturk, batch_dir):
    """Post the batch; returns (batch, ledger, hit ids in task order). The caller closes the ledger."""
    batch = load_batch(batch_dir)
    ledger = Ledger(batch_dir, mturk.environment.endpoint)
    plan = prepare_post(mturk.client, batch, ledger, mturk.environment, Qualifications())
    post_batch(mturk.client, batch, ledger, plan)
    return batch, ledger, [record.hit_id for record in ledger.hits()]


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------------------------- contract suite
def test_fetch_writes_batch_results_incrementally(mturk, batch_dir):
    def scenario(mturk, batch_dir):
        batch, ledger, hits = posted(mturk, batch_dir)
        mturk.submit(hits[0], {"task_id": "t00000", "choice": "A", "match": ["A", "B"], "confidence": "3",
                               "doNotRedirect": "true"}, worker_id=W1)
        mturk.submit(hits[0], {"task_id": "t00000", "choice": "B", "confidence": "0"}, worker_id=W2)
        mturk.submit(hits[1], {"task_id": "t00001", "choice": "A", "match": "B", "confidence": "2"}, worker_id=W1)
        path = results_path(batch, mturk.environment)
        first = fetch_results(mturk.client, batch, ledger, path)
        second = fetch_results(mturk.client, batch, ledger, path)
        mturk.submit(hits[2], {"task_id": "t00002", "choice": "B", "confidence": "1", "comment": 'a "new", field'},
                     worker_id=W3)
        third = fetch_results(mturk.client, batch, ledger, path)
        ledger.close()
        raw = [json.loads(line) for line in third.raw_jsonl.read_text().splitlines()]
        counts = [(r.n_hits, r.n_assignments, r.n_new, r.rows_added) for r in (first, second, third)]
        return counts, path.read_bytes(), read_csv(path), raw

    counts, data, rows, raw = mturk.run(scenario, batch_dir)
    assert counts == [(3, 3, 3, 3), (3, 3, 0, 0), (3, 4, 1, 4)]  # a new answer field: the CSV is rebuilt
    header = data.split(b"\r\n")[0].decode()
    assert header.split(",") == [f'"{c}"' for c in results_columns(
        ["task_id", "image_a", "target_class"], ["choice", "comment", "confidence", "match", "task_id"])]
    assert len(rows) == 4 and len({r["AssignmentId"] for r in rows}) == 4
    assert [r["Answer.match"] for r in rows] == ["A|B", "", "B", ""]
    assert [r["Input.task_id"] for r in rows] == [r["Answer.task_id"] for r in rows] == [
        "t00000", "t00000", "t00001", "t00002"]
    assert rows[3]["Answer.comment"] == 'a "new", field'
    first_row = rows[0]
    assert (first_row["WorkerId"], first_row["AssignmentStatus"], first_row["Reward"]) == (W1, "Submitted", "$0.04")
    assert first_row["WorkTimeInSeconds"] == "60" and first_row["Input.target_class"] == "class 0"
    assert first_row["RequesterAnnotation"] == "studykit:sim-0a1b2c3d:t00000"
    assert first_row["SubmitTime"].split()[4] in ("PST", "PDT") and first_row["Expiration"]
    assert len(raw) == 4 and raw[0]["TaskId"] == "t00000" and "<QuestionFormAnswers" in raw[0]["Answer"]


def test_review_bonus_notify_status_expire_delete(mturk, batch_dir):
    def scenario(mturk, batch_dir):
        batch, ledger, hits = posted(mturk, batch_dir)
        for hit, worker, confidence in ((hits[0], W1, "3"), (hits[0], W2, "0"), (hits[1], W1, "2")):
            mturk.submit(hit, {"choice": "A", "confidence": confidence}, worker_id=worker)
        fetch_results(mturk.client, batch, ledger, results_path(batch, mturk.environment))
        submitted = ledger.assignments()

        def rule(assignment, answers):
            if answers["confidence"] == "0":
                return Decision(assignment.assignment_id, approve=False, feedback="The attention check failed.")
            return approve_all(assignment, answers)

        review = review_assignments(mturk.client, ledger, decide(submitted, rule))
        again = review_assignments(mturk.client, ledger, [Decision(a.assignment_id, True) for a in submitted])
        bonus = pay_bonuses(mturk.client, ledger, [Bonus(submitted[0].assignment_id, "0.25", "Thank you!")])
        bonus_again = pay_bonuses(mturk.client, ledger, [Bonus(submitted[0].assignment_id, "0.25", "Thank you!")])
        unknown = [f"A{i:013d}" for i in range(148)]
        failures = notify_workers(mturk.client, [W1, W2, *unknown, W1], "Follow-up study", "A new study is up.")
        status = batch_status(mturk.client, batch, ledger)
        expired = expire_batch(mturk.client, ledger), expire_batch(mturk.client, ledger)
        deleted = delete_batch(mturk.client, ledger), delete_batch(mturk.client, ledger)
        final = batch_status(mturk.client, batch, ledger)
        actions = [(a.kind, a.state, a.amount) for a in ledger.actions()]
        ledger.close()
        return review, again, bonus, bonus_again, sorted(failures), status, expired, deleted, final, actions

    outcome = mturk.run(scenario, batch_dir)
    review, again, bonus, bonus_again, failures, status, expired, deleted, final, actions = outcome
    assert (review.done, review.failed) == (3, {})
    assert (again.done, again.skipped, len(again.failed)) == (0, 2, 1)  # one was rejected: not re-approved
    assert "already rejected" in next(iter(again.failed.values()))
    assert (bonus.done, bonus_again.done, bonus_again.skipped) == (1, 0, 1)
    assert failures == sorted(f"A{i:013d}" for i in range(148))
    assert status.hits == {"Reviewable": 1, "Assignable": 2}
    assert status.assignments == {"Available": 3, "Pending": 0, "Approved": 2, "Rejected": 1}
    assert status.spent == Decimal("0.40")  # 2 x ($0.04 + $0.01 fee) + $0.25 bonus + $0.05 fee
    assert "spent so far: $0.40" in status.describe()
    assert [(r.done, r.skipped) for r in expired] == [(3, 0), (0, 3)]
    assert [(r.done, r.skipped) for r in deleted] == [(3, 0), (0, 3)]
    assert final.hits == {"Deleted": 3}
    assert actions == [("approve", "done", None), ("reject", "done", None), ("approve", "done", None),
                       ("bonus", "done", "0.25")]


# ---------------------------------------------------------------------------------- faults and edge cases (fake)
def test_a_bonus_is_never_paid_twice_even_when_the_ledger_missed_it(live, batch_dir, monkeypatch):
    batch, ledger, hits = posted(live, batch_dir)
    assignment = live.submit(hits[0], {"choice": "A"}, worker_id=W1)
    fetch_results(live.client, batch, ledger, results_path(batch, live.environment))
    original = Ledger.record_action

    def crash_when_done(self, kind, assignment_id, worker_id, *, state, **fields):
        if state == "done":
            raise KeyboardInterrupt("killed after SendBonus, before the ledger write")
        return original(self, kind, assignment_id, worker_id, state=state, **fields)

    monkeypatch.setattr(Ledger, "record_action", crash_when_done)
    with pytest.raises(KeyboardInterrupt):
        pay_bonuses(live.client, ledger, [Bonus(assignment, "1.00", "Great work")])
    monkeypatch.setattr(Ledger, "record_action", original)
    live.server.fake.forget_request_tokens()
    report = pay_bonuses(live.client, ledger, [Bonus(assignment, "1.00", "Great work")])
    assert (report.done, report.skipped) == (0, 1)
    assert len(live.server.fake.bonuses) == 1 and ledger.action("bonus", assignment).state == "done"
    ledger.close()


def test_an_auto_approved_assignment_cannot_be_rejected(live, batch_dir):
    batch, ledger, hits = posted(live, batch_dir)
    assignment = live.submit(hits[0], {"choice": "A"}, worker_id=W1)
    fetch_results(live.client, batch, ledger, results_path(batch, live.environment))
    live.server.fake.assignments[assignment]["AutoApprovalTime"] = time.time() - 1
    report = review_assignments(live.client, ledger, [Decision(assignment, approve=False, feedback="late")])
    assert "InvalidAssignmentState" in report.failed[assignment] and "Approved" in report.failed[assignment]
    assert ledger.action("reject", assignment).state == "failed"
    unknown = review_assignments(live.client, ledger, [Decision("NOTFETCHED", approve=True)])
    assert "fetch first" in unknown.failed["NOTFETCHED"]
    ledger.close()


def test_delete_reports_hits_with_unreviewed_work(live, batch_dir):
    batch, ledger, hits = posted(live, batch_dir)
    live.submit(hits[0], {"choice": "A"}, worker_id=W1)
    expire_batch(live.client, ledger)
    report = delete_batch(live.client, ledger)
    assert report.done == 2 and "InvalidHITState" in report.failed[hits[0]]
    ledger.close()


def test_decisions_from_a_marked_up_results_csv(tmp_path):
    path = tmp_path / "marked.csv"
    path.write_text('"AssignmentId","Answer.choice","Approve","Reject"\r\n"A1","x","x",""\r\n'
                    '"A2","y","","Wrong image chosen on every attention check."\r\n"A3","z"\r\n')
    decisions = decisions_from_csv(path)
    assert [(d.assignment_id, d.approve, d.feedback) for d in decisions] == [
        ("A1", True, ""), ("A2", False, "Wrong image chosen on every attention check.")]
    with pytest.raises(ValueError, match="feedback"):
        Decision("A4", approve=False)
    with pytest.raises(ValueError, match="0.50"):
        Bonus("A5", "$0.50", "thanks")


def test_notify_validates_its_message(fake_server):
    client = make_client(Environment(endpoint_url=fake_server.endpoint_url))
    with pytest.raises(ValueError, match="subject"):
        notify_workers(client, ["A1"], "x" * 201, "hello")


def test_fetch_never_overwrites_a_csv_of_another_layout(live, batch_dir, tmp_path):
    batch, ledger, hits = posted(live, batch_dir)
    live.submit(hits[0], {"choice": "A"}, worker_id=W1)
    foreign = tmp_path / "Batch_123_batch_results.csv"
    foreign.write_bytes(b'"HITId","AssignmentId","Answer.choice"\r\n"H","A","x"\r\n')
    with pytest.raises(ValueError, match="columns differ"):
        fetch_results(live.client, batch, ledger, foreign)
    assert foreign.read_bytes() == b'"HITId","AssignmentId","Answer.choice"\r\n"H","A","x"\r\n'
    ledger.close()
