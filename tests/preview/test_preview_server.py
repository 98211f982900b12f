"""The preview server over HTTP: index, MTurk's iframe parameters, files, and recorded submissions."""

import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from studykit.analysis.annotations import load_annotations
from studykit.formats.batch import read_batch
from studykit.analysis.load import read_results_csv
from preview_http import submit
from studykit.preview import PREVIEW_ASSIGNMENT


def _get(url):
    with urllib.request.urlopen(url) as response:
        return response.status, response.headers["Content-Type"], response.read()


def _frame_parameters(server, task_id, mode, worker="AWORKER1"):
    _, _, body = _get(f"{server.url}hit/{task_id}?mode={mode}&workerId={worker}")
    src = re.search(r'<iframe id="hit-frame"[^>]* src="([^"]+)"', body.decode()).group(1).replace("&amp;", "&")
    url = urllib.parse.urlsplit(src)
    return url.path, {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}


def test_index_lists_every_hit(servers, preview_batches):
    server = servers["simulatability"]
    status, kind, body = _get(server.url)
    assert status == 200 and kind.startswith("text/html")
    tasks = read_batch(preview_batches["simulatability"]).tasks["task_id"]
    assert all(f'id="accept-{task_id}"' in body.decode() for task_id in tasks)
    assert server.url.startswith("http://127.0.0.1:")


def test_frame_passes_mturks_parameters(servers):
    server = servers["spurious"]
    path, preview = _frame_parameters(server, "t00002", "preview")
    assert path == "/hits/t00002.html"
    assert preview == {"assignmentId": PREVIEW_ASSIGNMENT, "hitId": "PREVIEWT00002",
                       "turkSubmitTo": server.url.rstrip("/"), "workerId": "AWORKER1"}
    _, accepted = _frame_parameters(server, "t00002", "accept")
    assert accepted["assignmentId"] in server.assignments and accepted["assignmentId"] != PREVIEW_ASSIGNMENT


def test_files_are_served_and_nothing_else(servers, preview_batches):
    server = servers["misclassification"]
    asset = next((preview_batches["misclassification"] / "assets").iterdir()).name
    assert _get(f"{server.url}assets/{asset}")[1] == "image/png"
    assert _get(f"{server.url}hits/t00000.html")[1].startswith("text/html")
    for path in ("answer_key.csv", "hits/t00000.xml", "assets/..%2Fanswer_key.csv", "hit/t99999"):
        with pytest.raises(urllib.error.HTTPError) as error:
            _get(server.url + path)
        assert error.value.code == 404


def test_submissions_become_batch_results_rows(servers, preview_batches):
    server = servers["misclassification"]
    batch = preview_batches["misclassification"]
    _, parameters = _frame_parameters(server, "t00001", "accept", worker="APILOT7")
    fields = [("assignmentId", parameters["assignmentId"]), ("task_id", "t00001"), ("match", "A"),
              ("match", "B"), ("best", "B"), ("confidence", "3")]
    status, body = submit(server, fields)
    assert status == 200 and "was recorded" in body
    assert "already submitted" in submit(server, fields)[1]
    raw = read_results_csv(server.results_path)
    row = raw.frame[raw.frame["AssignmentId"] == parameters["assignmentId"]].iloc[0]
    assert (row["WorkerId"], row["Input.task_id"], row["Answer.match"], row["Answer.best"]) == \
        ("APILOT7", "t00001", "A|B", "B")
    assert row["Reward"] == "$0.03" and re.fullmatch(r"\w{3} \w{3} \d\d \d\d:\d\d:\d\d P[SD]T \d{4}", row["SubmitTime"])
    manifest = read_batch(batch)
    annotations = load_annotations(server.results_path, "misclassification", salt="s",
                                   answers=manifest.answers, answer_key=manifest.answer_key)
    record = annotations.frame.iloc[-1]
    assert (record["task"], record["match"], record["confidence"], record["condition"]) == \
        ("t00001", "A|B", 3.0, manifest.answer_key.set_index("task_id").loc["t00001", "condition"])


def test_preview_and_unknown_assignments_are_refused(servers):
    server = servers["simulatability"]
    for assignment in (PREVIEW_ASSIGNMENT, "NOPE", ""):
        status, body = submit(server, [("assignmentId", assignment), ("choice", "A")])
        assert status == 403 and "accept the HIT" in body
    assert not server.results_path.exists()
