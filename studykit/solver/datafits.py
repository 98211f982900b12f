"""Datafits: the smooth, per-sample part of the objective.

Each datafit maps the linear predictions ``Z = X W^T + b`` (shape ``(n_samples, n_classes)``) and
the encoded targets to a loss and to the *residual* ``U = dloss/dZ`` (same shape as ``Z``). For
a linear model the gradient of the mean loss is then ``U^T X / n_samples`` with respect to ``W``
and ``U.sum(0) / n_samples`` with respect to ``b``; the SAGA table of Algorithm 1 stores exactly
one row of ``U`` per example (k scalars).

Families
--------
gaussian
    Multi-output least squares, ``loss_i = 1/2 ||z_i - y_i||^2`` (summed over outputs, as
    scikit-learn's ``ElasticNet`` does for a 2-D ``y``). Targets: float array ``(n_samples,)`` or
    ``(n_samples, n_outputs)``.
multinomial
    Softmax cross-entropy over all k classes (symmetric parametrization, no reference class),
    ``loss_i = logsumexp(z_i) - z_{i, y_i}``. Targets: integer labels in ``[0, n_classes)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Gaussian:
    """Multi-output least squares; see the module docstring."""

    name: str = "gaussian"
    #: Upper bound on the curvature of ``loss_i`` in ``z_i`` (Hessian = identity).
    curvature: float = 1.0

    def loss_sum(self, Z: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """Sum over samples of ``loss_i``, accumulated in float64."""
        return 0.5 * (Z - Y).pow(2).sum(dtype=torch.float64)

    def residual_and_loss(self, Z, Y):
        """Residual ``z_i - y_i`` and summed loss (the sum accumulated in float64)."""
        R = Z - Y
        return R, 0.5 * R.pow(2).sum(dtype=torch.float64)

    def correct(self, Z: torch.Tensor, Y: torch.Tensor) -> torch.Tensor | None:
        """No accuracy for regression."""
        return None


@dataclass(frozen=True)
class Multinomial:
    """Softmax cross-entropy; see the module docstring."""

    name: str = "multinomial"
    #: The Hessian of logsumexp, ``diag(p) - p p^T``, has spectral norm at most 1/2.
    curvature: float = 0.5

    def loss_sum(self, Z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (torch.logsumexp(Z, dim=1) - Z.gather(1, y[:, None])[:, 0]).sum(dtype=torch.float64)

    def residual_and_loss(self, Z, y):
        """Residual ``softmax(z_i) - onehot(y_i)`` and summed loss (the sum accumulated in float64)."""
        logp = torch.log_softmax(Z, dim=1)
        rows = torch.arange(len(y), device=Z.device)
        loss = -logp[rows, y].sum(dtype=torch.float64)
        P = logp.exp_()
        P[rows, y] -= 1.0
        return P, loss

    def correct(self, Z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Number of correctly classified rows (a 0-dim tensor)."""
        return (Z.argmax(1) == y).sum()


FAMILIES = {"gaussian": Gaussian(), "multinomial": Multinomial()}


def get_datafit(family: str) -> Gaussian | Multinomial:
    """The datafit named ``family``; raises ``ValueError`` naming the valid choices."""
    try:
        return FAMILIES[family]
    except KeyError:
        raise ValueError(f"family={family!r} is not one of {sorted(FAMILIES)}") from None
