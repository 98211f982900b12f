"""L2 projected gradient descent (PGD) attacks and adversarial training (Madry et al. 2018).

The paper's robust ImageNet models are trained against L2 PGD; the default CNN's robust version is
trained the same way, in pixel space [0, 1]. Step size follows the robustness library's convention,
``2.5 * eps / steps``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pgd_l2(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int,
           step_size: float | None = None) -> torch.Tensor:
    """Adversarial examples within an L2 ball of radius ``eps`` around ``x`` (pixels kept in [0, 1]).

    Parameters
    ----------
    model : classifier returning logits; its train/eval mode is left as it is.
    x : tensor, shape (n, ...), values in [0, 1]
    y : tensor of int64, shape (n,)
    eps : float, L2 radius per example
    steps : int, gradient ascent steps on the cross-entropy loss (normalized gradient steps)
    step_size : float, default ``2.5 * eps / steps``

    Returns
    -------
    tensor like ``x``, detached.
    """
    if eps <= 0 or steps <= 0:
        return x.detach()
    step_size = 2.5 * eps / steps if step_size is None else step_size
    delta = torch.zeros_like(x)
    for _ in range(steps):
        delta.requires_grad_(True)
        loss = F.cross_entropy(model(x + delta), y)
        (grad,) = torch.autograd.grad(loss, delta)
        delta = delta.detach() + step_size * grad / _norms(grad).clamp_min(1e-12)
        delta = delta * (eps / _norms(delta).clamp_min(1e-12)).clamp(max=1.0)
        delta = (x + delta).clamp(0.0, 1.0) - x
    return (x + delta).detach()


def _norms(t: torch.Tensor) -> torch.Tensor:
    """Per-example L2 norms, shaped to broadcast against ``t``."""
    return t.flatten(1).norm(dim=1).view(-1, *([1] * (t.dim() - 1)))


@torch.no_grad()
def _accuracy_batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    return int((model(x).argmax(1) == y).sum())


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, eps: float = 0.0,
             steps: int = 20, batch_size: int = 500) -> float:
    """Accuracy on ``images`` (uint8 or float in [0, 1], shape (n, C, H, W)), clean or under L2 PGD."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for start in range(0, len(images), batch_size):
        x = _as_float(images[start:start + batch_size]).to(device)
        y = labels[start:start + batch_size].to(device)
        if eps > 0:
            x = pgd_l2(model, x, y, eps, steps)
        correct += _accuracy_batch(model, x, y)
    return correct / len(images)


def _as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
