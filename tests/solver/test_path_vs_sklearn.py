"""The regularization path against scikit-learn solved to a tight tolerance: objective and support."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, LogisticRegression

from studykit.solver import fit_path

from solver_problems import datafit_loss, make_classification, make_regression, standardize

L1_RATIO = 0.8


def objective(family, Xs, Y, W, b, alpha, l1_ratio):
    penalty = l1_ratio * np.abs(W).sum() + 0.5 * (1 - l1_ratio) * (W ** 2).sum()
    return datafit_loss(family, Xs, Y, W, b) + alpha * penalty


def sklearn_solution(family, Xs, Y, alpha, l1_ratio):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if family == "gaussian":
            model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=100_000).fit(Xs, Y)
            return np.atleast_2d(model.coef_), np.atleast_1d(model.intercept_)
        model = LogisticRegression(l1_ratio=l1_ratio, C=1.0 / (len(Y) * alpha), solver="saga",
                                   tol=1e-10, max_iter=50_000, random_state=0).fit(Xs, Y)
        return model.coef_, model.intercept_


def support(W, scale):
    return np.abs(W) > 1e-4 * scale


@pytest.mark.parametrize("method", ["owlqn", "fista"])
@pytest.mark.parametrize("family", ["multinomial", "gaussian"])
def test_path_matches_sklearn_at_every_alpha(family, method):
    X, Y = make_classification(n=160, d=10) if family == "multinomial" else make_regression(n=160, d=10)
    result = fit_path(X, Y, family=family, l1_ratio=L1_RATIO, n_alphas=8, eps=1e-3, method=method,
                      tol=1e-7, dtype="float64", max_epochs=20_000)
    Xs = standardize(X)
    assert result.metrics["converged"].all()
    for i, alpha in enumerate(result.alphas):
        W, b = result.coef_dense(i), result.intercepts[i]
        W_ref, b_ref = sklearn_solution(family, Xs, Y, alpha, L1_RATIO)
        ours = objective(family, Xs, Y, W, b, alpha, L1_RATIO)
        ref = objective(family, Xs, Y, W_ref, b_ref, alpha, L1_RATIO)
        assert ours == pytest.approx(result.metrics["train_objective"][i], rel=1e-9)
        assert (ours - ref) / abs(ref) <= 1e-3, f"alpha index {i}: objective {ours} vs scikit-learn {ref}"
        scale = max(np.abs(W_ref).max(), 1e-12)
        np.testing.assert_array_equal(support(W, scale), support(W_ref, scale), err_msg=f"support at alpha {i}")


def test_saga_path_reaches_the_same_objective():
    X, y = make_classification(n=160, d=10)
    exact = fit_path(X, y, l1_ratio=L1_RATIO, n_alphas=6, eps=1e-2, tol=1e-8, dtype="float64")
    saga = fit_path(X, y, l1_ratio=L1_RATIO, n_alphas=6, eps=1e-2, method="saga", stopping="kkt",
                    tol=1e-5, batch_size=32, max_epochs=5000, dtype="float64")
    gap = (saga.metrics["train_objective"] - exact.metrics["train_objective"]) / exact.metrics["train_objective"]
    assert (gap.abs() <= 1e-4).all(), gap.tolist()
    assert (saga.metrics["kkt"] <= 1e-5).all()
