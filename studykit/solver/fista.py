"""FISTA inner solver (accelerated proximal gradient) for a working set: ``method="fista"``.

Step ``1/L`` from the restricted Lipschitz constant (power iteration), safeguarded by
backtracking on the quadratic upper bound; elastic-net prox (eq. 4); momentum with the
gradient-based adaptive restart of O'Donoghue & Candes (2015). Predictions are tracked for both
sequences, so one iteration costs one forward and one backward GEMM.
"""

from __future__ import annotations

import math

import torch

from .design import Design
from .penalties import penalty_functions


def fista(D: Design, Y, datafit, W, b, Z, alpha, l1_ratio, *, L, target, max_iter, grouped=False):
    """FISTA with backtracking and gradient restart on a (restricted) design. ``Z`` are the
    predictions at ``(W, b)``. Stops when ``2 L max|x+ - y|`` (a bound on the subgradient
    distance at ``x+``) is below ``target``. ``grouped``: the group prox (columns), and the step
    measured per column in Euclidean norm."""
    prox_elastic_net = penalty_functions(grouped)[1]  # issue 19
    n = D.n_total
    x, xb, xZ = W, b, Z
    y, yb, yZ = W, b, Z
    t = 1.0
    slack = 10 * torch.finfo(W.dtype).eps
    it = 0
    for it in range(1, max_iter + 1):
        U, fy = datafit.residual_and_loss(yZ, Y)
        fy = D.total(fy) / n
        Gy, gby = D.gradient(U)
        while True:
            Wn = prox_elastic_net(y - Gy / L, 1.0 / L, alpha, l1_ratio)
            bn = yb - gby / L
            Zn = D.forward(Wn, bn)
            fn = D.total(datafit.loss_sum(Zn, Y)) / n
            dW, db = Wn - y, bn - yb
            quad = fy + float((Gy * dW).sum() + (gby * db).sum()) \
                + 0.5 * L * float(dW.pow(2).sum() + db.pow(2).sum())
            if fn <= quad + slack * max(1.0, abs(fy)):
                break
            L *= 2.0
        step = max(float((dW.norm(dim=0) if grouped else dW.abs()).max()) if dW.numel() else 0.0,
                   float(db.abs().max()))
        if 2.0 * L * step <= target:
            return Wn, bn, Zn, it, False
        # gradient-based adaptive restart (O'Donoghue & Candes): momentum only while it helps
        restart = float((dW * (Wn - x)).sum() + (db * (bn - xb)).sum()) < 0
        t_next = 1.0 if restart else (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        beta = 0.0 if restart else (t - 1.0) / t_next
        y, yb, yZ = Wn + beta * (Wn - x), bn + beta * (bn - xb), Zn + beta * (Zn - xZ)
        x, xb, xZ, t = Wn, bn, Zn, t_next
    return x, xb, xZ, it, False
