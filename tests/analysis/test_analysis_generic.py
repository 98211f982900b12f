"""The generic analysis (``studykit analyze --question``) on a hand-written pilot batch, and its edge cases."""

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from studykit.analysis.generic import VOTES_COLUMNS, analyze_results, write_results_analysis
from studykit.analysis.report import write_csv
from studykit.cli import main

DATA = Path(__file__).parent / "data"
PILOT, KEY = DATA / "pilot_batch_results.csv", DATA / "pilot_answer_key.csv"
HITS = {f"3PILOTHIT00000000000000000000{i}" for i in range(1, 6)}


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def test_cli_on_the_pilot_sample(tmp_path):
    out = tmp_path / "report"
    result = invoke("analyze", PILOT, "--question", "Answer.sentiment", "--question", "Answer.coherence*",
                    "--confidence", "Answer.confidence", "--answer-key", KEY, "--out", out, "--salt", "s")
    assert result.exit_code == 0, result.output
    votes = pd.read_csv(out / "votes.csv", dtype=str, keep_default_na=False)
    assert tuple(votes.columns) == VOTES_COLUMNS
    sentiment = votes[votes["question"] == "sentiment"].set_index("task")
    # s02: worker BB's second answer (line 9, "positive", confidence 3) is a duplicate and the rejected
    # assignment (line 8) is dropped; counted, they would make a tie or turn the vote.
    assert sentiment.loc["s02", ["label", "n_annotators", "tied"]].tolist() == ["negative", "2", "False"]
    assert sentiment.loc["s01", "label"] == "positive" and sentiment.loc["s01", "n_annotators"] == "3"
    assert "s04" in sentiment.index and "s03" in sentiment.index
    coherence = votes[votes["question"] == "coherence"].set_index("task")
    assert coherence.loc["s05/coherence_1", "label"] == "no" and "s03/coherence_2" not in coherence.index
    exclusions = pd.read_csv(out / "qc_exclusions.csv", keep_default_na=False)
    by_rule = exclusions.groupby("rule")["line"].apply(set).to_dict()
    assert by_rule["duplicate_worker"] == {9} and by_rule["rejected"] == {8}
    assert by_rule["unparseable"] == {18} and by_rule["blank_worker"] == {12, 13}
    report = (out / "report.md").read_text()
    assert "line 18: has 12 fields, the header has 19" in report
    assert "not a number (lines 15)" in report
    accuracy = pd.read_csv(out / "accuracy.csv").set_index(["question", "of"])
    assert accuracy.loc[("sentiment", "vote"), ["n", "correct"]].tolist() == [5, 5]
    assert accuracy.loc[("sentiment", "single answers"), ["n", "correct"]].tolist() == [11, 9]
    tex = (out / "accuracy.tex").read_text()
    assert tex.count(r"\caption") == 1 and r"\begin{tabular}{llrrrr}" in tex


def test_python_api_without_confidence_and_with_the_batch_hits():
    analysis = analyze_results(PILOT, ["sentiment"], salt="s", hit_ids=HITS)
    assert "confidence" not in analysis.kept.frame.columns
    votes = analysis.votes.set_index("task")
    assert votes.loc["s02", "score"] == 2.0          # plain vote: every answer weighs 1
    problems = analysis.loaded.problems.set_index("line")["reason"]
    assert problems.loc[17] == "HIT '3PILOTHIT000000000000000000099' is not in the batch"


def test_unknown_question_and_nothing_usable_are_one_line_errors(tmp_path):
    result = invoke("analyze", PILOT, "--question", "Answer.mood", "--out", tmp_path / "r")
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code != 0 and len(lines) == 1 and "Answer.mood" in lines[0] and "Answer.sentiment" in lines[0]
    blank = tmp_path / "blank.csv"
    blank.write_text("HITId,AssignmentId,WorkerId,Answer.x\nH1,A1,W1,\nH1,A2,W2,\n")
    result = invoke("analyze", blank, "--question", "Answer.x", "--out", tmp_path / "r2")
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and "no usable rows" in lines[0], result.output
    assert (tmp_path / "r2" / "qc_exclusions.csv").is_file()


def test_cells_with_a_bare_cr_read_back_identically(tmp_path):
    frame = pd.DataFrame({"label": ["a\rb", "c\nd", "e\r\nf", "plain"], "n": [1, 2, 3, 4]})
    path = write_csv(frame, tmp_path / "t.csv")
    assert pd.read_csv(path, keep_default_na=False).equals(frame)
    results = tmp_path / "cr.csv"
    results.write_bytes(b'HITId,AssignmentId,WorkerId,Answer.x\r\nH1,A1,W1,"yes\rno"\r\nH1,A2,W2,"yes\rno"\r\n')
    analysis = analyze_results(results, ["x"], salt="s")
    write_results_analysis(analysis, tmp_path / "r")
    back = pd.read_csv(tmp_path / "r" / "annotations.csv", keep_default_na=False)
    assert len(back) == 2 and back["label"].tolist() == ["yes\rno", "yes\rno"]


def test_simulated_answers_say_so(make_batch, tmp_path):
    batch = make_batch("simulatability", 10)
    results, out = tmp_path / "sim.csv", tmp_path / "report"
    assert invoke("simulate", batch, "--out", results).exit_code == 0
    assert invoke("analyze", results, "--batch", batch, "--out", out, "--salt", "s").exit_code == 0
    assert (out / "report.md").read_text().startswith("# SIMULATED ANSWERS: Simulatability study")
    assert "SIMULATED ANSWERS" in (out / "table25.tex").read_text()
    analysis = analyze_results(results, ["choice"], salt="s", confidence="confidence")
    write_results_analysis(analysis, tmp_path / "generic")
    assert (tmp_path / "generic" / "report.md").read_text().startswith("# SIMULATED ANSWERS")
    real = analyze_results(PILOT, ["sentiment"], salt="s")
    write_results_analysis(real, tmp_path / "real")
    assert "SIMULATED" not in (tmp_path / "real" / "report.md").read_text()


@pytest.mark.parametrize("title, caption", [("Table 25: accuracy of annotators", "Accuracy of annotators "
                                                                                  "(Table 25 of the paper)"),
                                            ("Per-class accuracy (Fig. 24c)", "Per-class accuracy (Fig. 24c)")])
def test_latex_caption_once(title, caption):
    from studykit.analysis.report import latex_table

    tex = latex_table(pd.DataFrame({"group": ["dense"], "n": ["12"], "mean (%)": ["63.02 ± 3.02"]}), caption=title)
    assert tex.count(r"\caption") == 1 and rf"\caption{{{caption}}}" in tex
    assert r"\begin{tabular}{lrr}" in tex
    empty = latex_table(pd.DataFrame(columns=["a", "b"]), caption="T", empty="No rows: nothing to show.")
    assert r"\multicolumn{2}{l}{No rows: nothing to show.}" in empty


def test_hits_of_another_posting_are_not_checked_but_said():
    """A preview's or another posting's file has no HIT of the ledger: a notice, not every row rejected."""
    analysis = analyze_results(PILOT, ["sentiment"], salt="s", hit_ids={"3SOMEOTHERHIT"})
    assert not analysis.loaded.problems["reason"].str.contains("not in the batch").any()
    assert any("HIT ids were not checked" in notice for notice in analysis.qc.notices)


def test_batch_ledger_hits_checked_for_posted_answers_only(make_batch, tmp_path):
    """After posting, the batch holds a ledger: a simulated file still analyses (its HIT ids are made up),
    and a downloaded file's row of a HIT outside the ledger is reported."""
    import sqlite3

    batch = make_batch("simulatability", 10)
    results = tmp_path / "sim.csv"
    assert invoke("simulate", batch, "--out", results).exit_code == 0
    frame = pd.read_csv(results, dtype=str, keep_default_na=False)
    with sqlite3.connect(batch / "mturk.sqlite") as connection:
        connection.execute("CREATE TABLE hits (endpoint TEXT, task_id TEXT, hit_id TEXT)")
        connection.executemany("INSERT INTO hits VALUES ('sandbox', ?, ?)",
                               [(t, f"REAL{t}") for t in frame["Input.task_id"].unique()])
    assert invoke("analyze", results, "--batch", batch, "--out", tmp_path / "r1", "--salt", "s").exit_code == 0
    posted = frame.assign(HITId="REAL" + frame["Input.task_id"], RequesterAnnotation="studykit:batch")
    posted.loc[3, "HITId"] = "ELSEWHERE"
    posted.to_csv(tmp_path / "posted.csv", index=False)
    assert invoke("analyze", tmp_path / "posted.csv", "--batch", batch, "--out", tmp_path / "r2",
                  "--salt", "s").exit_code == 0
    exclusions = pd.read_csv(tmp_path / "r2" / "qc_exclusions.csv", keep_default_na=False)
    reported = exclusions[exclusions["reason"].str.contains("not in the batch")]
    assert reported["line"].tolist() == [5]
