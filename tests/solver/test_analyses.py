"""Path analyses (Fig. 12, 16, 17; Table 37) against hand-computed values on a small path."""

from __future__ import annotations

import dataclasses

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from matplotlib.figure import Figure

from studykit.solver import DecisionLayer, PathResult, fit_path
from studykit.solver.analyses import (
    FEATURE_ORDER_COLUMNS, TOPK_COLUMNS, TRADEOFF_COLUMNS, feature_order, nnz_per_class, plot_nnz_per_class,
    plot_path, plot_tradeoff, topk_layer, topk_table, tradeoff, write_report,
)

CLASSES = ("cat", "dog/wolf", "bird")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 20)) * rng.uniform(0.5, 3.0, 20) + rng.normal(size=20)
    W = np.zeros((3, 20))
    W[:, :5] = 2.0 * rng.normal(size=(3, 5))
    y = ((X - X.mean(0)) / X.std(0) @ W.T + rng.gumbel(size=(300, 3))).argmax(1)
    return X, y


@pytest.fixture(scope="module")
def result(data):
    X, y = data
    return fit_path(X[:200], y[:200], X_val=X[200:250], y_val=y[200:250], X_test=X[250:], y_test=y[250:],
                    n_alphas=10, eps=1e-2, classes=CLASSES)


@pytest.fixture(scope="module")
def sparse(result):
    return result.layer(5)


def _bias_only_accuracy(layer, y):
    return float(np.mean(np.argmax(layer.bias) == y))


# ---------------------------------------------------------------------- nnz per class
def test_nnz_per_class_counts_nonzero_weights(sparse):
    frame = nnz_per_class(sparse)
    assert list(frame.columns) == ["class_index", "class", "n_features"]
    assert frame["n_features"].sum() == sparse.nnz
    assert frame["n_features"].tolist() == [int(np.count_nonzero(row)) for row in sparse.weight]
    assert frame["class"].tolist() == list(CLASSES)


def test_nnz_histogram_counts_every_class_once(sparse):
    ax = plot_nnz_per_class(sparse)
    assert sum(p.get_height() for p in ax.patches) == sparse.n_classes


def test_nnz_per_class_default_names():
    layer = DecisionLayer(np.array([[1.0, 0.0], [0.0, 0.0]]), np.zeros(2))
    assert nnz_per_class(layer)["class"].tolist() == ["0", "1"]


# ---------------------------------------------------------------------- feature order
def test_feature_order_matches_first_nonzero_index(result):
    frame = feature_order(result)
    assert list(frame.columns) == list(FEATURE_ORDER_COLUMNS)
    for c, name in enumerate(CLASSES):
        expected = {}
        for i, coef in enumerate(result.coefs):
            for j in np.flatnonzero(coef.toarray()[c]):
                expected.setdefault(int(j), i)
        rows = frame[frame["class_index"] == c]
        assert (rows["class"] == name).all()
        assert dict(zip(rows["feature"], rows["entry_index"])) == expected
        assert rows["rank"].tolist() == list(range(1, len(expected) + 1))
        assert rows["entry_index"].is_monotonic_increasing
        np.testing.assert_array_equal(rows["entry_alpha"], result.alphas[rows["entry_index"]])
        final = result.coefs[-1].toarray()[c, rows["feature"]]
        np.testing.assert_array_equal(rows["final_coef"], final)
        np.testing.assert_array_equal(rows["final_sign"], np.sign(final))


def test_feature_order_persistence_and_ties():
    coefs = [np.array([[0.0, 0.0, 0.0]]), np.array([[0.0, 1.0, -3.0]]), np.array([[2.0, 0.0, -3.0]])]
    result = PathResult(np.array([3.0, 2.0, 1.0]), [sp.csr_matrix(c) for c in coefs], np.zeros((3, 1)),
                        np.zeros(3), np.ones(3), pd.DataFrame())
    frame = feature_order(result)
    assert frame["feature"].tolist() == [2, 1, 0]  # 2 and 1 enter together; |-3| > |1|
    assert frame["entry_index"].tolist() == [1, 1, 2]
    assert frame["persistent"].tolist() == [True, False, True]
    assert frame["final_sign"].tolist() == [-1, 0, 1]


def test_feature_order_selects_classes_by_index_or_name(result):
    frame = feature_order(result, classes=["dog/wolf", 0])
    assert frame["class_index"].unique().tolist() == [1, 0]
    with pytest.raises(ValueError, match="horse"):
        feature_order(result, classes=["horse"])
    with pytest.raises(ValueError, match="7"):
        feature_order(result, classes=[7])


def test_plot_path_draws_one_line_per_entering_feature(result):
    ax = Figure().add_subplot()
    assert plot_path(result, "dog/wolf", ax, n_annotate=3) is ax
    entering = np.count_nonzero(np.vstack([c.toarray()[1] for c in result.coefs]).any(0))
    assert len(ax.lines) == entering + 1  # + the zero line
    assert len(ax.texts) == min(3, entering)


# ---------------------------------------------------------------------- top-k
def test_topk_layer_ranks_by_scaled_magnitude():
    layer = DecisionLayer(np.array([[1.0, -10.0, 3.0], [0.0, 2.0, -2.0]]), np.array([0.5, -0.5]))
    raw = topk_layer(layer, 1)
    np.testing.assert_array_equal(raw.weight, [[0.0, -10.0, 0.0], [0.0, 2.0, 0.0]])  # tie -> lower index
    scaled = topk_layer(layer, 1, scale=np.array([100.0, 1.0, 1.0]))
    np.testing.assert_array_equal(scaled.weight, [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    rest = topk_layer(layer, 1, scale=np.array([100.0, 1.0, 1.0]), keep="rest")
    np.testing.assert_array_equal(rest.weight + scaled.weight, layer.weight)
    np.testing.assert_array_equal(rest.bias, layer.bias)
    for bad in (dict(k=-1), dict(k=1.5), dict(k=1, keep="all"), dict(k=1, scale=np.ones(2))):
        with pytest.raises(ValueError):
            topk_layer(layer, **bad)


def test_topk_table_limits(data, result, sparse):
    X, y = data[0][250:], data[1][250:]
    dense = dataclasses.replace(result.layer(-1), name="dense")
    layers = {"dense": dense, "sparse": sparse}
    full = topk_table(layers, X, y, k=20, scale=result.scale)
    assert list(full.columns) == list(TOPK_COLUMNS)
    assert full["layer"].tolist() == ["dense", "sparse"]
    for row, layer in zip(full.itertuples(), layers.values()):
        assert row.all == pytest.approx(float(np.mean(layer.predict(X) == y)))
        assert row.top_k == row.all
        assert row.rest == pytest.approx(_bias_only_accuracy(layer, y))
    none = topk_table(layers, X, y, k=0)
    np.testing.assert_array_equal(none["rest"], none["all"])
    np.testing.assert_array_equal(none["top_k"], full["rest"])


def test_topk_table_with_k_at_least_class_support_keeps_sparse_layer(data, sparse):
    X, y = data[0][250:], data[1][250:]
    k = int(sparse.features_per_class.max())
    row = topk_table({"sparse": sparse}, X, y, k=k).iloc[0]
    assert row["top_k"] == row["all"]
    assert row["rest"] == pytest.approx(_bias_only_accuracy(sparse, y))
    assert row["features_per_class"] == pytest.approx(sparse.features_per_class.mean())


# ---------------------------------------------------------------------- trade-off
def test_tradeoff_is_the_metric_table(result):
    frame = tradeoff(result)
    assert list(frame.columns) == list(TRADEOFF_COLUMNS)
    pd.testing.assert_frame_equal(frame, result.metrics[list(TRADEOFF_COLUMNS)].reset_index(drop=True))


def test_plot_tradeoff_log_axis_and_selection(result):
    ax = plot_tradeoff(result, selected=5)
    assert ax.get_xscale() == "log"
    curves = [line for line in ax.lines if line.get_label() in ("train", "val", "test")]
    assert len(curves) == 3
    positive = int((result.metrics["features_per_class"] > 0).sum())
    assert all(len(line.get_xdata()) == positive for line in curves)
    (star,) = [line for line in ax.lines if line.get_label().startswith("selected")]
    assert set(star.get_xdata()) == {result.metrics["features_per_class"][5]}


# ---------------------------------------------------------------------- report
def _assert_png(path):
    assert path.stat().st_size > 0
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 0 and image.shape[1] > 0


def test_write_report_files(tmp_path, data, result, sparse):
    X, y = data[0][250:], data[1][250:]
    dense = dataclasses.replace(result.layer(-1), name="dense")
    written = write_report(result, tmp_path, sparse=sparse, dense=dense, X_test=X, y_test=y, k=3,
                           scale=result.scale)
    expected = {"nnz_per_class.csv", "nnz_per_class.png", "feature_order.csv", "path_cat.png",
                "path_dog_wolf.png", "topk.csv", "tradeoff.csv", "tradeoff.png"}
    assert set(written) == expected
    assert all(path.parent == tmp_path and path.name == name for name, path in written.items())
    columns = {"nnz_per_class.csv": ["class_index", "class", "n_features"],
               "feature_order.csv": list(FEATURE_ORDER_COLUMNS), "topk.csv": list(TOPK_COLUMNS),
               "tradeoff.csv": list(TRADEOFF_COLUMNS)}
    for name, cols in columns.items():
        assert list(pd.read_csv(written[name]).columns) == cols
    pd.testing.assert_frame_equal(pd.read_csv(written["feature_order.csv"]), feature_order(result),
                                  check_dtype=False)
    assert pd.read_csv(written["topk.csv"])["layer"].tolist() == ["dense", "sparse"]
    for name in expected:
        if name.endswith(".png"):
            _assert_png(written[name])


def test_write_report_without_test_split(tmp_path, result, sparse):
    written = write_report(result, tmp_path / "new", sparse=sparse)
    assert "topk.csv" not in written and not (tmp_path / "new" / "topk.csv").exists()
    assert all(path.exists() for path in written.values())
