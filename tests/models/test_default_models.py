"""The shipped default CNNs load and reach their documented accuracy; user models load by spec."""

import json
from importlib import resources

import numpy as np
import pytest
import torch
from torch import nn

from studykit.datasets import load_fashion_mnist
from studykit.models import load_default_model, load_model
from studykit.models.robust import evaluate, pgd_l2

DOCUMENTED = json.loads((resources.files("studykit") / "data" / "models" / "fashion_cnn_metrics.json").read_text())


@pytest.fixture(scope="module")
def test_subset():
    test = load_fashion_mnist("test", download=False)
    return torch.from_numpy(test.images[:, None].copy()), torch.from_numpy(test.labels)


@pytest.mark.parametrize("name", ["standard", "robust"])
def test_shipped_models_reach_their_documented_clean_accuracy(name, test_subset):
    model, spec = load_default_model(name)
    x, y = test_subset
    accuracy = evaluate(model, x[:2000], y[:2000])
    documented = DOCUMENTED[name]["metrics"]["clean_accuracy"]
    assert documented > (0.9 if name == "standard" else 0.8)
    assert accuracy == pytest.approx(documented, abs=0.025)       # 2,000 of the 10,000 test images
    assert spec.to_dict()["info"]["metrics"]["clean_accuracy"] == documented


def test_the_robust_model_resists_the_attack_that_breaks_the_standard_one(test_subset):
    x, y = test_subset[0][:200], test_subset[1][:200]
    eps = DOCUMENTED["robust"]["metrics"]["pgd_eps"]
    robust = evaluate(load_default_model("robust")[0], x, y, eps=eps, steps=10)
    standard = evaluate(load_default_model("standard")[0], x, y, eps=eps, steps=10)
    assert robust == pytest.approx(DOCUMENTED["robust"]["metrics"]["pgd_accuracy"], abs=0.1)
    assert standard < 0.1 < 0.6 < robust


def test_pgd_stays_in_the_l2_ball_and_the_pixel_range(test_subset):
    model, _ = load_default_model("standard")
    x = test_subset[0][:16].float() / 255
    adv = pgd_l2(model, x, test_subset[1][:16], eps=0.5, steps=5)
    assert float((adv - x).flatten(1).norm(dim=1).max()) <= 0.5 + 1e-5
    assert 0 <= float(adv.min()) and float(adv.max()) <= 1


def test_torchvision_architecture_with_a_user_checkpoint(tmp_path):
    import torchvision

    reference = torchvision.models.get_model("resnet18", weights=None, num_classes=1000)
    torch.save({"state_dict": {f"module.{k}": v for k, v in reference.state_dict().items()}}, tmp_path / "w.pt")
    model, spec = load_model("resnet18", tmp_path / "w.pt")
    assert torch.equal(model.fc.weight, reference.fc.weight) and spec.normalize["mean"][0] == 0.485
    with pytest.raises(ValueError, match=r"weights do not fit resnet34 \(file looks like a dataparallel checkpoint"):
        load_model("resnet34", tmp_path / "w.pt")
    tuned = torchvision.models.get_model("resnet18", weights=None, num_classes=7)   # fine-tuned on 7 classes
    torch.save(tuned.state_dict(), tmp_path / "tuned.pt")
    model, _ = load_model("resnet18", tmp_path / "tuned.pt")
    assert model.fc.out_features == 7 and torch.equal(model.fc.bias, tuned.fc.bias)
    with pytest.raises(ValueError, match="not a torchvision architecture"):
        load_model("resnet51")


def test_factory_spec(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(
        "import torch.nn as nn\n"
        "def small():\n    return nn.Sequential(nn.Flatten(), nn.Linear(4, 2))\n"
        "def not_a_model():\n    return 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    model, spec = load_model("my_models:small")
    assert isinstance(model, nn.Module) and spec.spec == "my_models:small" and not model.training
    with pytest.raises(ValueError, match="returned int, not a torch nn.Module"):
        load_model("my_models:not_a_model")
    with pytest.raises(ValueError, match="cannot import model factory"):
        load_model("my_models:missing")
