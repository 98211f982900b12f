"""Sampling rules on small hand-made layers and probabilities (appendix D.4, E.2.1, G.1)."""

import numpy as np
import pytest

from studykit.tasks import MisclassificationSampling, SimulatabilitySampling, SpuriousSampling
from studykit.tasks.misclassification import problematic_features, sample_misclassification
from studykit.tasks.sampling import band_rows, significant_features
from studykit.tasks.simulatability import sample_simulatability
from studykit.tasks.spurious import sample_spurious, shared_feature_pairs, top_activating_rows


def test_five_percent_rule():
    weights = np.array([[10.0, 0.5, 0.51, -20.0, 0.0],
                        [-1.0, -2.0, 0.0, 0.0, 0.0],
                        [1.0, 1.0, 0.04, 0.06, 0.05]])
    expected = np.array([[True, False, True, False, False],
                         [False, False, False, False, False],
                         [True, True, False, True, False]])
    np.testing.assert_array_equal(significant_features(weights, 0.05), expected)


@pytest.mark.parametrize("n, band, expected", [
    (3000, (99.99, 100), [2999]),
    (50000, (99.99, 100), list(range(49995, 50000))),
    (100, (90, 95), list(range(90, 95))),
    (1000, (98, 99), list(range(980, 990))),
    (7, (99.99, 100), [6]),
])
def test_band_rows(n, band, expected):
    order = np.arange(n)[::-1]                 # rows sorted by increasing score: row n-1 first
    np.testing.assert_array_equal(band_rows(order, band), order[expected])


def _simulatability_inputs(n_rows=1000):
    weights = np.array([[5.0, 4.0, 3.0, 2.0, 1.0, 0.2, 0.1, -3.0],     # 0.1 < 5% of 5: out
                        [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0],      # 3 significant features
                        [0.0, 2.0, 2.0, 2.0, 2.0, 2.0, 0.0, 0.0]])
    probabilities = np.random.default_rng(0).permutation(n_rows)[:, None] / n_rows * np.ones(3)
    labels = np.arange(n_rows) % 3
    return {"dense": weights, "sparse": weights * 2}, {"dense": probabilities, "sparse": probabilities}, labels


def test_simulatability_tasks_follow_the_rules():
    coefficients, probabilities, labels = _simulatability_inputs()
    sampling = SimulatabilitySampling(n_classes=5, tasks_per_class=4, n_features=4)
    tasks, counts = sample_simulatability(coefficients, probabilities, labels, sampling, np.random.default_rng(1))
    assert counts.requested == {"classes": 5, "tasks": 40} and counts.built == {"classes": 2, "tasks": 16}
    assert any("1 of 3 classes left out" in note for note in counts.notes)
    assert {t.target for t in tasks} == {0, 2}
    n = len(labels)
    for task in tasks:
        weights = coefficients[task.layer][task.target]
        assert len(set(task.features)) == 4 and all(weights[f] > 0.05 * weights.max() for f in task.features)
        assert list(task.importances) == sorted(task.importances, reverse=True) and task.importances[0] == 100
        np.testing.assert_allclose(task.importances, np.rint(100 * weights[list(task.features)]
                                                             / weights[list(task.features)].max()))
        ranks = np.argsort(np.argsort(probabilities[task.layer][:, task.target], kind="stable"), kind="stable")
        percentiles = sorted(100 * ranks[list(task.rows)] / n)
        assert 90 <= percentiles[0] < 95 and 98 <= percentiles[1] < 99 and percentiles[2] >= 99.9
        assert task.probabilities == tuple(probabilities[task.layer][list(task.rows), task.target])
        assert task.correct == int(np.argmax(task.probabilities))
    # options are shown in random order: the top image is not always at the same letter
    assert len({t.correct for t in tasks}) == 3


def test_simulatability_with_no_eligible_class_says_why():
    coefficients, probabilities, labels = _simulatability_inputs()
    with pytest.raises(ValueError, match="no class has 6 features with weight > 5%"):
        sample_simulatability(coefficients, probabilities, labels, SimulatabilitySampling(n_features=6),
                              np.random.default_rng(0))


def test_shared_feature_pairs_and_top_rows():
    significant = np.array([[1, 0, 0, 1], [0, 1, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(shared_feature_pairs(significant), [[0, 1], [1, 2]])
    activations = np.array([0.5, 3.0, 2.0, 3.0, 9.0, 1.0])
    assert top_activating_rows(activations, np.array([0, 1, 2, 3, 5]), 3) == (1, 3, 2)


def test_spurious_pairs_share_a_significant_feature_and_show_top_images():
    rng = np.random.default_rng(0)
    weights = np.array([[1.0, 0.0, 0.9, 0.0], [0.0, 1.0, 0.5, 0.0], [0.0, 0.0, 0.01, 1.0], [1.0, 0.0, 0.0, 0.0]])
    X = rng.random((40, 4))
    labels = np.arange(40) % 4
    tasks, counts = sample_spurious({"sparse": weights}, X, labels,
                                    SpuriousSampling(n_pairs=10, n_images=3, layers=("sparse",)), rng)
    assert {frozenset((t.class_a, t.class_b)) for t in tasks} == {frozenset((0, 1)), frozenset((0, 3))}
    assert counts.built == {"pairs_sparse": 2, "tasks": 2} and "only 2 pairs share a feature" in counts.notes[0]
    for task in tasks:
        assert task.feature == (2 if {task.class_a, task.class_b} == {0, 1} else 0)
        for cls, rows in ((task.class_a, task.rows_a), (task.class_b, task.rows_b)):
            own = np.flatnonzero(labels == cls)
            assert set(rows) <= set(own) and len(rows) == 3
            assert X[list(rows), task.feature].min() >= np.sort(X[own, task.feature])[-3]


def test_spurious_without_shared_features_says_why():
    weights = np.eye(3)
    with pytest.raises(ValueError, match="no class pair shares a feature"):
        sample_spurious({"dense": weights}, np.ones((9, 3)), np.arange(9) % 3,
                        SpuriousSampling(layers=("dense",)), np.random.default_rng(0))


def _reference_problematic(weight, bias, X, labels):
    """Loop-by-loop reading of appendix G.1, for comparison."""
    found = []
    for row, (x, label) in enumerate(zip(X, labels)):
        scores = weight @ x + bias
        predicted = int(np.argmax(scores))
        if predicted == label:
            continue
        gamma = [weight[predicted, i] * x[i] - weight[label, i] * x[i] for i in range(len(x))]
        f_p, f_l = int(np.argmax(gamma)), int(np.argmin(gamma))
        zeroed = x.copy()
        zeroed[f_p] = 0.0
        if f_p != f_l and int(np.argmax(weight @ zeroed + bias)) == label:
            found.append((row, predicted, f_p, f_l))
    return found


def test_flip_test_by_hand():
    weight = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.1]])
    bias = np.zeros(2)
    X = np.array([[1.0, 0.8, 0.0],     # predicted 1 (1.6 > 1); zeroing f_p=1 gives class 0: flips
                  [1.0, 3.0, 0.0],     # predicted 1; zeroing feature 1 flips too
                  [0.0, 0.2, 5.0],     # predicted 1 (0.9 > 0); f_p = 2 (0.5 > 0.4); zeroing it leaves 0.4 > 0
                  [2.0, 0.1, 0.0]])    # predicted 0 = label: correct, skipped
    labels = np.array([0, 0, 0, 0])
    rows, predicted, f_p, f_l = problematic_features(weight, bias, X, labels)
    np.testing.assert_array_equal(rows, [0, 1])
    np.testing.assert_array_equal(f_p, [1, 1])
    np.testing.assert_array_equal(f_l, [0, 0])
    np.testing.assert_array_equal(predicted, [1, 1])


def test_flip_test_matches_the_reference():
    rng = np.random.default_rng(4)
    weight, bias = rng.normal(size=(5, 12)), rng.normal(size=5)
    X = np.maximum(rng.normal(size=(9000, 12)), 0)
    labels = rng.integers(0, 5, 9000)
    got = list(zip(*(a.tolist() for a in problematic_features(weight, bias, X, labels))))
    assert got == _reference_problematic(weight, bias, X, labels) and len(got) > 100


@pytest.mark.parametrize("probability, conditions", [(1.0, {"fp_fl"}), (0.0, {"fl_fr"}), (0.5, {"fp_fl", "fl_fr"})])
def test_misclassification_conditions(probability, conditions):
    rng = np.random.default_rng(2)
    weight, bias = rng.normal(size=(4, 8)), np.zeros(4)
    X = np.maximum(rng.normal(size=(3000, 8)), 0)
    labels = rng.integers(0, 4, 3000)
    sampling = MisclassificationSampling(n_tasks=200, fp_probability=probability)
    tasks, counts = sample_misclassification(weight, bias, X, labels, sampling, np.random.default_rng(0))
    assert counts.built == {"tasks": 200} and {t.condition for t in tasks} == conditions
    eligible = {row: (fp, fl) for row, _, fp, fl in _reference_problematic(weight, bias, X, labels)}
    for task in tasks:
        fp, fl = eligible[task.row]
        assert task.roles["fl"] == fl and sorted(task.shown) == sorted(task.roles)
        if task.condition == "fp_fl":
            assert task.roles["fp"] == fp
        else:
            assert task.roles["fr"] not in (fp, fl)
    if probability == 0.5:
        share = np.mean([t.condition == "fp_fl" for t in tasks])
        assert 0.4 < share < 0.6
        assert {t.shown[0] for t in tasks} == {"fl", "fp", "fr"}
