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


# ---------------------------------------------------------------------------------------------
# Independent sigmoids: ``multilabel`` (an n x k 0/1 target matrix, k labels that may each be on or
# off) and ``binomial`` (0/1 labels, its k = 1 case: two classes, one output, as scikit-learn's
# binary LogisticRegression). ``loss_i = sum_c softplus(z_ic) - y_ic z_ic``, the binary
# cross-entropy of every output.

@dataclass(frozen=True)
class Multilabel:
    """Binary cross-entropy per output; targets ``(n_samples, n_labels)`` of 0/1 (floats)."""

    name: str = "multilabel"
    #: The Hessian of the binary cross-entropy in ``z_ic`` is ``p (1 - p) <= 1/4``, diagonal.
    curvature: float = 0.25

    def loss_sum(self, Z: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        return (torch.nn.functional.softplus(Z) - Y * Z).sum(dtype=torch.float64)

    def residual_and_loss(self, Z, Y):
        """Residual ``sigmoid(z_i) - y_i`` and summed loss (the sum accumulated in float64)."""
        return torch.sigmoid(Z) - Y, self.loss_sum(Z, Y)

    def correct(self, Z: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """Correct outputs (``z > 0`` iff ``y = 1``) divided by the number of outputs: over rows, the
        mean per-label accuracy."""
        return ((Z > 0) == (Y > 0.5)).sum() / Z.shape[1]


@dataclass(frozen=True)
class Binomial(Multilabel):
    """Two classes, one output (logit of class 1); targets: labels 0/1 of shape ``(n_samples,)``."""

    name: str = "binomial"


#: Families whose targets are 0/1 outputs of independent sigmoids.
SIGMOID_FAMILIES = ("multilabel", "binomial")
FAMILIES.update(multilabel=Multilabel(), binomial=Binomial())
