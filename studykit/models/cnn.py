"""The embedded default model: a small CNN for 28x28 grayscale images (Fashion-MNIST).

Three 3x3 convolution blocks (32, 64, 128 channels) with batch norm, ReLU and max pooling, global
average pooling, then one Linear layer ``fc``: the 128 pooled channels are the deep features (the
input of ``fc``), as ResNet's 2048 pooled channels are in the paper. The input is a tensor of pixel
values in [0, 1], shape (n, 1, 28, 28); the model normalizes it itself, so attacks, feature
visualizations and LIME all work in plain pixel space.
"""

from __future__ import annotations

import torch
from torch import nn

#: Fashion-MNIST training-set pixel mean and standard deviation (on [0, 1]).
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530


class FashionCNN(nn.Module):
    """Small CNN for (n, 1, 28, 28) inputs in [0, 1]; ``fc`` maps the 4*width pooled features to classes."""

    def __init__(self, n_classes: int = 10, width: int = 32):
        super().__init__()
        self.register_buffer("mean", torch.tensor(FASHION_MEAN))
        self.register_buffer("std", torch.tensor(FASHION_STD))
        self.features = nn.Sequential(
            _block(1, width), nn.MaxPool2d(2),               # 28 -> 14
            _block(width, 2 * width), nn.MaxPool2d(2),       # 14 -> 7
            _block(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.fc = nn.Linear(4 * width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features((x - self.mean) / self.std))


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())
