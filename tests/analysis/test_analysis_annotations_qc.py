"""The canonical annotations table and every quality-control rule, on small hand-made tables."""

import numpy as np
import pandas as pd
import pytest

from studykit.analysis import QCConfig, apply_qc, load_annotations, pseudonymize
from studykit.analysis.annotations import Annotations
from studykit.analysis.load import problems_frame
from studykit.formats.studies import STUDIES


def results_csv(path, rows, answers=("choice", "confidence"), task_column="Input.task_id"):
    columns = ["HITId", "AssignmentId", "WorkerId", "AssignmentStatus", "WorkTimeInSeconds", task_column,
               *[f"Answer.{a}" for a in answers]]
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return path


KEY = pd.DataFrame({"task_id": ["t1", "t2"], "layer": ["dense", "sparse"], "target_class": ["cat", "dog"],
                    "correct_choice": ["A", "B"], "top_is_target": ["True", "False"], "prob_A": ["0.9", "0.1"],
                    "prob_B": ["0.5", "0.8"], "prob_C": ["0.1", "0.3"], "label_A": "", "label_B": "", "label_C": ""})


def test_canonical_table_joins_key_and_pseudonymizes(tmp_path):
    path = results_csv(tmp_path / "r.csv", [["H1", "A1", "WORKER1", "Approved", "12", "t1", "a", "3"],
                                            ["H2", "A2", "WORKER2", "Submitted", "20", "t2", "", ""]])
    annotations = load_annotations(path, "simulatability", salt="s", answer_key=KEY)
    frame = annotations.frame
    assert frame["choice"].tolist() == ["A", ""]
    assert frame["confidence"].iloc[0] == 3.0 and np.isnan(frame["confidence"].iloc[1])
    assert frame["layer"].tolist() == ["dense", "sparse"]
    assert frame["work_time"].tolist() == [12.0, 20.0]
    assert not frame["worker"].str.contains("WORKER").any()
    assert frame["worker"].str.fullmatch(r"w[0-9a-f]{12}").all()


def test_pseudonyms_are_stable_per_salt():
    workers = pd.Series(["A1", "A2", "A1"])
    first, again, other = pseudonymize(workers, "salt"), pseudonymize(workers, "salt"), pseudonymize(workers, "pepper")
    assert first.tolist() == again.tolist() and first[0] == first[2] and first[0] != first[1]
    assert first[0] != other[0]
    with pytest.raises(ValueError, match="salt"):
        pseudonymize(workers, "")


def test_unusable_rows_are_reported_with_lines(tmp_path):
    path = results_csv(tmp_path / "r.csv", [["H1", "A1", "W1", "Submitted", "1", "t1", "D", "1"],
                                            ["H1", "A2", "W2", "Submitted", "1", "t1", "B", "7"],
                                            ["H1", "A3", "W3", "Submitted", "1", "t9", "B", "1"],
                                            ["H1", "A3", "W4", "Submitted", "1", "t1", "B", "1"],
                                            ["H1", "A5", "W5", "Submitted", "1", "t1", "C", "1"]])
    annotations = load_annotations(path, "simulatability", salt="s", answer_key=KEY)
    assert annotations.frame["assignment"].tolist() == ["A5"]
    problems = annotations.problems.set_index("line")["reason"]
    assert problems[2] == "Answer.choice = 'D' is not an allowed value"
    assert problems[3] == "Answer.confidence = '7' is not an allowed value"
    assert problems[4] == "task 't9' is not in the answer key"
    assert problems[5] == "repeats an earlier AssignmentId"


def test_explicit_mapping_and_named_errors(tmp_path):
    path = results_csv(tmp_path / "r.csv", [["H1", "A1", "W1", "Submitted", "1", "t1", "b", "2"]],
                       answers=("pick", "sure"))
    with pytest.raises(ValueError, match="missing answer column.*Answer.choice, Answer.confidence"):
        load_annotations(path, "simulatability", salt="s", answer_key=KEY)
    with pytest.raises(ValueError, match="no Answer.\\* column for confidence"):
        load_annotations(path, "simulatability", salt="s", answers={"pick": "choice"})
    with pytest.raises(ValueError, match="missing answer column.*Answer.nope"):
        load_annotations(path, "simulatability", salt="s", answers={"nope": "choice", "sure": "confidence"})
    annotations = load_annotations(path, "simulatability", salt="s", answer_key=KEY,
                                   answers={"Answer.pick": "choice", "sure": "confidence"})
    assert annotations.frame["choice"].tolist() == ["B"]
    no_task = results_csv(tmp_path / "n.csv", [["H1", "A1", "W1", "Submitted", "1", "t1", "b", "2"]],
                          task_column="Input.other")
    with pytest.raises(ValueError, match="missing column Input.task_id"):
        load_annotations(no_task, "simulatability", salt="s", answer_key=KEY)
    assert load_annotations(no_task, "simulatability", salt="s").frame["task"].tolist() == ["H1"]
    with pytest.raises(ValueError, match="answer key: missing column.*correct_choice"):
        load_annotations(path, "simulatability", salt="s", answer_key=KEY.drop(columns="correct_choice"),
                         answers={"pick": "choice", "sure": "confidence"})


def test_checkbox_answers_are_canonical(tmp_path):
    key = pd.DataFrame({"task_id": ["t1"], "layer": "sparse", "condition": "fp_fl", "true_class": "a",
                        "predicted_class": "b", "option_fp": "A", "option_fl": "B", "option_fr": ""})
    path = results_csv(tmp_path / "m.csv", [["H", "A1", "W1", "", "1", "t1", "b|a", "", "1"],
                                            ["H", "A2", "W2", "", "1", "t1", "NONE", "", "1"],
                                            ["H", "A3", "W3", "", "1", "t1", "A|C", "", "1"]],
                       answers=("match", "best", "confidence"))
    annotations = load_annotations(path, "misclassification", salt="s", answer_key=key)
    assert annotations.frame["match"].tolist() == ["A|B", "none"]
    assert annotations.problems["line"].tolist() == [4]


# ------------------------------------------------------------------------------------------- rules
def annotations(rows, study="simulatability", problems=()):
    """Annotations from (task, worker, choice, status) rows."""
    frame = pd.DataFrame(rows, columns=["task", "worker", "choice", "status"])
    frame["assignment"] = [f"a{i}" for i in range(len(frame))]
    frame["line"] = np.arange(len(frame)) + 2
    frame["confidence"] = 1.0
    return Annotations(frame, problems_frame(list(problems)), STUDIES[study], "hand")


def summary(result):
    return result.report.summary.set_index("rule")


def test_no_selection_drops_single_instances():
    result = apply_qc(annotations([("t1", "w1", "A", ""), ("t1", "w2", "", ""), ("t1", "w3", "B", ""),
                                   ("t2", "w1", "C", ""), ("t2", "w2", "A", ""), ("t2", "w3", "A", "")]))
    assert result.annotations.frame["assignment"].tolist() == ["a0", "a2", "a3", "a4", "a5"]
    assert summary(result).loc["no_selection", ["rows", "workers", "tasks"]].tolist() == [1, 0, 0]


def test_blank_worker_over_80_percent_is_dropped_entirely():
    # w1: 5 of 6 blank (83 %) -> all six rows dropped; w2: 4 of 5 blank (80 %, not more) -> kept.
    rows = [(f"t{i}", "w1", "" if i < 5 else "A", "") for i in range(6)]
    rows += [(f"t{i}", "w2", "" if i < 4 else "B", "") for i in range(5)]
    rows += [(f"t{i}", "w3", "C", "") for i in range(6)]
    result = apply_qc(annotations(rows), QCConfig(min_annotators=1))
    frame = result.annotations.frame
    assert "w1" not in set(frame["worker"])
    assert sorted(frame.loc[frame["worker"] == "w2", "task"]) == ["t4"]
    counts = summary(result)
    assert counts.loc["blank_worker", ["rows", "workers"]].tolist() == [6, 1]
    assert counts.loc["no_selection", "rows"] == 4
    assert counts.loc["kept", "rows"] == 7


def test_blank_worker_threshold_is_configurable():
    rows = [(f"t{i}", "w1", "" if i < 3 else "A", "") for i in range(5)]
    assert len(apply_qc(annotations(rows), QCConfig(1, blank_worker_threshold=0.5)).annotations.frame) == 0
    assert len(apply_qc(annotations(rows), QCConfig(1, blank_worker_threshold=0.8)).annotations.frame) == 2


def test_min_annotators_defaults_per_study():
    rows = [("t1", "w1", "yes", ""), ("t1", "w2", "no", ""), ("t2", "w1", "yes", ""), ("t2", "w2", "yes", ""),
            ("t2", "w3", "no", "")]
    frame = pd.DataFrame(rows, columns=["task", "worker", "common", "status"]).assign(
        assignment=[f"a{i}" for i in range(5)], line=range(2, 7), confidence=2.0)
    spurious = apply_qc(Annotations(frame, problems_frame([]), STUDIES["spurious"], "hand"))
    assert spurious.annotations.frame["task"].unique().tolist() == ["t2"]
    assert summary(spurious).loc["min_annotators", ["rows", "tasks"]].tolist() == [2, 1]
    simulatability = apply_qc(annotations([("t1", "w1", "A", ""), ("t2", "w1", "A", ""), ("t2", "w2", "B", "")]))
    assert simulatability.annotations.frame["task"].unique().tolist() == ["t2"]
    assert QCConfig.for_study("misclassification").min_annotators == 2


def test_rejected_assignments_and_unparseable_rows_are_counted():
    result = apply_qc(annotations([("t1", "w1", "A", "Rejected"), ("t1", "w2", "A", "Approved"),
                                   ("t1", "w3", "B", "Submitted")], problems=[(9, "a9", "has 3 fields")]))
    counts = summary(result)
    assert counts.loc["unparseable", "rows"] == 1 and counts.loc["rejected", "rows"] == 1
    assert counts.loc["loaded", "rows"] == 4 and counts.loc["kept", "rows"] == 2
    exclusions = result.report.exclusions
    assert exclusions[["line", "rule"]].values.tolist() == [[2, "rejected"], [9, "unparseable"]]
    kept = apply_qc(annotations([("t1", "w1", "A", "Rejected"), ("t1", "w2", "A", "")]),
                    QCConfig(2, drop_rejected=False))
    assert len(kept.annotations.frame) == 2


@pytest.mark.parametrize("kwargs", [{"min_annotators": 0}, {"min_annotators": 2.5},
                                    {"min_annotators": 2, "blank_worker_threshold": 1.5}])
def test_invalid_qc_config_names_the_value(kwargs):
    with pytest.raises(ValueError, match="min_annotators|blank_worker_threshold"):
        QCConfig(**kwargs)
