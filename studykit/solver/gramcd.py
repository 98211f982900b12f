"""Coordinate descent on the Gram matrix for the gaussian family: ``method="cd"``.

With standardized (centred) features the gaussian objective depends on the data only through
``S = Xs^T Xs / n`` ``(d, d)`` and ``C = (Y - mean(Y))^T Xs / n`` ``(k, d)``: the intercept is
``mean(Y)`` at every alpha and the gradient of the mean loss is ``G = W S - C``. Both are
computed once per path (one pass over the rows, ``O(n d^2)``); after that an alpha costs
``O(k d)`` per coordinate update and never touches the rows again, which is how glmnet's
"covariance" mode and scikit-learn's ``precompute=True`` beat a row-wise solver when
``n_samples > n_features``.

Cyclic updates of one feature column for all outputs at once (the l1 penalty is per entry, so
the outputs' updates are independent given the column): ``w_j <- soft(w_j S_jj - g_j, l1) /
(S_jj + l2)`` with ``g_j = (W S - C)[:, j]`` kept current by rank-one updates. Sweeps alternate
between all features and the active ones (glmnet's strategy); the stopping test is the exact KKT
violation of the full problem recomputed from ``S`` and ``C``.
"""

from __future__ import annotations

import numpy as np

from .penalties import kkt_violation


def gram_statistics(design, Y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``S`` ``(d, d)``, ``C`` ``(k, d)`` (float64) and the intercept ``mean(Y)`` ``(k,)``."""
    import torch

    d = design.n_features
    S = torch.zeros(d, d, dtype=torch.float64, device=design.device)
    for _, _, Xc in design.chunks():
        Xd = Xc.double()
        S.addmm_(Xd.T, Xd)
    S = design.reduce(S)
    n = design.n_total
    mean, inv = design.mean.double(), design.inv_scale.double()
    S = (S / n - torch.outer(mean, mean)) * inv[:, None] * inv[None, :]
    Ybar = design.reduce(Y.double().sum(0)) / n
    C = (design.backward((Y - Ybar.to(Y.dtype))).double() / n)
    return S.cpu().numpy(), C.cpu().numpy(), Ybar.cpu().numpy()


def solve_gram_cd(S: np.ndarray, C: np.ndarray, W: np.ndarray, alpha: float, l1_ratio: float, *,
                  target: float, max_sweeps: int) -> tuple[np.ndarray, int, bool]:
    """Minimize ``1/2 tr(W S W^T) - tr(C W^T) + penalty(W)`` from ``W`` (float64, not modified).

    Returns ``W, sweeps, converged``; converged when the largest KKT violation is <= ``target``."""
    import torch

    l1, l2 = alpha * l1_ratio, alpha * (1.0 - l1_ratio)
    W = W.copy()
    R = W @ S  # (k, d): W S, kept current
    diag = np.diag(S).copy()
    live = np.flatnonzero(diag > 0)
    sweeps, full_sweep = 0, True
    while sweeps < max_sweeps:
        cols = live if full_sweep else live[(W[:, live] != 0).any(0)]
        largest = 0.0  # largest coordinate move, in gradient units
        for j in cols:
            w_old = W[:, j]
            z = w_old * diag[j] - (R[:, j] - C[:, j])
            w_new = np.sign(z) * np.maximum(np.abs(z) - l1, 0.0) / (diag[j] + l2)
            delta = w_new - w_old
            if delta.any():
                R += np.outer(delta, S[j])
                W[:, j] = w_new
                largest = max(largest, float(np.abs(delta).max()) * diag[j])
        sweeps += 1
        if full_sweep:
            R = W @ S  # drop accumulated rounding before the certificate
            V = kkt_violation(torch.from_numpy(W), torch.from_numpy(R - C), alpha, l1_ratio)
            if (float(V.max()) if V.numel() else 0.0) <= target:
                return W, sweeps, True
            full_sweep = False
        elif largest <= 0.1 * target or not cols.size:
            full_sweep = True  # the active set has converged: check (and grow) it on all features
    return W, sweeps, False
