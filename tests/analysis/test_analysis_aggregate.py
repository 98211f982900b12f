"""Votes and Dawid-Skene against hand-computed tables, and against crowd-kit when it is installed."""

import numpy as np
import pandas as pd
import pytest

from studykit.analysis import confidence_weight, dawid_skene, majority_vote, weighted_majority_vote


def table(rows):
    return pd.DataFrame(rows, columns=["task", "worker", "label", "confidence"])


def test_confidence_weight_is_one_plus_confidence():
    assert confidence_weight(pd.Series([0, 1, 2, 3, np.nan])).tolist() == [1, 2, 3, 4, 1]


def test_weighted_vote_hand_table():
    # t1: A gets 1+3 = 4, B gets (1+1) + (1+0) = 3 -> A although B has more votes.
    # t2: the only vote, with confidence 0, still decides.
    # t3: A 1+2 = 3 vs B 1+2 = 3 -> tie.
    votes = weighted_majority_vote(table([("t1", "w1", "A", 3), ("t1", "w2", "B", 1), ("t1", "w3", "B", 0),
                                          ("t2", "w1", "C", 0),
                                          ("t3", "w1", "A", 2), ("t3", "w2", "B", 2), ("t3", "w3", "", 3)]))
    assert votes.loc["t1"].to_dict() == {"label": "A", "score": 4.0, "total": 7.0, "share": 4 / 7,
                                         "n_annotators": 3, "tied": False}
    assert votes.loc["t2", ["label", "score", "tied"]].tolist() == ["C", 1.0, False]
    assert votes.loc["t3", "tied"] and votes.loc["t3", "label"] in ("A", "B")
    assert votes.loc["t3", "n_annotators"] == 2


def test_plain_vote_counts_heads():
    votes = majority_vote(table([("t1", "w1", "A", 3), ("t1", "w2", "B", 1), ("t1", "w3", "B", 0)]))
    assert votes.loc["t1", ["label", "score", "share"]].tolist() == ["B", 2.0, 2 / 3]


def test_tie_break_is_seeded_fair_and_order_free():
    rows = [(f"t{i}", w, label, 1) for i in range(200) for w, label in (("w1", "A"), ("w2", "B"))]
    votes = weighted_majority_vote(table(rows), seed=7)
    shuffled = weighted_majority_vote(table(rows).sample(frac=1, random_state=1), seed=7)
    assert votes["tied"].all()
    pd.testing.assert_series_equal(votes["label"], shuffled["label"].reindex(votes.index))
    share_a = (votes["label"] == "A").mean()
    assert 0.4 < share_a < 0.6
    other = weighted_majority_vote(table(rows), seed=8)
    assert (other["label"] != votes["label"]).any()


def test_dawid_skene_down_weights_a_contrarian():
    """Three reliable workers agree on every task; w4 always answers the other label."""
    rows = []
    for i in range(30):
        truth = "A" if i % 3 else "B"
        wrong = "B" if truth == "A" else "A"
        rows += [(f"t{i}", w, truth, 1) for w in ("w1", "w2", "w3")] + [(f"t{i}", "w4", wrong, 3)]
    result = dawid_skene(table(rows))
    assert result.converged
    assert (result.votes["share"] > 0.99).all()
    expected = pd.Series({f"t{i}": "A" if i % 3 else "B" for i in range(30)})
    assert (result.votes["label"] == expected.reindex(result.votes.index)).all()
    assert result.errors.loc[("w4", "B"), "A"] > 0.99
    assert result.priors["A"] == pytest.approx(20 / 30, abs=1e-6)


def simulated(seed=0, n_tasks=150, n_workers=12):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n_tasks)
    skill = rng.uniform(0.35, 0.9, n_workers)
    rows = []
    for t in range(n_tasks):
        for w in rng.choice(n_workers, 5, replace=False):
            label = truth[t] if rng.random() < skill[w] else rng.integers(0, 3)
            rows.append((f"t{t}", f"w{w}", "ABC"[label], int(rng.integers(0, 4))))
    return table(rows)


def test_against_crowd_kit():
    aggregation = pytest.importorskip("crowdkit.aggregation")
    data = simulated()
    ours = majority_vote(data)
    theirs = aggregation.MajorityVote().fit_predict(data[["task", "worker", "label"]])
    untied = ~ours["tied"]
    assert untied.sum() > 100
    assert (ours.loc[untied, "label"] == theirs.reindex(ours.index)[untied]).all()
    ds = dawid_skene(data, n_iter=500, tol=1e-10)
    reference = aggregation.DawidSkene(n_iter=500, tol=1e-10).fit(data[["task", "worker", "label"]])
    probas = reference.probas_.reindex(index=ds.probas.index, columns=ds.probas.columns)
    np.testing.assert_allclose(ds.probas.to_numpy(), probas.to_numpy(), atol=1e-3)
    np.testing.assert_allclose(ds.priors.to_numpy(), reference.priors_.reindex(ds.priors.index).to_numpy(), atol=1e-3)


def test_dawid_skene_stops_where_crowd_kit_does_with_its_defaults():
    """Same stopping rule and defaults (n_iter=100, tol=1e-5): same iteration count, objective and labels."""
    aggregation = pytest.importorskip("crowdkit.aggregation")
    for seed in range(3):
        data = simulated(seed)
        ours = dawid_skene(data)
        reference = aggregation.DawidSkene().fit(data[["task", "worker", "label"]])
        assert ours.n_iter == len(reference.loss_history_)
        assert ours.log_likelihood == pytest.approx(reference.loss_history_[-1], abs=1e-6)
        theirs = reference.labels_.reindex(ours.votes.index)
        untied = ~ours.votes["tied"]
        assert (ours.votes.loc[untied, "label"] == theirs[untied]).all()


def test_vote_without_a_confidence_column_weighs_every_answer_one():
    frame = pd.DataFrame({"task": ["t1", "t1", "t1"], "worker": ["a", "b", "c"], "label": ["x", "y", "y"]})
    votes = weighted_majority_vote(frame)
    assert votes.loc["t1", "label"] == "y" and votes.loc["t1", "score"] == 2.0
