"""Training the embedded default CNN, standard or L2-PGD adversarially trained, with a fixed seed.

Used by ``scripts/train_default_models.py``, which produced the weights shipped in
``studykit/data/models/``; nobody trains at demo time.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from studykit._progress import progress_bar

from .cnn import FashionCNN
from .robust import _as_float, pgd_l2

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """How to train the default CNN.

    ``eps == 0`` trains a standard model; ``eps > 0`` trains against L2 PGD of that radius with
    ``steps`` steps (each batch is replaced by its adversarial version, as in Madry et al.).
    SGD with Nesterov momentum and a one-cycle learning-rate schedule.
    """

    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    eps: float = 0.0
    steps: int = 7
    width: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "steps", "width"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "eps", "weight_decay"):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"TrainConfig.{name} must be finite and >= 0, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)


def train_cnn(images: torch.Tensor, labels: torch.Tensor, n_classes: int, config: TrainConfig,
              device: str | torch.device = "cpu", progress: bool = True) -> FashionCNN:
    """Train a :class:`FashionCNN` on ``images`` (uint8, shape (n, 1, 28, 28)) and ``labels`` (n,).

    Deterministic for a given seed and device (the shuffling generator is seeded; cuDNN autotuning
    is left off).
    """
    torch.manual_seed(config.seed)
    model = FashionCNN(n_classes, config.width).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay, nesterov=True)
    steps_per_epoch = math.ceil(len(images) / config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, epochs=config.epochs,
                                                   steps_per_epoch=steps_per_epoch)
    generator = torch.Generator().manual_seed(config.seed)
    for epoch in range(config.epochs):
        order = torch.randperm(len(images), generator=generator)
        batches = progress_bar(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{config.epochs}",
                              disable=not progress, leave=False)
        total = 0.0
        for b in batches:
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            x, y = _as_float(images[idx]).to(device), labels[idx].to(device)
            if config.eps > 0:
                model.eval()
                x = pgd_l2(model, x, y, config.eps, config.steps)
            model.train()
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
        logger.info("epoch %d: mean training loss %.4f", epoch + 1, total / steps_per_epoch)
    return model.eval()
