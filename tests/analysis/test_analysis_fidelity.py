"""The paper's ± (1.96 SE) under every table, ties counted, first-exposure accuracy."""

import numpy as np
import pandas as pd
import pytest

from studykit.analysis import simulatability, spurious
from studykit.analysis.summaries import EstimateSettings, estimate_table


def _outcomes(n_dense=100, k_dense=36, n_sparse=100, k_sparse=63):
    return pd.DataFrame({"group": ["dense"] * n_dense + ["sparse"] * n_sparse,
                         "outcome": [True] * k_dense + [False] * (n_dense - k_dense)
                         + [True] * k_sparse + [False] * (n_sparse - k_sparse)})


def test_plus_minus_is_the_normal_half_width_by_default():
    table = estimate_table(_outcomes(), "outcome", rows=None, columns="group", name="t", title="T",
                           settings=EstimateSettings())
    se = np.sqrt(0.36 * 0.64 / 99)                       # ddof=1 over 100 tasks
    assert table.data.set_index("group").loc["dense", "se"] == pytest.approx(se)
    assert table.data.set_index("group").loc["dense", "half_width"] == pytest.approx(1.959964 * se, rel=1e-5)
    assert table.display.loc[0, "dense (%)"] == f"36.00 ± {100 * 1.959964 * se:.2f}"
    assert "1.96 × SE" in table.note and "as the paper's Table 25" in table.note
    plain = estimate_table(_outcomes(), "outcome", rows=None, columns="group", name="t", title="T",
                           settings=EstimateSettings(plus_minus="se"))
    assert plain.display.loc[0, "dense (%)"] == f"36.00 ± {100 * se:.2f}" and "one standard error" in plain.note


def test_settings_refuse_unknown_weighting_and_plus_minus():
    with pytest.raises(ValueError, match="weighting must be one of"):
        EstimateSettings(weighting="2+confidence")
    with pytest.raises(ValueError, match="plus_minus must be one of"):
        EstimateSettings(plus_minus="sd")


def _simulatability_frame():
    # w1 does t1 then t2 (same class and layer, same correct image): right on t1 only by the second try.
    rows = [("t1", "w1", "B", 2, "2024-01-01 10:00"), ("t1", "w2", "A", 2, "2024-01-01 10:00"),
            ("t2", "w1", "A", 3, "2024-01-01 11:00"), ("t2", "w2", "A", 0, "2024-01-01 09:00"),
            ("t3", "w1", "C", 1, "2024-01-01 12:00"), ("t3", "w3", "B", 1, "2024-01-01 12:00")]
    frame = pd.DataFrame(rows, columns=["task", "worker", "choice", "confidence", "submit_time"])
    frame["submit_time"] = pd.to_datetime(frame["submit_time"])
    key = {"t1": ("sparse", "cat"), "t2": ("sparse", "cat"), "t3": ("dense", "cat")}
    frame["layer"] = frame["task"].map(lambda t: key[t][0])
    frame["target_class"] = frame["task"].map(lambda t: key[t][1])
    return frame.assign(top_is_target="true", correct_choice="A", prob_A=0.9, prob_B=0.5, prob_C=0.1)


def test_first_exposure_keeps_each_workers_first_task_of_a_class_and_layer():
    first = simulatability.first_exposure(_simulatability_frame())
    assert sorted(zip(first["worker"], first["task"])) == [("w1", "t1"), ("w1", "t3"), ("w2", "t2"), ("w3", "t3")]


def test_report_sections_count_ties_and_show_first_exposure():
    frame = _simulatability_frame()
    sections = simulatability.report_sections(frame, EstimateSettings())
    tables = {t.name: t for t in sections[0].tables}
    votes = tables["task_votes"].data.set_index("task")
    assert {"tied", "unweighted"} <= set(votes.columns)
    # t3: C 1 vs B 1 -> tied; t1: B 2 vs A 2 -> tied; t2: A 3 + 0 -> A
    assert votes["tied"].to_dict() == {"t1": True, "t2": False, "t3": True}
    assert "2 tasks decided by a tie break" in sections[0].text
    assert "2 of 3 tasks tied" in tables["task_votes"].note
    first = tables["first_exposure_accuracy"].data.set_index(["answers", "group"])
    assert first.loc[("first exposure", "sparse"), "n"] == 2 and first.loc[("all answers", "sparse"), "n"] == 4


def test_spurious_pairs_say_when_a_vote_was_tied():
    rows = [("t1", "w1", "yes", 2, "water", "object", "surroundings"),
            ("t1", "w2", "yes", 2, "water", "object", "object"), ("t1", "w3", "no", 1, "", "", "")]
    frame = pd.DataFrame(rows, columns=["task", "worker", "common", "confidence", "description", "part_a", "part_b"])
    frame = frame.assign(layer="sparse", class_a="snorkel", class_b="scuba diver", feature="7")
    tasks = spurious.task_outcomes(frame)
    patterns = spurious.pattern_answers(frame, tasks).set_index("task")
    assert not tasks.set_index("task").loc["t1", "tied"]        # yes 4 vs no 1
    assert patterns.loc["t1", "tied"]                           # part_b: surroundings 2 vs object 2
