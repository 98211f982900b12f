"""Tiny models shared by the interpretation tests."""

import pytest
import torch
from torch import nn

from studykit.interpret.activations import FeatureModel
from studykit.models import load_default_model


class TinyNet(nn.Module):
    """conv -> relu -> conv -> relu -> global average pool -> fc; the features are fc's input (8-d)."""

    def __init__(self, channels: int = 1):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, 6, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(self.body(x))


@pytest.fixture(scope="module")
def tiny_model():
    """A seeded TinyNet seen through FeatureModel: (n, 1, 16, 16) images -> 8 features."""
    torch.manual_seed(0)
    return FeatureModel(TinyNet(), "input of fc", input_shape=(1, 16, 16)).eval()


@pytest.fixture(scope="module")
def tiny_rgb_model():
    """A 3-channel TinyNet with a per-channel input normalization."""
    torch.manual_seed(1)
    return FeatureModel(TinyNet(3), None, normalize={"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.2, 0.2]},
                        input_shape=(3, 16, 16)).eval()


@pytest.fixture(scope="session")
def robust_model():
    """The shipped L2-robust Fashion-MNIST CNN, seen through FeatureModel: 128 features of (1, 28, 28) images."""
    model, _ = load_default_model("robust")
    return FeatureModel(model, "input of fc", input_shape=(1, 28, 28)).eval()


@pytest.fixture(scope="session")
def default_stores(tmp_path_factory):
    """Feature stores of the embedded default data through both shipped CNNs, 24 rows per split."""
    from studykit.features.default import extract_default

    stores, _ = extract_default(tmp_path_factory.mktemp("stores"), limit=24, device="cpu", progress=False)
    return stores
