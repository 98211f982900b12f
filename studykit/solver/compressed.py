"""The gaussian path on a compressed design of ``d + 1`` rows instead of ``n`` (issue 12, item 2).

With standardized (centred) features the gaussian objective depends on the rows only through
``S = Xs^T Xs / n`` and ``C = (Y - Ybar)^T Xs / n`` (see :mod:`.gramcd`). Any design ``X~`` with
``m`` rows, ``X~^T X~ / m = S``, centred columns, and targets ``Y~`` with ``X~^T (Y~ - Ybar) / m = C^T``
and mean ``Ybar`` has the same gradient in ``W`` and ``b`` at every point, hence the same solutions,
the same working sets and the same KKT certificate; its loss differs from the true one by a
constant. With ``S = V diag(lam) V^T`` (rank r) take ``R = diag(sqrt(lam)) V^T`` (r x d), an
orthonormal basis ``Q`` (m x r, ``m = r + 1``) of the vectors orthogonal to the ones vector, and

    X~ = sqrt(m) Q R,        Y~ = sqrt(m) Q diag(1 / sqrt(lam)) V^T C^T + Ybar.

The working-set solvers (OWL-QN, FISTA) then run on ``m <= d + 1`` rows: every product costs
``(d + 1) / n`` of the real one. Computing ``S`` is one pass over the rows (``n d^2``, all-reduced
across ranks, after which the compressed problem is replicated and needs no communication).
``fit_path`` uses it for ``family="gaussian"`` when ``n > 2 (d + 1)`` and the Gram pass is
cheaper than the path's expected passes (:func:`worth_it`); each alpha is then finished and
certified on the real rows (:func:`~.workingset.solve_working_set` from the compressed solution,
usually with no iteration left), so the reported loss, objective and ``kkt`` are the real ones.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .design import Design
from .gramcd import gram_statistics

#: Expected full-gradient passes per alpha of the row-wise path (owlqn measured 25-35 at k=10).
PASSES_PER_ALPHA = 30


def worth_it(n: int, d: int, k: int, n_alphas: int) -> bool:
    """Whether compressing pays: ``n > 2 (d + 1)`` (below that the per-iteration overheads, not the
    products, dominate) and the Gram pass (``n d^2``) costs less
    than the path's expected row-wise work (``2 n d k`` per pass, :data:`PASSES_PER_ALPHA` per alpha)."""
    return n > 2 * (d + 1) and d < 2 * k * PASSES_PER_ALPHA * n_alphas


def compressed_problem(design: Design, Y: torch.Tensor) -> tuple[Design, torch.Tensor]:
    """``(X~, Y~)`` of the module docstring as a :class:`Design` (not standardized again: its columns
    are centred with the real design's scale folded in) and targets on ``design``'s device and dtype."""
    S, C, Ybar = gram_statistics(design, Y)
    lam, V = np.linalg.eigh(S)
    keep = lam > max(float(lam.max()), 0.0) * 1e-12
    lam, V = lam[keep], V[:, keep]
    m = len(lam) + 1
    # orthonormal basis of the complement of the ones vector: QR of [1 | e_1 .. e_{m-1}]
    Q = np.linalg.qr(np.column_stack([np.ones(m), np.eye(m)[:, :m - 1]]))[0][:, 1:]
    X = math.sqrt(m) * Q @ (np.sqrt(lam)[:, None] * V.T)
    Yc = math.sqrt(m) * Q @ ((V / np.sqrt(lam)).T @ C.T)
    Xt = torch.as_tensor(X, dtype=design.dtype, device=design.device)
    Yt = torch.as_tensor(Yc + Ybar, dtype=design.dtype, device=design.device)
    return Design.build(Xt, standardize=False, preload="always"), Yt
