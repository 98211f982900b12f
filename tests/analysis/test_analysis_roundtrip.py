"""simulate -> analyze: the report recovers the simulated annotators' accuracies within their intervals."""

import pandas as pd
import pytest

from studykit.analysis import AnnotatorModel, analyze, write_analysis, write_simulated_results

EXPECTED_TABLE = {"simulatability": "annotation_accuracy", "spurious": "annotation_common",
                  "misclassification": "annotation_match"}
ACCURACY = {"simulatability": {"dense": 0.35, "sparse": 0.7}, "spurious": {"dense": 0.4, "sparse": 0.75},
            "misclassification": {"fp": 0.55, "fl": 0.8, "fr": 0.15}}
CHANCE = {"simulatability": 1 / 3, "spurious": 0.5, "misclassification": 0.5}


@pytest.mark.parametrize("study", list(ACCURACY))
def test_round_trip_recovers_accuracies(make_batch, tmp_path, study):
    batch = make_batch(study, 120, seed=1)
    spammers = 0.1
    model = AnnotatorModel(ACCURACY[study], blank_rate=0.1, spammer_share=spammers, n_workers=40)
    write_simulated_results(batch, tmp_path / "results.csv", model, seed=5)
    analysis = analyze(tmp_path / "results.csv", batch=batch, salt="salt")
    files = write_analysis(analysis, tmp_path / "report")
    table = pd.read_csv(tmp_path / "report" / f"{EXPECTED_TABLE[study]}.csv").set_index("group")
    n_spammers = round(spammers * 40)
    for condition, accuracy in ACCURACY[study].items():
        # Answers of spammers (4 of 40 workers) are at chance; the rest answer with the model's accuracy.
        share = n_spammers / 40
        expected = (1 - share) * accuracy + share * CHANCE[study]
        row = table.loc[condition]
        assert row["ci_low"] <= expected <= row["ci_high"], (condition, expected, row.to_dict())
    summary = analysis.qc.summary.set_index("rule")
    assert summary.loc["no_selection", "rows"] > 0
    assert summary.loc["kept", "tasks"] + summary.loc["min_annotators", "tasks"] == 240
    assert summary.loc["kept", "tasks"] >= 230
    assert (tmp_path / "report" / "report.md") in files


def test_round_trip_vote_beats_individuals(make_batch, tmp_path):
    """Five answers at 70 % accuracy vote better than one; the dense-sparse gap is significant."""
    batch = make_batch("simulatability", 150, seed=2)
    model = AnnotatorModel({"dense": 0.34, "sparse": 0.7}, spammer_share=0.0)
    write_simulated_results(batch, tmp_path / "r.csv", model, seed=1)
    analyze_dir = tmp_path / "report"
    write_analysis(analyze(tmp_path / "r.csv", batch=batch, salt="s"), analyze_dir)
    table25 = pd.read_csv(analyze_dir / "table25.csv")
    overall = table25[table25["subset"] == "Overall"].set_index("group")
    assert overall.loc["sparse", "mean"] > 0.75
    assert overall.loc["dense", "ci_low"] < 0.34 < overall.loc["dense", "ci_high"] + 0.05
    test = pd.read_csv(analyze_dir / "table25_dense_vs_sparse.csv").set_index("subset")
    assert test.loc["Overall", "p_value"] < 1e-6
