"""The elastic-net penalty: value, proximal operator (eq. 4) and optimality (KKT) violation.

``penalty(W) = alpha * (l1_ratio * |W|_1 + (1 - l1_ratio) / 2 * |W|_F^2)``

with glm-saga's names: its ``lam`` is our ``alpha`` and its ``alpha`` is our ``l1_ratio``.
The intercept is never penalized.
"""

from __future__ import annotations

import torch


def penalty_value(W: torch.Tensor, alpha: float, l1_ratio: float) -> float:
    """``alpha * (l1_ratio |W|_1 + (1 - l1_ratio)/2 |W|_F^2)`` in float64."""
    W64 = W.double()
    return float(alpha * (l1_ratio * W64.abs().sum() + 0.5 * (1.0 - l1_ratio) * W64.pow(2).sum()))


def prox_elastic_net(W: torch.Tensor, step: float, alpha: float, l1_ratio: float) -> torch.Tensor:
    """Proximal operator of ``step * penalty`` (eq. 4 with lambda_1 = step*alpha*l1_ratio,
    lambda_2 = step*alpha*(1-l1_ratio)): soft-threshold, then shrink. Returns a new tensor."""
    l1 = step * alpha * l1_ratio
    l2 = step * alpha * (1.0 - l1_ratio)
    out = torch.sign(W) * torch.clamp(W.abs() - l1, min=0.0)
    if l2:
        out.div_(1.0 + l2)
    return out


def kkt_violation(W: torch.Tensor, G: torch.Tensor, alpha: float, l1_ratio: float) -> torch.Tensor:
    """Per-entry distance of ``-G`` to the penalty's subdifferential at ``W``.

    ``G`` is the gradient of the mean loss in ``W``. For ``W_cj != 0`` the violation is
    ``|G_cj + alpha (1 - l1_ratio) W_cj + alpha l1_ratio sign(W_cj)|``; for ``W_cj == 0`` it is
    ``max(|G_cj| - alpha l1_ratio, 0)``. Zero everywhere exactly at the optimum.
    """
    l1 = alpha * l1_ratio
    smooth = G + alpha * (1.0 - l1_ratio) * W
    nonzero = W != 0
    at_zero = torch.clamp(G.abs() - l1, min=0.0)
    off_zero = (smooth + l1 * torch.sign(W)).abs()
    return torch.where(nonzero, off_zero, at_zero)


# ---------------------------------------------------------------------------------------------
# Grouped elastic net (``grouped=True``): one group per feature column, across all outputs,
#
#     penalty(W) = alpha * (l1_ratio * sum_j ||W[:, j]||_2 + (1 - l1_ratio) / 2 * ||W||_F^2)
#
# scikit-learn's MultiTaskElasticNet (its L2,1 norm), glm-saga's ``group=True``. A column is zero
# for every class or for none.

def group_penalty_value(W: torch.Tensor, alpha: float, l1_ratio: float) -> float:
    """``alpha * (l1_ratio sum_j |W[:, j]|_2 + (1 - l1_ratio)/2 |W|_F^2)`` in float64."""
    W64 = W.double()
    return float(alpha * (l1_ratio * W64.norm(dim=0).sum() + 0.5 * (1.0 - l1_ratio) * W64.pow(2).sum()))


def prox_group_elastic_net(W: torch.Tensor, step: float, alpha: float, l1_ratio: float) -> torch.Tensor:
    """Proximal operator of ``step * group penalty``: each column is shrunk towards zero by
    ``step * alpha * l1_ratio`` in Euclidean norm (zero when its norm is below that), then divided by
    ``1 + step * alpha * (1 - l1_ratio)``. Returns a new tensor."""
    l1 = step * alpha * l1_ratio
    l2 = step * alpha * (1.0 - l1_ratio)
    norms = W.norm(dim=0, keepdim=True)
    factor = torch.clamp(1.0 - l1 / torch.clamp(norms, min=torch.finfo(W.dtype).tiny), min=0.0)
    if l2:
        factor = factor / (1.0 + l2)
    return W * factor


def group_kkt_violation(W: torch.Tensor, G: torch.Tensor, alpha: float, l1_ratio: float) -> torch.Tensor:
    """Per-column distance of ``-G[:, j]`` to the group penalty's subdifferential at ``W[:, j]``,
    shape ``(n_features,)``.

    For a non-zero column it is ``|G_j + alpha (1 - l1_ratio) W_j + alpha l1_ratio W_j / |W_j|_2|_2``;
    for a zero column ``max(|G_j|_2 - alpha l1_ratio, 0)``. Zero everywhere exactly at the optimum.
    """
    l1 = alpha * l1_ratio
    norms = W.norm(dim=0)
    at_zero = torch.clamp(G.norm(dim=0) - l1, min=0.0)
    direction = W / torch.clamp(norms, min=torch.finfo(W.dtype).tiny)
    off_zero = (G + alpha * (1.0 - l1_ratio) * W + l1 * direction).norm(dim=0)
    return torch.where(norms > 0, off_zero, at_zero)


def penalty_functions(grouped: bool):
    """``(value, prox)`` of the plain (entry-wise) or the grouped elastic net."""
    return (group_penalty_value, prox_group_elastic_net) if grouped else (penalty_value, prox_elastic_net)
