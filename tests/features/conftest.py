import numpy as np
import pytest
import torch
from torch import nn

from studykit.datasets import ImageArrays
from studykit.features.sources import ArrayDataset, SplitSource


class TinyNet(nn.Module):
    """conv -> relu -> global average pool -> fc: features are the fc input (8-d)."""

    def __init__(self, channels: int = 1, n_classes: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(channels, 8, 3, padding=1)
        self.pool = nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(8, n_classes)

    def forward(self, x):
        return self.fc(self.pool(self.conv(x)))


@pytest.fixture
def tiny_net():
    torch.manual_seed(0)
    return TinyNet().eval()


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(37, 12, 12), dtype=np.uint8)
    return ImageArrays(images, rng.integers(0, 3, size=37), ("a", "b", "c"), "toy:all")


@pytest.fixture
def splits(arrays):
    train = np.arange(0, 25)
    test = np.arange(25, 37)
    return {"train": SplitSource(ArrayDataset(arrays.subset(train)), "toy:all", positions=train),
            "test": SplitSource(ArrayDataset(arrays.subset(test)), "toy:all", positions=test)}
