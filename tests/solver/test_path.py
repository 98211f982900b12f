"""Contracts of fit_path: the grid, warm starts, standardization, determinism, resume, devices, errors."""

import numpy as np
import pytest
import torch

from studykit.solver import fit_path, split_rows

from solver_problems import interrupt_path, make_classification, make_regression, standardize

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def alpha_max_by_hand(Xs, Y, l1_ratio):
    """Eq. (5): max_jc |sum_i x_ij (y_ic - mean(y_c))| / (n l1_ratio)."""
    Y = Y.reshape(len(Y), -1) if Y.dtype.kind == "f" else np.eye(Y.max() + 1)[Y]
    return np.abs(Xs.T @ (Y - Y.mean(0))).max() / (len(Xs) * l1_ratio)


@pytest.mark.parametrize("method", ["owlqn", "fista", "saga"])
def test_all_zero_at_alpha_max_and_not_below(clf_data, method):
    X, y = clf_data
    result = fit_path(X, y, n_alphas=5, eps=0.5, method=method, dtype="float64")
    assert result.coefs[0].nnz == 0
    assert result.metrics["nnz"][0] == 0
    assert result.coefs[1].nnz > 0


def test_alpha_max_uses_standardized_training_rows_only(clf_data):
    X, y = clf_data
    result = fit_path(X, y, val_fraction=0.25, seed=3, n_alphas=3, dtype="float64")
    train, _ = split_rows(len(X), 0.25, 3)
    expected = alpha_max_by_hand(standardize(X[train]), y[train], 0.99)
    assert result.alphas[0] == pytest.approx(expected, rel=1e-10)
    assert result.info["alpha_max"] == pytest.approx(expected, rel=1e-10)
    # not the value on the raw features, nor on all rows
    assert abs(alpha_max_by_hand(X[train], y[train], 0.99) - expected) > 1e-3 * expected
    assert abs(alpha_max_by_hand(standardize(X), y, 0.99) - expected) > 1e-6 * expected
    assert not np.isnan(result.metrics["val_accuracy"]).any()


def test_grid_is_log_spaced_down_to_eps(reg_data):
    X, Y = reg_data
    result = fit_path(X, Y, family="gaussian", n_alphas=7, eps=1e-4, dtype="float64")
    ratios = result.alphas[1:] / result.alphas[:-1]
    np.testing.assert_allclose(ratios, ratios[0])
    assert result.alphas[-1] == pytest.approx(1e-4 * result.alphas[0])
    assert result.alphas[0] == pytest.approx(alpha_max_by_hand(standardize(X), Y, 0.99))


def test_layers_apply_to_raw_features_and_constant_feature_is_harmless(clf_data):
    X, y = clf_data
    result = fit_path(X, y, n_alphas=6, eps=1e-2, dtype="float64")
    assert np.isfinite(result.scale).all() and result.scale[-1] == 1.0
    for i in range(len(result)):
        layer = result.layer(i)
        Z = standardize(X) @ result.coef_dense(i).T + result.intercepts[i]
        np.testing.assert_allclose(layer.decision_function(X), Z, rtol=1e-5, atol=1e-5)
        assert layer.weight[:, -1].tolist() == [0.0] * 3
        assert np.isfinite(layer.weight).all()


@pytest.mark.parametrize("method", ["owlqn", "saga"])
def test_deterministic_under_seed_and_inputs_not_modified(clf_data, method):
    X, y = clf_data
    X_t = torch.as_tensor(X, dtype=torch.float32)
    before = (X.copy(), y.copy(), X_t.clone())
    kwargs = dict(n_alphas=5, eps=1e-2, method=method, seed=11, max_epochs=50)
    a = fit_path(X_t, y, **kwargs)
    b = fit_path(X_t, y, **kwargs)
    np.testing.assert_array_equal(a.intercepts, b.intercepts)
    for ca, cb in zip(a.coefs, b.coefs):
        np.testing.assert_array_equal(ca.toarray(), cb.toarray())
    fit_path(X, y, **kwargs)
    np.testing.assert_array_equal(X, before[0])
    np.testing.assert_array_equal(y, before[1])
    assert torch.equal(X_t, before[2])


@pytest.mark.parametrize("method", ["owlqn", "saga"])
def test_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path, clf_data, monkeypatch, method):
    X, y = clf_data
    kwargs = dict(n_alphas=6, eps=1e-2, method=method, seed=2, max_epochs=40, dtype="float64")
    full = fit_path(X, y, **kwargs)

    calls = interrupt_path(monkeypatch, lambda: fit_path(X, y, checkpoint_dir=tmp_path, **kwargs), at=4)
    resumed = fit_path(X, y, checkpoint_dir=tmp_path, **kwargs)
    assert calls == 4
    np.testing.assert_array_equal(resumed.intercepts, full.intercepts)
    for cr, cf in zip(resumed.coefs, full.coefs):
        np.testing.assert_array_equal(cr.toarray(), cf.toarray())
    cols = ["alpha", "nnz", "train_objective", "epochs"]
    np.testing.assert_array_equal(resumed.metrics[cols].to_numpy(), full.metrics[cols].to_numpy())


def test_checkpoint_from_other_data_is_refused(tmp_path, clf_data):
    X, y = clf_data
    fit_path(X, y, n_alphas=3, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="other data or another configuration"):
        fit_path(X[:-1], y[:-1], n_alphas=3, checkpoint_dir=tmp_path)


@pytest.mark.parametrize("device", DEVICES)
def test_memmap_streamed_in_chunks_equals_in_memory(tmp_path, clf_data, device):
    X, y = clf_data
    np.save(tmp_path / "train.npy", X.astype(np.float32))
    mm = np.load(tmp_path / "train.npy", mmap_mode="r")
    kwargs = dict(n_alphas=5, eps=1e-2, device=device, tol=1e-6)
    streamed = fit_path(mm, y, preload="never", **kwargs)
    in_memory = fit_path(X.astype(np.float32), y, **kwargs)
    for cs, cm in zip(streamed.coefs, in_memory.coefs):
        np.testing.assert_allclose(cs.toarray(), cm.toarray(), atol=2e-4)
    assert streamed.info["device"].startswith(device)


def test_saga_table_can_live_elsewhere(clf_data):
    X, y = clf_data
    result = fit_path(X, y, n_alphas=3, eps=0.1, method="saga", table_device="cpu", max_epochs=5)
    assert len(result) == 3


@pytest.mark.parametrize("change, message", [
    (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 25, np.nan, X), y), "row 2, feature 1 is NaN"),
    (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 13, np.inf, X), y), "row 1, feature 1 is NaN or Inf"),
    (lambda X, y: (X, y[:-1]), "X has 240 rows but y has 239"),
    (lambda X, y: (X, np.where(np.arange(len(y)) == 7, -1, y)), r"label -1 at row 7 is outside \[0, 3\)"),
    (lambda X, y: (X, np.where(y == 1, 2, y)), "class 1 has no training rows"),
    (lambda X, y: (X, y + 0.5), "must be integers"),
])
def test_bad_input_raises_one_line_error(clf_data, change, message):
    X, y = change(*clf_data)
    with pytest.raises(ValueError, match=message) as err:
        fit_path(X, y, n_alphas=2)
    assert "\n" not in str(err.value)


def test_label_outside_declared_classes(clf_data):
    X, y = clf_data
    with pytest.raises(ValueError, match=r"label 2 at row \d+ is outside \[0, 2\)"):
        fit_path(X, y, n_alphas=2, n_classes=2)


@pytest.mark.parametrize("kwargs, field", [
    ({"l1_ratio": 1.5}, "l1_ratio"), ({"l1_ratio": -0.1}, "l1_ratio"), ({"eps": 0.0}, "eps"),
    ({"n_alphas": 0}, "n_alphas"), ({"family": "poisson"}, "family"), ({"method": "cd"}, "method"),
    ({"method": "owlqn", "stopping": "lookbehind"}, "stopping"), ({"alphas": [0.1, 0.2]}, "alphas"),
])
def test_invalid_configuration_names_the_field(clf_data, kwargs, field):
    X, y = clf_data
    with pytest.raises(ValueError, match=f"^{field}="):
        fit_path(X, y, **kwargs)


def test_gaussian_accepts_one_dimensional_targets(reg_data):
    X, Y = reg_data
    result = fit_path(X, Y[:, 0], family="gaussian", n_alphas=4, eps=1e-2)
    assert result.intercepts.shape == (4, 1)
    assert np.isnan(result.metrics["train_accuracy"]).all()


def test_explicit_grid_and_ridge(clf_data):
    X, y = clf_data
    result = fit_path(X, y, l1_ratio=0.0, alphas=[1.0, 0.1, 0.01], dtype="float64")
    np.testing.assert_allclose(result.alphas, [1.0, 0.1, 0.01])
    assert result.metrics["nnz"].iloc[-1] == 3 * 11  # ridge: every non-constant feature is used
    assert (result.metrics["kkt"] <= 1e-4).all()


def test_callback_stops_the_path_and_keeps_what_was_fitted(clf_data):
    X, y = clf_data
    seen = []

    def stop_when_dense(index, row):
        seen.append((index, row["nnz"]))
        return row["features_per_class"] >= 3

    result = fit_path(X, y, n_alphas=20, eps=1e-3, callback=stop_when_dense)
    assert 1 < len(result) < 20
    assert len(result.coefs) == len(result.alphas) == len(result.metrics) == len(seen)
    assert result.metrics["features_per_class"].iloc[-1] >= 3 > result.metrics["features_per_class"].iloc[-2]


def test_saga_minibatches_streamed_from_a_memmap_equal_preloaded(tmp_path, clf_data):
    X, y = clf_data
    np.save(tmp_path / "train.npy", X)
    mm = np.load(tmp_path / "train.npy", mmap_mode="r")
    kwargs = dict(n_alphas=3, eps=0.1, method="saga", max_epochs=5, seed=4, dtype="float64")
    streamed = fit_path(mm, y, preload="never", **kwargs)
    preloaded = fit_path(X, y, **kwargs)
    for cs, cp in zip(streamed.coefs, preloaded.coefs):
        np.testing.assert_allclose(cs.toarray(), cp.toarray(), rtol=1e-10, atol=1e-12)


def test_saga_catches_a_blow_up_and_halves_the_step(clf_data, caplog):
    X, y = clf_data
    result = fit_path(X, y, n_alphas=4, eps=0.1, method="saga", lr=1e4, max_epochs=50, dtype="float64")
    assert "SAGA diverged" in caplog.text
    assert result.info["lr"] <= 1e4 / 2
    assert all(np.isfinite(c.toarray()).all() for c in result.coefs)
    null = result.metrics["train_objective"].iloc[0]  # W = 0 at alpha_max
    assert (result.metrics["train_objective"] <= 2 * null).all()
