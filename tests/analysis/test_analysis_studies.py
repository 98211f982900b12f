"""Per-study results on hand-made tables: simulatability ranks, the spurious flag, misclassification roles,
G.3 confusion, the plan's arithmetic and the report folder."""

import numpy as np
import pandas as pd
import pytest

from studykit.analysis import Section, Table, misclassification, simulatability, spurious, write_report
from studykit.analysis.confusion import confusion_correlation, read_layer_weight, shared_features
from studykit.analysis.plan import PlanConfig, mturk_fee_rate, study_cost
from studykit.analysis.summaries import EstimateSettings


def simulatability_frame():
    key = {"t1": ("dense", "cat", "True", "A", 0.9, 0.5, 0.1), "t2": ("sparse", "dog", "False", "B", 0.2, 0.7, 0.4)}
    rows = [("t1", "w1", "C", 3), ("t1", "w2", "A", 1), ("t1", "w3", "A", 0),   # C: 4, A: 3 -> C, rank 3
            ("t2", "w1", "B", 0), ("t2", "w2", "B", 2), ("t2", "w3", "C", 3)]   # B: 4, C: 4 -> tie
    frame = pd.DataFrame(rows, columns=["task", "worker", "choice", "confidence"])
    columns = ["layer", "target_class", "top_is_target", "correct_choice", "prob_A", "prob_B", "prob_C"]
    return frame.join(pd.DataFrame([key[t] for t in frame["task"]], columns=columns))


def test_simulatability_task_outcomes():
    tasks = simulatability.task_outcomes(simulatability_frame(), seed=0).set_index("task")
    assert tasks.loc["t1", ["choice", "outcome", "rank", "top_is_target"]].tolist() == ["C", False, 3, True]
    assert tasks.loc["t2", "tied"]
    expected_rank = {"B": 1, "C": 2}[tasks.loc["t2", "choice"]]
    assert tasks.loc["t2", "rank"] == expected_rank
    assert tasks.loc["t2", "outcome"] == (tasks.loc["t2", "choice"] == "B")


def test_spurious_flag_rule():
    rows = [  # t1: yes (weights 4+3 vs 1); parts voted object / surroundings -> flagged.
        ("t1", "w1", "yes", 3, "Water!", "object", "surroundings"), ("t1", "w2", "yes", 2, "water", "object", "surroundings"),
        ("t1", "w3", "no", 0, "", "", ""),
        # t2: yes, both parts object -> a common pattern but not flagged.
        ("t2", "w1", "yes", 1, "red color", "object", "object"), ("t2", "w2", "yes", 1, "red  colour", "object", "both"),
        ("t2", "w3", "no", 0, "", "", ""),
        # t3: no -> neither.
        ("t3", "w1", "no", 3, "", "", ""), ("t3", "w2", "yes", 0, "sky", "surroundings", "surroundings")]
    frame = pd.DataFrame(rows, columns=["task", "worker", "common", "confidence", "description", "part_a", "part_b"])
    frame = frame.assign(layer="sparse", class_a="snorkel", class_b="scuba diver", feature="7")
    tasks = spurious.task_outcomes(frame)
    assert tasks.set_index("task")["outcome"].to_dict() == {"t1": True, "t2": True, "t3": False}
    patterns = spurious.pattern_answers(frame, tasks).set_index("task")
    assert patterns.loc["t1", ["description", "part_a", "part_b", "spurious"]].tolist() == \
        ["water", "object", "surroundings", True]
    assert not patterns.loc["t2", "spurious"] and patterns.loc["t2", "part_b"] in ("object", "both")
    assert "t3" not in patterns.index


def test_misclassification_roles_and_best_match():
    rows = [("t1", "w1", "A|B", "B", 3), ("t1", "w2", "A", "", 1), ("t1", "w3", "none", "", 0),
            ("t2", "w1", "B", "", 2), ("t2", "w2", "B", "", 2)]
    frame = pd.DataFrame(rows, columns=["task", "worker", "match", "best", "confidence"])
    key = {"t1": ("fp_fl", "A", "B", ""), "t2": ("fl_fr", "", "A", "B")}
    frame = frame.join(pd.DataFrame([key[t] for t in frame["task"]],
                                    columns=["condition", "option_fp", "option_fl", "option_fr"])).assign(layer="sparse")
    answers = misclassification.role_answers(frame)
    t1 = answers[answers["task"] == "t1"].set_index(["worker", "role"])
    assert t1.loc[("w1", "fp"), ["matched", "best"]].tolist() == ["yes", "fl"]
    assert t1.loc[("w2", "fl"), ["matched", "best"]].tolist() == ["no", "fp"]
    assert t1.loc[("w3", "fp"), "best"] == "none"
    units = misclassification.task_outcomes(frame).set_index(["task", "role"])
    # t1 f_p: yes weights 4 + 2 = 6 vs no 1 -> matched; f_l: yes 4 vs no 2 + 1 = 3 -> matched.
    assert units.loc[("t1", "fp"), "outcome"] and units.loc[("t1", "fl"), "outcome"]
    assert units.loc[("t2", "fr"), "outcome"] and not units.loc[("t2", "fl"), "outcome"]
    assert units.loc[("t2", "fr"), "best"] == "fr"


def test_shared_features_and_correlation(tmp_path):
    weight = np.array([[1.0, 0.0, 2.0, 0.0], [0.5, 0.0, -1.0, 0.0], [0.0, 3.0, 0.0, 0.0]])
    counts = np.array([[8, 2, 0], [4, 6, 0], [0, 1, 9]])
    pairs = shared_features(weight, counts, ["a", "b", "c"]).set_index(["class_i", "class_j"])
    assert pairs["shared_features"].to_dict() == {("a", "b"): 2, ("a", "c"): 0, ("b", "c"): 0}
    assert pairs.loc[("a", "b"), "confusion"] == pytest.approx(0.4)   # max(2/10, 4/10)
    assert pairs.loc[("b", "c"), "confusion"] == pytest.approx(0.1)   # max(0, 1/10)
    correlation = confusion_correlation(pairs.reset_index()).set_index("method")
    assert correlation.loc["pearson", "correlation"] == pytest.approx(np.corrcoef([2, 0, 0], [0.4, 0, 0.1])[0, 1])
    np.savez(tmp_path / "layer.npz", weight=weight, meta=np.array('{"classes": ["a", "b", "c"]}'))
    loaded, classes = read_layer_weight(tmp_path / "layer.npz")
    assert classes == ["a", "b", "c"] and np.array_equal(loaded, weight)
    with pytest.raises(ValueError, match="classes"):
        shared_features(weight, np.eye(2))


def test_mturk_fees():
    assert mturk_fee_rate(9) == 0.2 and mturk_fee_rate(10) == 0.4
    # 20% of $0.04 is $0.008, below MTurk's $0.01 minimum fee per assignment: 10,000 x $0.01 = $100.
    assert study_cost(0.04, 5, 2000) == pytest.approx({"rewards": 400.0, "fees": 100.0, "total": 500.0})
    with pytest.raises(ValueError, match="assignments"):
        PlanConfig("spurious", assignments=(0,))


def test_report_folder_refuses_to_overwrite(tmp_path):
    table = Table("t", "A table", pd.DataFrame({"x": [0.123456789, np.nan], "n": [1, 2], "s": ["a|b", "c_d"]}))
    files = write_report(tmp_path / "r", title="T", sections=[Section("S", "text", [table])])
    assert [f.name for f in files] == ["t.md", "t.csv", "t.tex", "report.md"]
    assert "| 0.12 | 1 | a\\|b |" in (tmp_path / "r" / "t.md").read_text()
    assert r"c\_d" in (tmp_path / "r" / "t.tex").read_text()
    assert pd.read_csv(tmp_path / "r" / "t.csv")["x"].iloc[0] == 0.123456789
    with pytest.raises(FileExistsError, match="not empty"):
        write_report(tmp_path / "r", title="T", sections=[])
    write_report(tmp_path / "r", title="T2", sections=[], overwrite=True)
    assert (tmp_path / "r" / "report.md").read_text().startswith("# T2")


def test_estimate_settings_validate():
    with pytest.raises(ValueError, match="interval"):
        EstimateSettings(interval="normal")


def test_rank_figure_when_a_rank_never_occurs():
    ranks = pd.DataFrame({"group": pd.array(["dense", "sparse"], dtype="string"), "rank": [1, 3],
                          "tasks": [4, 2], "share": [1.0, 1.0]})
    figure = simulatability._rank_figure(ranks)       # ranks 2 (and 2, 3 / 1, 2) are absent: bars of 0
    heights = [bar.get_height() for bar in figure.figure.axes[0].patches]
    assert heights == [100.0, 0.0, 0.0, 0.0, 0.0, 100.0]
