"""studykit's SAGA against a slow, literal NumPy implementation of Algorithm 1."""

import numpy as np
import torch

from studykit.solver.datafits import get_datafit
from studykit.solver.design import Design
from studykit.solver.saga import SagaState, solve_saga

from solver_problems import make_classification, make_regression, standardize


def prox(beta, l1, l2):
    """Eq. (4), entry by entry."""
    out = np.zeros_like(beta)
    out[beta > l1] = (beta[beta > l1] - l1) / (1 + l2)
    out[beta < -l1] = (beta[beta < -l1] + l1) / (1 + l2)
    return out


def residual(family, z, y):
    if family == "gaussian":
        return z - y
    p = np.exp(z - z.max())
    p /= p.sum()
    p[y] -= 1.0
    return p


def algorithm1(X, Y, family, batches, lr, alpha, l1_ratio, k):
    """Lines 1-21 of Algorithm 1, one example at a time, averages updated once per minibatch."""
    n, d = X.shape
    beta, beta0 = np.zeros((k, d)), np.zeros(k)
    table = np.zeros((n, k))
    g_avg, g0_avg = np.zeros((k, d)), np.zeros(k)
    for B in batches:
        g, gp, g0, g0p = np.zeros((k, d)), np.zeros((k, d)), np.zeros(k), np.zeros(k)
        a_new = {}
        for i in B:
            a = residual(family, beta @ X[i] + beta0, Y[i])
            a_new[i] = a
            g += np.outer(a, X[i]) / len(B)
            gp += np.outer(table[i], X[i]) / len(B)
            g0 += a / len(B)
            g0p += table[i] / len(B)
        beta = beta - lr * (g - gp + g_avg)
        beta0 = beta0 - lr * (g0 - g0p + g0_avg)
        beta = prox(beta, lr * alpha * l1_ratio, lr * alpha * (1 - l1_ratio))
        for i in B:
            table[i] = a_new[i]
        g_avg = g_avg + len(B) / n * (g - gp)
        g0_avg = g0_avg + len(B) / n * (g0 - g0p)
    return beta, beta0


def run_both(family, X, Y, k, epochs=3, batch_size=32, lr=0.05, alpha=0.02, l1_ratio=0.7, seed=5):
    datafit = get_datafit(family)
    design = Design.build(X, dtype=torch.float64)
    Yt = torch.as_tensor(Y) if family == "multinomial" else torch.as_tensor(Y, dtype=torch.float64)
    state = SagaState.zeros(len(X), k, X.shape[1], device="cpu", table_device="cpu", dtype=torch.float64)
    W0 = torch.zeros(k, X.shape[1], dtype=torch.float64)
    b0 = torch.zeros(k, dtype=torch.float64)
    W, b, info = solve_saga(design, Yt, datafit, W0, b0, alpha, l1_ratio, state, lr=lr, batch_size=batch_size,
                            max_epochs=epochs, stopping="gradient", tol=0.0, lookbehind=1, grad_scale=1.0,
                            generator=torch.Generator().manual_seed(seed))
    assert info.epochs == epochs
    gen = torch.Generator().manual_seed(seed)
    batches = [B.numpy() for _ in range(epochs) for B in torch.randperm(len(X), generator=gen).split(batch_size)]
    Xs = standardize(X)
    ref_W, ref_b = algorithm1(Xs, Y, family, batches, lr, alpha, l1_ratio, k)
    return W.numpy(), b.numpy(), ref_W, ref_b


def test_saga_matches_algorithm1_multinomial():
    X, y = make_classification(n=150, d=8, k=3)
    W, b, ref_W, ref_b = run_both("multinomial", X, y, 3)
    np.testing.assert_allclose(W, ref_W, atol=1e-10)
    np.testing.assert_allclose(b, ref_b, atol=1e-10)
    assert np.count_nonzero(W) > 0 and np.count_nonzero(W) == np.count_nonzero(ref_W)


def test_saga_matches_algorithm1_gaussian_with_partial_last_batch():
    X, Y = make_regression(n=130, d=7, k=2)
    W, b, ref_W, ref_b = run_both("gaussian", X, Y, 2, batch_size=40, lr=0.01, alpha=0.05)
    np.testing.assert_allclose(W, ref_W, atol=1e-10)
    np.testing.assert_allclose(b, ref_b, atol=1e-10)
