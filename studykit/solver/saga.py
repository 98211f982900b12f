"""Minibatch SAGA for the elastic net (Algorithm 1 of the appendix): ``method="saga"``.

The table stores, per example, the k scalars ``a_i = dloss_i/dz_i`` (residuals, not gradients),
so its memory is ``O(n_samples * n_classes)``; the stored gradient of example i is ``a_i x_i``.
One step on a minibatch ``B`` (lines 3-20 of Algorithm 1)::

    a_i  = residual(x_i^T W + b, y_i)                 for i in B       (new)
    a'_i = table[i]                                                   (stored)
    g - g'   = (a - a')^T X_B / |B|                   one GEMM, (k, d)
    W = prox_{gamma alpha l1_ratio, gamma alpha (1-l1_ratio)}(W - gamma (g - g' + g_avg))
    b = b - gamma (mean(a - a') + g0_avg)
    table[B] = a;  g_avg += |B|/n (g - g');  g0_avg += |B|/n (g0 - g0')

Lines 16-20 are read as one update of the averages per minibatch (adding ``|B|/n (g - g')``
once per example, as the loop's literal form would, counts the batch |B| times). The table and
its averages carry over from one ``alpha`` to the next (warm start): they hold loss gradients,
which do not depend on ``alpha``.

Stopping rules (``stopping=``):

``"gradient"``   the appendix's first rule, ``sqrt(|W - W_prev|^2 + |b - b_prev|^2) <= tol``, with
                 ``W_prev`` the iterate one *epoch* earlier (one minibatch step's length is mostly
                 minibatch noise, and checking it costs a device sync per step);
``"lookbehind"`` the second rule: the training objective (mean of the minibatch losses over the
                 epoch, at the pre-update iterates, plus the penalty) has not improved on its
                 best value by more than ``tol`` for ``lookbehind`` consecutive epochs;
``"kkt"``        the relative KKT violation on the full data (one extra pass per epoch) ``<= tol``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .design import Design
from .workingset import SolveInfo, full_gradient, max_violation
from .penalties import penalty_functions

STOPPING_RULES = ("gradient", "lookbehind", "kkt")


@dataclass
class SagaState:
    """The SAGA memory: ``table`` ``(n_samples, k)`` on the table device, and its averages."""

    table: torch.Tensor
    grad_avg: torch.Tensor  # (k, d), mean over examples of a'_i x_i
    grad0_avg: torch.Tensor  # (k,), mean over examples of a'_i

    @classmethod
    def zeros(cls, n_samples, n_outputs, n_features, *, device, table_device, dtype) -> "SagaState":
        return cls(torch.zeros(n_samples, n_outputs, dtype=dtype, device=table_device),
                   torch.zeros(n_outputs, n_features, dtype=dtype, device=device),
                   torch.zeros(n_outputs, dtype=dtype, device=device))


def default_step(design: Design, datafit, batch_size: int) -> float:
    """``1 / L(b)`` with the expected smoothness of minibatch SAGA (Gazagnadou et al., 2019),
    ``L(b) = n(b-1)/(b(n-1)) L + (n-b)/(b(n-1)) L_max``. Their guarantee holds for ``1/(4 L(b))``;
    ``1/L(b)`` converged on every problem of the test suite and the benchmark in a quarter of the
    epochs, and a run that diverges anyway is restarted with half the step (see ``path``)."""
    n = design.n_samples
    b = min(batch_size, n)
    L = datafit.curvature * design.operator_norm_sq(n_iter=20)
    L_max = 0.0
    for _, _, Xc in design.chunks():
        rows = ((Xc - design.mean) * design.inv_scale).pow(2).sum(1) + 1.0
        L_max = max(L_max, float(rows.max()))
    L_max *= datafit.curvature
    Lb = (n * (b - 1)) / (b * max(n - 1, 1)) * L + (n - b) / (b * max(n - 1, 1)) * L_max
    return 1.0 / Lb


def solve_saga(design: Design, Y, datafit, W, b, alpha: float, l1_ratio: float, state: SagaState, *,
               lr: float, batch_size: int, max_epochs: int, stopping: str, tol: float,
               lookbehind: int, grad_scale: float, generator: torch.Generator,
               diverge_above: float = float("inf"), grouped: bool = False):
    """Run SAGA epochs for one ``alpha`` from ``(W, b)`` and ``state`` (updated in place).

    Stops early with ``info.diverged`` when an epoch leaves non-finite iterates or an objective
    estimate above ``diverge_above``. ``grouped``: the group penalty and prox (issue 19)."""
    penalty_value, prox_elastic_net = penalty_functions(grouped)
    n = design.n_samples
    table = state.table
    device = W.device
    W, b = W.clone(), b.clone()
    best, since_best = float("inf"), 0
    converged = False
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        W_start, b_start = W.clone(), b.clone()
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        order = torch.randperm(n, generator=generator).to(device)
        for idx in order.split(batch_size):
            Xb = design.take(idx)
            a, loss = datafit.residual_and_loss(torch.addmm(b, Xb, W.T), Y[idx])
            loss_sum += loss
            tidx = idx.to(table.device)
            diff = a - table[tidx].to(device, non_blocking=True)
            scale_b = len(idx) / n
            g_diff = diff.T @ Xb / len(idx)
            g0_diff = diff.mean(0)
            W = prox_elastic_net(W - lr * (g_diff + state.grad_avg), lr, alpha, l1_ratio)
            b = b - lr * (g0_diff + state.grad0_avg)
            table[tidx] = a.to(table.device, non_blocking=True)
            state.grad_avg.add_(g_diff, alpha=scale_b)
            state.grad0_avg.add_(g0_diff, alpha=scale_b)
        estimate = float(loss_sum) / n + penalty_value(W, alpha, l1_ratio)
        if not (estimate <= diverge_above and bool(torch.isfinite(W).all() and torch.isfinite(b).all())):
            return W, b, SolveInfo(epoch, False, design.n_features, diverged=True)
        if stopping == "gradient":
            change = float(torch.sqrt((W - W_start).pow(2).sum() + (b - b_start).pow(2).sum()))
            converged = change <= tol
        elif stopping == "lookbehind":
            if estimate < best - tol:
                best, since_best = estimate, 0
            else:
                since_best += 1
            converged = since_best >= lookbehind
        else:
            g = full_gradient(design, Y, datafit, W, b)
            converged = max_violation(W, g.G, g.gb, alpha, l1_ratio, grouped)[0] <= tol * grad_scale
        if converged:
            break
    return W, b, SolveInfo(epoch, converged, design.n_features)
