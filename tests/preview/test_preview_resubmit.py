"""The preview server takes one submission per (worker, HIT), as MTurk, and only the HIT's own task_id."""

import threading

import pytest

from studykit.analysis.load import read_results_csv
from preview_http import submit
from studykit.preview import PreviewServer


@pytest.fixture
def serve(preview_batches, tmp_path):
    """Start a server on a fresh copy of the simulatability batch; stopped after the test."""
    import shutil

    started = []

    def start(**options):
        batch = tmp_path / "batch"
        if not batch.exists():
            shutil.copytree(preview_batches["simulatability"], batch)
        server = PreviewServer(batch, **options)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def _answer(server, task_id, worker, posted_task=None):
    assignment = server.accept(task_id, worker)
    return submit(server, [("assignmentId", assignment), ("task_id", posted_task or task_id), ("choice", "A"),
                          ("confidence", "2")])


def test_a_worker_submits_a_hit_once(serve):
    server = serve()
    assert _answer(server, "t00003", "AWORKER1")[0] == 200
    status, body = _answer(server, "t00003", "AWORKER1")          # a second accepted assignment
    assert status == 403 and "already submitted HIT t00003" in body and "--allow-resubmit" in body
    assert _answer(server, "t00003", "AWORKER2")[0] == 200         # another worker: fine
    assert _answer(server, "t00004", "AWORKER1")[0] == 200         # another HIT: fine
    rows = read_results_csv(server.results_path).frame
    assert sorted(zip(rows["WorkerId"], rows["Input.task_id"])) == [
        ("AWORKER1", "t00003"), ("AWORKER1", "t00004"), ("AWORKER2", "t00003")]
    server.shutdown()
    server.server_close()
    restarted = serve()                                           # the refusal survives a restart
    assert _answer(restarted, "t00003", "AWORKER1")[0] == 403


def test_allow_resubmit_records_each_submission(serve):
    server = serve(allow_resubmit=True)
    assert _answer(server, "t00003", "AWORKER1")[0] == 200
    assert _answer(server, "t00003", "AWORKER1")[0] == 200
    assert len(read_results_csv(server.results_path).frame) == 2


def test_a_task_id_that_is_not_the_hits_is_refused(serve):
    server = serve()
    status, body = _answer(server, "t00003", "AWORKER1", posted_task="t00005")
    assert status == 403 and "is for HIT t00003" in body and "t00005" in body
    assert not server.results_path.exists()
