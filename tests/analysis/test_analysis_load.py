"""The batch-results CSV reader against hand-written files reproducing each real-world quirk."""

import pandas as pd
import pytest

from studykit.formats.results_csv import append_results
from studykit.analysis.load import parse_approval_rates, parse_rewards, parse_times, read_results_csv

HEADER = ["HITId", "HITTypeId", "Title", "Reward", "CreationTime", "AssignmentId", "WorkerId", "AssignmentStatus",
          "SubmitTime", "WorkTimeInSeconds", "LifetimeApprovalRate", "Input.task_id", "Input.caption",
          "Answer.choice", "Answer.confidence", "Approve", "Reject"]


def quoted(cells):
    return ",".join('"' + str(c).replace('"', '""') + '"' for c in cells)


def row(assignment, worker, choice="A", confidence="2", *, time="Mon Nov 04 22:15:19 PST 2019", trailing=False):
    cells = ["3H1", "3T1", "Pick one", "$0.05 ", "Mon Nov 04 20:00:00 PST 2019", assignment, worker, "Submitted",
             time, "31", "100% (36/36)", "t00000", '<b>Which</b> "image"?<br>', choice, confidence]
    return cells + (["", ""] if trailing else [])


def write(path, lines, *, newline="\r\n", bom=False):
    text = newline.join(lines) + newline
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def test_pristine_download_with_ragged_rows(tmp_path):
    """Every cell quoted, CRLF, data rows two fields short, $ reward with a space, HTML in an Input cell."""
    path = write(tmp_path / "batch.csv", [quoted(HEADER), quoted(row("A1", "W1")), quoted(row("A2", "W2", "B", "0",
                 time="Sun Jul 07 10:00:00 PDT 2019", trailing=True))])
    raw = read_results_csv(path)
    assert raw.problems.empty
    assert list(raw.frame["AssignmentId"]) == ["A1", "A2"]
    assert list(raw.frame["Approve"]) == ["", ""]
    assert raw.frame["Input.caption"].iloc[0] == '<b>Which</b> "image"?<br>'
    assert list(raw.frame["line"]) == [2, 3]
    assert parse_rewards(raw.frame["Reward"]).tolist() == [0.05, 0.05]


def test_bom_and_quoted_newlines_keep_line_numbers(tmp_path):
    free_text = row("A2", "W2")
    free_text[12] = "two\r\nlines"
    bad = row("A3", "W3")[:-3]
    path = write(tmp_path / "bom.csv", [quoted(HEADER), quoted(row("A1", "W1")), quoted(free_text), quoted(bad),
                                        quoted(row("A4", "W4"))], bom=True)
    raw = read_results_csv(path)
    assert raw.frame.columns[0] == "HITId"
    assert list(raw.frame["AssignmentId"]) == ["A1", "A2", "A4"]
    assert list(raw.frame["line"]) == [2, 3, 6]
    assert raw.problems.to_dict("records") == [{"line": 5, "assignment": "A3",
                                                "reason": "has 12 fields, the header has 17"}]


def test_pandas_resaved_file_with_index_and_crowd_radio_columns(tmp_path):
    """An unnamed index column, LF endings, True/False one-hot columns per option of a crowd radio group."""
    frame = pd.DataFrame({"HITId": ["H1", "H2"], "AssignmentId": ["A1", "A2"], "WorkerId": ["W1", "W2"],
                          "Input.task_id": ["t1", "t2"],
                          "Answer.choice.A": [True, False], "Answer.choice.B": [False, False],
                          "Answer.choice.C": [False, True],
                          "Answer.match.A": ["true", "true"], "Answer.match.B": ["false", "true"],
                          "Answer.sentiment.label": ["happy", "sad"]})
    frame.to_csv(tmp_path / "resaved.csv")
    raw = read_results_csv(tmp_path / "resaved.csv")
    assert "Unnamed: 0" not in raw.frame.columns and "" not in raw.frame.columns
    assert list(raw.frame["Answer.choice"]) == ["A", "C"]
    assert list(raw.frame["Answer.match"]) == ["A", "A|B"]
    assert list(raw.frame["Answer.sentiment.label"]) == ["happy", "sad"]
    assert not any(c.startswith("Answer.choice.") for c in raw.frame.columns)


def test_checkbox_pipes_and_turkle_lists(tmp_path):
    header = ["HITId", "AssignmentId", "WorkerId", "Answer.match"]
    path = write(tmp_path / "turkle.csv", [quoted(header), quoted(["H", "A1", "W", "A|B"]),
                                           quoted(["H", "A2", "W2", "['A', 'none']"])], newline="\n")
    assert list(read_results_csv(path).frame["Answer.match"]) == ["A|B", "A|none"]


def test_missing_columns_are_named(tmp_path):
    path = write(tmp_path / "bad.csv", [quoted(["HITId", "Answer.x"]), quoted(["H", "1"])])
    with pytest.raises(ValueError, match="missing column.*AssignmentId, WorkerId"):
        read_results_csv(path)


def test_legacy_cr_only_file_is_refused(tmp_path):
    path = write(tmp_path / "old.csv", ["HitId,HitTitle", "1,x"], newline="\r")
    with pytest.raises(ValueError, match="CR-only"):
        read_results_csv(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_results_csv(tmp_path / "nope.csv")


def test_times_in_pacific_time():
    times = parse_times(pd.Series(["Mon Nov 04 22:15:19 PST 2019", "Sun Jul 07 10:00:00 PDT 2019", "", "garbage"]))
    assert times.iloc[0] == pd.Timestamp("2019-11-05 06:15:19", tz="UTC")
    assert times.iloc[1] == pd.Timestamp("2019-07-07 17:00:00", tz="UTC")
    assert times.iloc[2:].isna().all()


def test_rewards_and_approval_rates():
    assert parse_rewards(pd.Series(["$0.05", "$0.67 ", "", "1.5"])).tolist()[:2] == [0.05, 0.67]
    rates = parse_approval_rates(pd.Series(["100% (36/36)", "0% (0/0)", "?"]))
    assert rates.iloc[0].tolist() == [100, 36, 36] and rates.iloc[1].tolist() == [0, 0, 0]
    assert rates.iloc[2].isna().all()


def test_reads_studykits_own_writer(tmp_path):
    """The layout formats.results_csv writes (fetch, preview, simulate) reads back cell for cell."""
    path = tmp_path / "own.csv"
    append_results(path, [{"HITId": "H", "AssignmentId": "A1", "WorkerId": "W", "Input.task_id": "t00000",
                           "Answer.choice": "B", "Answer.confidence": "3", "Reward": "$0.04"}],
                   input_fields=["task_id"], answer_fields=["choice", "confidence"])
    assert path.read_bytes().count(b"\r\n") == 2
    raw = read_results_csv(path)
    assert raw.problems.empty
    assert raw.frame.loc[0, ["Input.task_id", "Answer.choice", "Answer.confidence"]].tolist() == ["t00000", "B", "3"]
