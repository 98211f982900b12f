"""PathResult: selection rules (D.1.1), best, files; DecisionLayer: prediction, import, files."""

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from studykit.solver import DecisionLayer, PathResult, fit_path
from studykit.solver.results import METRIC_COLUMNS


def toy_path(val_accuracy, nnz):
    """A hand-made path whose metrics are given; coefficient i has nnz[i] nonzeros in row 0."""
    n = len(nnz)
    coefs = [sp.csr_matrix(np.array([[1.0] * v + [0.0] * (10 - v), [0.0] * 10])) for v in nnz]
    metrics = pd.DataFrame({c: np.nan for c in METRIC_COLUMNS}, index=range(n))
    metrics["index"] = range(n)
    metrics["alpha"] = np.logspace(0, -2, n)
    metrics["nnz"] = nnz
    metrics["features_per_class"] = np.asarray(nnz) / 2
    metrics["val_accuracy"] = val_accuracy
    return PathResult(metrics["alpha"].to_numpy(), coefs, np.zeros((n, 2)), np.zeros(10), np.ones(10), metrics,
                      {"family": "multinomial", "l1_ratio": 0.99})


def test_select_sparsest_within_five_points_of_the_best():
    path = toy_path([0.30, 0.70, 0.86, 0.88, 0.90, 0.89], [0, 2, 4, 6, 8, 10])
    assert path.select_index() == 2  # 0.86 >= 0.90 - 0.05; 0.70 is not
    assert path.select_index(within=0.01) == 4
    assert path.select_index(within=0.05, relative=True) == 2  # 0.86 >= 0.90 * 0.95 = 0.855
    assert path.select_index(within=0.02, relative=True) == 4  # floor 0.882: 0.88 is out, 0.90 in
    assert path.select_index(index=-1) == 5
    assert path.select_index(max_features_per_class=3) == 3
    layer = path.select()
    assert layer.name == "sparse" and layer.nnz == 4 and "path index 2" in layer.source


def test_select_ties_go_to_the_more_accurate_point():
    path = toy_path([0.5, 0.80, 0.82, 0.81], [0, 3, 3, 5])
    assert path.select_index(within=0.05) == 2


def test_best_and_select_raise_without_the_metric():
    path = toy_path([np.nan] * 3, [0, 1, 2])
    with pytest.raises(ValueError, match="absent .*without a validation set"):
        path.best("val_accuracy")
    with pytest.raises(ValueError, match="absent"):
        path.select()
    with pytest.raises(ValueError, match="not in this path's metrics"):
        path.best("f1")
    with pytest.raises(IndexError, match="out of range"):
        path.select(index=3)


def test_best_min_for_losses_max_for_accuracies():
    path = toy_path([0.1, 0.9, 0.5], [0, 1, 2])
    path.metrics["val_loss"] = [2.0, 0.5, 0.4]
    assert path.best("val_accuracy") == 1
    assert path.best("val_loss") == 2


def test_save_load_roundtrip_and_incomplete_folder(tmp_path, clf_data):
    X, y = clf_data
    result = fit_path(X[:180], y[:180], X_val=X[180:], y_val=y[180:], n_alphas=5, eps=1e-2,
                      classes=["a", "b", "c"])
    result.save(tmp_path / "p")
    loaded = PathResult.load(tmp_path / "p")
    np.testing.assert_array_equal(loaded.alphas, result.alphas)
    np.testing.assert_array_equal(loaded.intercepts, result.intercepts)
    for a, b in zip(loaded.coefs, result.coefs):
        np.testing.assert_array_equal(a.toarray(), b.toarray())
    pd.testing.assert_frame_equal(loaded.metrics, result.metrics, check_dtype=False)
    assert loaded.classes == ("a", "b", "c") and loaded.info["alpha_max"] == result.info["alpha_max"] and loaded.config == result.config
    np.testing.assert_array_equal(loaded.select().weight, result.select().weight)
    (tmp_path / "p" / "path.npz").unlink()
    with pytest.raises(FileNotFoundError, match="no complete path"):
        PathResult.load(tmp_path / "p")


def test_decision_layer_predicts_saves_and_imports_a_linear(tmp_path):
    linear = torch.nn.Linear(4, 3)
    layer = DecisionLayer.from_linear(linear, classes=["x", "y", "z"])
    X = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)
    expected = linear(torch.from_numpy(X)).detach().numpy()
    np.testing.assert_allclose(layer.decision_function(X), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(layer.predict(X), expected.argmax(1))
    proba = layer.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_allclose(proba, torch.softmax(torch.from_numpy(expected), 1).numpy(), rtol=1e-5)
    layer.save(tmp_path / "dense.npz")
    back = DecisionLayer.load(tmp_path / "dense.npz")
    np.testing.assert_array_equal(back.weight, layer.weight)
    assert back.name == "dense" and back.classes == ("x", "y", "z") and math.isnan(back.alpha)
    with pytest.raises(ValueError, match=r"expects \(n, 4\)"):
        layer.predict(X[:, :3])
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz: not a studykit decision layer"):
        DecisionLayer.load(tmp_path / "junk.npz")


def test_decision_layer_rejects_non_finite_weights():
    with pytest.raises(ValueError, match="NaN or Inf"):
        DecisionLayer(np.array([[np.nan]]), np.zeros(1))
