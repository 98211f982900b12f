"""Grouped elastic net (issue 19): the group prox, the path against scikit-learn's MultiTaskElasticNet
and a slow float64 reference, the group KKT certificate recomputed from the returned layers."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import MultiTaskElasticNet

from studykit.solver import PathConfig, fit_path
from studykit.solver.penalties import group_kkt_violation, group_penalty_value, prox_group_elastic_net

from solver_problems import datafit_loss, make_classification, make_regression, standardize

L1_RATIO = 0.7


def fact(result, key):
    """A fact about the fit: in ``result.info`` when PathResult has it (issue 12), else in ``result.config``."""
    info = getattr(result, "info", None)
    return info[key] if isinstance(info, dict) and key in info else result.config[key]


def reference_group_prox(V, step, alpha, l1_ratio):
    """Column by column: the minimizer of 1/2 |w - v|^2 + step alpha (l1_ratio |w| + (1-l1_ratio)/2 |w|^2)."""
    out = np.zeros_like(V)
    for j in range(V.shape[1]):
        norm = np.linalg.norm(V[:, j])
        threshold = step * alpha * l1_ratio
        if norm > threshold:
            out[:, j] = (1 - threshold / norm) * V[:, j] / (1 + step * alpha * (1 - l1_ratio))
    return out


def group_objective(family, Xs, Y, W, b, alpha, l1_ratio):
    penalty = l1_ratio * np.linalg.norm(W, axis=0).sum() + 0.5 * (1 - l1_ratio) * (W ** 2).sum()
    return datafit_loss(family, Xs, Y, W, b) + alpha * penalty


def gradient(family, Xs, Y, W, b):
    Z = Xs @ W.T + b
    if family == "gaussian":
        U = Z - Y
    else:
        P = np.exp(Z - Z.max(1, keepdims=True))
        U = P / P.sum(1, keepdims=True)
        U[np.arange(len(Y)), Y] -= 1
    return U.T @ Xs / len(Y), U.mean(0)


def slow_reference(Xs, y, k, alpha, l1_ratio, iters=5_000):
    """Plain proximal gradient in float64 with the constant step 1/L, L = |Xs|_2^2 / (2 n) + 1/2."""
    n, d = Xs.shape
    L = 0.5 * (np.linalg.norm(Xs, 2) ** 2 / n + 1.0)
    W, b = np.zeros((k, d)), np.zeros(k)
    for _ in range(iters):
        G, gb = gradient("multinomial", Xs, y, W, b)
        W = reference_group_prox(W - G / L, 1 / L, alpha, l1_ratio)
        b = b - gb / L
    return W, b


def test_group_prox_matches_the_numpy_reference():
    rng = np.random.default_rng(0)
    V = rng.normal(size=(4, 30)) * rng.uniform(0, 2, size=30)
    for step, alpha, l1 in ((0.5, 1.0, 0.9), (1.0, 0.3, 1.0), (2.0, 0.1, 0.0)):
        ours = prox_group_elastic_net(torch.tensor(V), step, alpha, l1).numpy()
        ref = reference_group_prox(V, step, alpha, l1)
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal((ours != 0).any(0), (ref != 0).any(0))
    assert 0 < int(((reference_group_prox(V, 0.5, 1.0, 0.9) == 0).all(0)).sum()) < V.shape[1]  # both kinds occur


def test_group_kkt_is_zero_at_a_prox_fixed_point_and_positive_elsewhere():
    rng = np.random.default_rng(1)
    G = torch.tensor(rng.normal(size=(3, 8)))
    alpha, l1 = 0.8, 0.6
    # W = prox(-G) minimizes 1/2 |W + G|^2 + penalty(W), whose smooth part has gradient W + G
    W = prox_group_elastic_net(-G, 1.0, alpha, l1)
    assert float(group_kkt_violation(W, W + G, alpha, l1).max()) < 1e-12
    assert float(group_kkt_violation(torch.zeros_like(W), W + G, alpha, l1).max()) > 0.1
    assert group_penalty_value(W, alpha, l1) == pytest.approx(
        alpha * (l1 * np.linalg.norm(W.numpy(), axis=0).sum() + 0.5 * (1 - l1) * (W.numpy() ** 2).sum()))


@pytest.mark.parametrize("method", ["fista", "saga"])
def test_gaussian_grouped_path_matches_multitask_elastic_net(method):
    X, Y = make_regression(n=150, d=10, k=3)
    extra = dict(stopping="kkt", tol=1e-7, batch_size=32, max_epochs=20_000) if method == "saga" else \
        dict(tol=1e-8, max_epochs=20_000)
    result = fit_path(X, Y, family="gaussian", l1_ratio=L1_RATIO, n_alphas=7, eps=1e-2, method=method,
                      grouped=True, dtype="float64", **extra)
    Xs = standardize(X)
    assert result.metrics["converged"].all()
    assert 0 < result.metrics["features_used"].iloc[3] < X.shape[1]
    for i, alpha in enumerate(result.alphas):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref = MultiTaskElasticNet(alpha=alpha, l1_ratio=L1_RATIO, tol=1e-12, max_iter=200_000).fit(Xs, Y)
        W, b = result.coef_dense(i), result.intercepts[i]
        ours = group_objective("gaussian", Xs, Y, W, b, alpha, L1_RATIO)
        theirs = group_objective("gaussian", Xs, Y, ref.coef_, ref.intercept_, alpha, L1_RATIO)
        assert ours == pytest.approx(result.metrics["train_objective"][i], rel=1e-9)
        assert (ours - theirs) / abs(theirs) <= 1e-3, f"alpha index {i}: {ours} vs scikit-learn {theirs}"
        np.testing.assert_array_equal((W != 0).any(0), (ref.coef_ != 0).any(0), err_msg=f"columns at alpha {i}")
        np.testing.assert_array_equal((W != 0).any(0), (W != 0).all(0))  # whole columns


def test_multinomial_grouped_path_matches_a_slow_reference_and_its_kkt_holds_on_the_layers():
    X, y = make_classification(n=160, d=8, k=3)
    tol = 1e-7
    result = fit_path(X, y, l1_ratio=L1_RATIO, n_alphas=5, eps=2e-2, grouped=True, dtype="float64", tol=tol,
                      max_epochs=20_000)
    assert fact(result, "solver_method") == "fista"  # owlqn (the default) has no group form
    Xs = standardize(X)
    G0, _ = gradient("multinomial", Xs, y, np.zeros((3, 8)), np.log(np.bincount(y) / len(y)))
    scale = np.linalg.norm(G0, axis=0).max()
    assert fact(result, "alpha_max") == pytest.approx(scale / L1_RATIO, rel=1e-10)
    assert result.metrics["nnz"].iloc[0] == 0 and result.metrics["nnz"].iloc[1] > 0
    for i in (1, 2, 4):
        alpha = result.alphas[i]
        W_ref, b_ref = slow_reference(Xs, y, 3, alpha, L1_RATIO)
        W, b = result.coef_dense(i), result.intercepts[i]
        ours = group_objective("multinomial", Xs, y, W, b, alpha, L1_RATIO)
        theirs = group_objective("multinomial", Xs, y, W_ref, b_ref, alpha, L1_RATIO)
        assert ours <= theirs + 1e-9 * abs(theirs), (i, ours, theirs)
        np.testing.assert_array_equal((W != 0).any(0), (np.abs(W_ref) > 1e-8).any(0))
        # KKT from the raw-feature layer: back to the standardized coefficients, recompute the gradient
        layer = result.layer(i)
        W_std = layer.weight.astype(np.float64) * result.scale
        b_std = layer.bias.astype(np.float64) + W_std @ (result.mean / result.scale)
        G, gb = gradient("multinomial", Xs, y, W_std, b_std)
        V = group_kkt_violation(torch.tensor(W_std), torch.tensor(G), alpha, L1_RATIO).numpy()
        assert max(V.max(), np.abs(gb).max()) <= 1e-3 * scale  # float32 layers: rounding, not the solver
        np.testing.assert_array_equal((layer.weight != 0).any(0), (layer.weight != 0).all(0))


def test_include_unregularized_appends_the_least_squares_fit():
    X, Y = make_regression(n=120, d=6, k=2)
    result = fit_path(X, Y, family="gaussian", n_alphas=4, eps=1e-2, include_unregularized=True, tol=1e-9,
                      dtype="float64", max_epochs=10_000)
    assert len(result) == 5 and result.alphas[-1] == 0 and len(result.metrics) == 5
    Xs = standardize(X)
    A = np.c_[Xs, np.ones(len(Xs))]
    coef, *_ = np.linalg.lstsq(A, Y, rcond=None)
    np.testing.assert_allclose(result.coef_dense(-1), coef[:-1].T, atol=1e-6)
    np.testing.assert_allclose(result.intercepts[-1], coef[-1], atol=1e-6)
    assert result.metrics["kkt"].iloc[-1] <= 1e-9
    explicit = fit_path(X, Y, family="gaussian", alphas=[0.5, 0.1], include_unregularized=True)
    assert list(explicit.alphas) == [0.5, 0.1, 0.0]


def test_config_checks_the_new_fields():
    with pytest.raises(ValueError, match="grouped"):
        PathConfig(grouped="yes")
    with pytest.raises(ValueError, match="include_unregularized"):
        PathConfig(include_unregularized=1)
    assert PathConfig(grouped=True).solver == "fista"
    assert PathConfig(grouped=True, method="auto").solver == "fista"
    assert PathConfig(grouped=True, method="saga").solver == "saga"
    assert PathConfig().solver == "owlqn"
    with pytest.raises(ValueError, match="no group form"):  # Gram coordinate descent is elementwise
        PathConfig(family="gaussian", method="cd", grouped=True)
    assert PathConfig.from_dict(PathConfig(grouped=True).to_dict()).grouped is True
