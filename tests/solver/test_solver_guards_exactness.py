"""Exactness of the path at its *default* tolerance against a near-exact reference (issue 20).

The reference is solved by a slow but certain method: L-BFGS-B in float64 on the smooth
split-variable form ``W = P - N`` (``P, N >= 0``) of the elastic-net objective, run to the
limits of float64, and accepted only when its own KKT violation is below 1e-8. The problem is
the hard kind for working-set solvers: a few hundred strongly correlated columns and few rows.
"""

import functools

import numpy as np
import pytest
from scipy.optimize import minimize

from studykit.solver import fit_path

from solver_problems import standardize

L1_RATIO = 0.7
N_ALPHAS = 4
EPS = 0.1


def correlated_problem(family, n=50, d=200, k=3, seed=3):
    """Blocks of 8 columns sharing one latent factor (pairwise correlation about 0.9)."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, d // 8))
    X = np.repeat(latent, 8, axis=1) + 0.35 * rng.normal(size=(n, d))
    X = X * rng.uniform(0.5, 3.0, size=d) + rng.uniform(-2, 2, size=d)
    W = np.zeros((k, d))
    W[:, rng.choice(d, 6, replace=False)] = 1.5 * rng.normal(size=(k, 6))
    Z = standardize(X) @ W.T
    if family == "gaussian":
        return X, Z + 0.5 * rng.normal(size=(n, k))
    return X, (Z + rng.gumbel(size=(n, k))).argmax(1)


def smooth_parts(family, Xs, Y, W, b):
    """Datafit value and its gradient in (W, b)."""
    n = len(Xs)
    Z = Xs @ W.T + b
    if family == "gaussian":
        R = Z - Y
        return 0.5 * (R ** 2).sum(1).mean(), R.T @ Xs / n, R.mean(0)
    Z = Z - Z.max(1, keepdims=True)
    P = np.exp(Z)
    lse = np.log(P.sum(1))
    P /= P.sum(1, keepdims=True)
    P[np.arange(n), Y] -= 1.0
    return (lse - Z[np.arange(n), Y]).mean(), P.T @ Xs / n, P.mean(0)


def objective(family, Xs, Y, W, b, alpha):
    loss = smooth_parts(family, Xs, Y, W, b)[0]
    return loss + alpha * (L1_RATIO * np.abs(W).sum() + 0.5 * (1 - L1_RATIO) * (W ** 2).sum())


def kkt(family, Xs, Y, W, b, alpha):
    """Largest violation of the optimality conditions (the subgradient distance to zero)."""
    _, G, gb = smooth_parts(family, Xs, Y, W, b)
    G = G + alpha * (1 - L1_RATIO) * W
    l1 = alpha * L1_RATIO
    V = np.where(W != 0, np.abs(G + l1 * np.sign(W)), np.maximum(np.abs(G) - l1, 0.0))
    return max(V.max(), np.abs(gb).max())


@functools.cache
def reference_for(family, alpha):
    """The reference at ``alpha`` on :func:`correlated_problem` (shared by the methods)."""
    X, Y = correlated_problem(family)
    return reference(family, standardize(X), Y, alpha, 3)


def reference(family, Xs, Y, alpha, k):
    d = Xs.shape[1]
    m = k * d

    def fun(v):
        P, N, b = v[:m].reshape(k, d), v[m:2 * m].reshape(k, d), v[2 * m:]
        W = P - N
        loss, G, gb = smooth_parts(family, Xs, Y, W, b)
        G = G + alpha * (1 - L1_RATIO) * W
        l1 = alpha * L1_RATIO
        value = loss + l1 * (P.sum() + N.sum()) + 0.5 * alpha * (1 - L1_RATIO) * (W ** 2).sum()
        return value, np.concatenate([(G + l1).ravel(), (l1 - G).ravel(), gb])

    bounds = [(0, None)] * (2 * m) + [(None, None)] * k
    v = np.zeros(2 * m + k)
    for _ in range(3):  # restarts sharpen the last digits
        v = minimize(fun, v, jac=True, method="L-BFGS-B", bounds=bounds,
                     options={"maxiter": 20_000, "maxcor": 30, "ftol": 1e-16, "gtol": 1e-13}).x
    W = v[:m].reshape(k, d) - v[m:2 * m].reshape(k, d)
    W[np.abs(W) < 1e-12] = 0.0  # P and N both tiny: an exact zero of the split form
    b = v[2 * m:]
    if family == "gaussian":  # polish: on a fixed support and signs the problem is a linear system
        n = len(Xs)
        for c in range(k):
            S = np.flatnonzero(W[c])
            A = Xs[:, S].T @ Xs[:, S] / n + alpha * (1 - L1_RATIO) * np.eye(len(S))
            rhs = Xs[:, S].T @ (Y[:, c] - Y[:, c].mean()) / n - alpha * L1_RATIO * np.sign(W[c, S])
            W[c, S] = np.linalg.solve(A, rhs)
        b = Y.mean(0) - Xs.mean(0) @ W.T
    return W, b


def cases():
    """Every selectable full-batch method (``cd`` is gaussian only) on both families."""
    from studykit.solver.config import METHODS
    return [(method, family) for method in ("owlqn", "fista", "cd") if method in METHODS
            for family in ("multinomial", "gaussian") if method != "cd" or family == "gaussian"]


@pytest.mark.parametrize(("method", "family"), cases())
def test_default_tolerance_is_near_exact(family, method):
    X, Y = correlated_problem(family)
    result = fit_path(X, Y, family=family, l1_ratio=L1_RATIO, n_alphas=N_ALPHAS, eps=EPS, method=method,
                      dtype="float64")
    Xs = standardize(X)
    alpha_max = result.alphas[0]
    assert result.metrics["converged"].all()
    for i, alpha in enumerate(result.alphas):
        if i == 0:
            continue  # alpha_max: W = 0 exactly, checked by the other tests
        W_ref, b_ref = reference_for(family, float(alpha))
        assert kkt(family, Xs, Y, W_ref, b_ref, alpha) < 1e-8 * alpha_max, "the reference itself is not exact"
        W, b = result.coef_dense(i), result.intercepts[i]
        ours, ref = objective(family, Xs, Y, W, b, alpha), objective(family, Xs, Y, W_ref, b_ref, alpha)
        reported = result.metrics["train_objective"][i]
        where = f"{method}/{family} alpha index {i}"
        assert (ours - ref) / ref <= 1e-6, f"{where}: objective {ours!r} vs reference {ref!r}"
        # Both directions: nothing below the optimum, computed or reported, beyond rounding.
        assert ours >= ref * (1 - 1e-12), f"{where}: objective {ours!r} below the reference {ref!r}"
        assert reported >= ref * (1 - 1e-9), f"{where}: reported {reported!r} below the reference {ref!r}"
        assert reported == pytest.approx(ours, rel=1e-9)
        np.testing.assert_array_equal(W != 0, W_ref != 0, err_msg=f"{where}: support")
        scale = np.abs(W_ref).max()
        np.testing.assert_allclose(W, W_ref, atol=2e-3 * scale, err_msg=f"{where}: coefficients")
        np.testing.assert_allclose(b, b_ref, atol=2e-3 * max(1.0, np.abs(b_ref).max()), err_msg=where)
