"""Full-batch accelerated proximal gradient (FISTA) with working sets: ``method="fista"``.

For one ``alpha`` the solver

1. computes the full gradient at the warm start and the KKT violation of every coefficient;
2. solves the problem restricted to a *working set* of feature columns (the current support, the
   features that pass the sequential strong rule ``max_c |G_cj| >= 2 alpha - alpha_prev`` (times
   ``l1_ratio``), and every feature that violates the KKT conditions) with FISTA: a step ``1/L``
   from the restricted Lipschitz constant (power iteration, safeguarded by backtracking on the
   quadratic upper bound), elastic-net prox, momentum with gradient-based adaptive restart;
3. checks the KKT conditions of the *full* problem at the restricted solution (one pass over the
   data); features that violate them join the working set and step 2 repeats.

It stops when the largest KKT violation (coefficients and intercept), divided by the gradient
scale at the null model ``alpha_max * l1_ratio``, is at most ``tol``: a certificate of optimality
for the full problem, not a heuristic on the step length. Every product is a GEMM over the
working-set columns, so the cost per iteration is ``O(n_samples * |working set| * n_classes)``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch

from .design import Design
from .penalties import kkt_violation, penalty_value, prox_elastic_net

log = logging.getLogger(__name__)


@dataclass
class SolveInfo:
    """What one ``alpha`` cost and how well it converged."""

    epochs: int  # full passes over the training rows (FISTA: gradient evaluations)
    converged: bool
    kkt: float  # max KKT violation / gradient scale at the null model
    working_set: int  # feature columns in the last working set (all features for SAGA)


@dataclass
class Point:
    """An iterate with its predictions and the mean loss/gradient there (on the full design)."""

    W: torch.Tensor
    b: torch.Tensor
    Z: torch.Tensor


def full_gradient(design: Design, Y, datafit, Z):
    """Mean loss, ``dL/dW`` ``(k, d)`` and ``dL/db`` ``(k,)`` at predictions ``Z``."""
    n = design.n_samples
    U, loss = datafit.residual_and_loss(Z, Y)
    return float(loss) / n, design.backward(U) / n, U.sum(0) / n


def max_violation(W, G, gb, alpha, l1_ratio) -> tuple[float, torch.Tensor]:
    """Largest KKT violation overall and per feature column (max over classes)."""
    V = kkt_violation(W, G, alpha, l1_ratio)
    per_feature = V.amax(0) if V.numel() else V.new_zeros(W.shape[1])
    worst = max(float(per_feature.max()) if per_feature.numel() else 0.0, float(gb.abs().max()))
    return worst, per_feature


def solve_fista(design: Design, Y, datafit, W, b, alpha: float, l1_ratio: float, *,
                alpha_prev: float, grad_scale: float, tol: float, max_epochs: int,
                lipschitz_full: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, SolveInfo]:
    """Solve one ``alpha`` from the warm start ``(W, b)``; returns ``W, b, Z, info``."""
    target = tol * grad_scale
    Z = design.forward(W, b)
    _, G, gb = full_gradient(design, Y, datafit, Z)
    epochs = 1
    worst, per_feature = max_violation(W, G, gb, alpha, l1_ratio)
    strong = (G.abs().amax(0) >= l1_ratio * (2 * alpha - alpha_prev)) if alpha_prev > alpha else None
    ws = torch.zeros(design.n_features, dtype=torch.bool, device=W.device)
    n_ws = design.n_features
    inner_target = target
    while worst > target and epochs < max_epochs:
        ws |= (W != 0).any(0) | (per_feature > target)
        if strong is not None:
            ws |= strong
            strong = None
        cols = torch.nonzero(ws).flatten()
        n_ws = len(cols)
        sub = design if n_ws == design.n_features else design.restrict(cols)
        L = lipschitz_full if n_ws > design.n_features // 2 else min(
            lipschitz_full, sub.operator_norm_sq(n_iter=15))
        L *= datafit.curvature
        Wa, b, Z, used = _fista(sub, Y, datafit, W[:, cols], b, Z, alpha, l1_ratio, L=L,
                                target=inner_target, max_iter=max_epochs - epochs)
        W = torch.zeros_like(W)
        W[:, cols] = Wa
        epochs += used + 1
        _, G, gb = full_gradient(design, Y, datafit, Z)
        worst, per_feature = max_violation(W, G, gb, alpha, l1_ratio)
        inside = max(float(per_feature[ws].max()), float(gb.abs().max()))
        if inside <= target:
            continue  # only features outside the working set violate: grow it
        inner_target = inner_target / 4  # the step-size proxy was too loose for this problem
    return W, b, Z, SolveInfo(epochs, worst <= target, worst / grad_scale, n_ws)


def _fista(D: Design, Y, datafit, W, b, Z, alpha, l1_ratio, *, L, target, max_iter):
    """FISTA with backtracking and gradient restart on a (restricted) design. ``Z`` are the
    predictions at ``(W, b)``. Stops when ``2 L max|x+ - y|`` (a bound on the subgradient
    distance at ``x+``) is below ``target``."""
    n = D.n_samples
    x, xb, xZ = W, b, Z
    y, yb, yZ = W, b, Z
    t = 1.0
    slack = 10 * torch.finfo(W.dtype).eps
    it = 0
    for it in range(1, max_iter + 1):
        U, fy = datafit.residual_and_loss(yZ, Y)
        fy = float(fy) / n
        Gy = D.backward(U) / n
        gby = U.sum(0) / n
        while True:
            Wn = prox_elastic_net(y - Gy / L, 1.0 / L, alpha, l1_ratio)
            bn = yb - gby / L
            Zn = D.forward(Wn, bn)
            fn = float(datafit.loss_sum(Zn, Y)) / n
            dW, db = Wn - y, bn - yb
            quad = fy + float((Gy * dW).sum() + (gby * db).sum()) \
                + 0.5 * L * float(dW.pow(2).sum() + db.pow(2).sum())
            if fn <= quad + slack * max(1.0, abs(fy)):
                break
            L *= 2.0
        step = max(float(dW.abs().max()) if dW.numel() else 0.0, float(db.abs().max()))
        if 2.0 * L * step <= target:
            return Wn, bn, Zn, it
        # gradient-based adaptive restart (O'Donoghue & Candes): momentum only while it helps
        restart = float((dW * (Wn - x)).sum() + (db * (bn - xb)).sum()) < 0
        t_next = 1.0 if restart else (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        beta = 0.0 if restart else (t - 1.0) / t_next
        y, yb, yZ = Wn + beta * (Wn - x), bn + beta * (bn - xb), Zn + beta * (Zn - xZ)
        x, xb, xZ, t = Wn, bn, Zn, t_next
    return x, xb, xZ, it


def objective(design: Design, Y, datafit, W, b, alpha, l1_ratio) -> float:
    """Penalized training objective ``F(W, b)`` in float64 (for tests and benchmarks)."""
    Z = design.forward(W, b)
    return float(datafit.loss_sum(Z, Y)) / design.n_samples + penalty_value(W, alpha, l1_ratio)
