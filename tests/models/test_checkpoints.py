"""Checkpoint layouts of torchvision networks: every layout loads the same network, with its own normalizer."""

import numpy as np
import pytest
import torch
import torchvision

from studykit.features.extract import ExtractConfig, extract_features
from studykit.features.sources import SplitSource
from studykit.models import load_model
from studykit.models.zoo import IMAGENET_NORMALIZE

CIFAR = {"mean": [0.4914, 0.4822, 0.4465], "std": [0.2023, 0.1994, 0.2010]}


def _random_resnet18(n_classes=1000, seed=0):
    torch.manual_seed(seed)
    net = torchvision.models.resnet18(num_classes=n_classes)
    for m in net.modules():                     # non-trivial batch-norm statistics, so a wrong load shows
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return net.eval()


@pytest.fixture(scope="module")
def nets():
    return {"net": _random_resnet18(), "other": _random_resnet18(seed=1), "ten": _random_resnet18(10, seed=2)}


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return torch.from_numpy(rng.integers(0, 256, size=(6, 3, 32, 32), dtype=np.uint8))


def _penultimate(net, images, normalize):
    x = images.float() / 255
    mean = torch.tensor(normalize["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(normalize["std"]).view(1, 3, 1, 1)
    body = torch.nn.Sequential(*list(net.children())[:-1])
    with torch.no_grad():
        return body((x - mean) / std).flatten(1).numpy()


def _close(a, b):
    return a.keys() == b.keys() and all(np.allclose(a[k], b[k], atol=1e-7) for k in a)


def _prefixed(state, prefix):
    return {prefix + k: v for k, v in state.items()}


def _robustness(net, other, normalize):
    """The robustness library's AttackerModel: normalizer, model, attacker.{normalize, model}, under DataParallel."""
    mean, std = torch.tensor(normalize["mean"]).view(3, 1, 1), torch.tensor(normalize["std"]).view(3, 1, 1)
    state = {"module.normalizer.new_mean": mean, "module.normalizer.new_std": std,
             "module.attacker.normalize.new_mean": mean, "module.attacker.normalize.new_std": std}
    state.update(_prefixed(net.state_dict(), "module.model."))
    # the attacker's copy is the same network in the library; a different one here proves which is read
    state.update(_prefixed(other.state_dict(), "module.attacker.model."))
    return state


LAYOUTS = {
    "robustness": lambda n, o: {"model": _robustness(n, o, CIFAR), "optimizer": {}, "epoch": 90},
    "robustness-state_dict": lambda n, o: {"state_dict": _robustness(n, o, CIFAR), "epoch": 90},
    "dataparallel": lambda n, o: _prefixed(n.state_dict(), "module."),
    "lightning": lambda n, o: {"state_dict": _prefixed(n.state_dict(), "model."), "epoch": 3, "global_step": 90,
                               "pytorch-lightning_version": "2.4.0", "hyper_parameters": {"lr": 0.1}},
    "plain": lambda n, o: n.state_dict(),
    "plain-under-model": lambda n, o: {"model": n.state_dict(), "epoch": 1},
}
EXPECTED = {"robustness": ("robustness", CIFAR), "robustness-state_dict": ("robustness", CIFAR),
            "dataparallel": ("dataparallel", IMAGENET_NORMALIZE), "lightning": ("lightning", IMAGENET_NORMALIZE),
            "plain": ("plain", IMAGENET_NORMALIZE), "plain-under-model": ("plain (under 'model')", IMAGENET_NORMALIZE)}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_extracts_the_networks_penultimate_activations(layout, nets, images, tmp_path):
    path = tmp_path / f"{layout}.pt"
    torch.save(LAYOUTS[layout](nets["net"], nets["other"]), path)
    model, spec = load_model("resnet18", path)
    name, normalize = EXPECTED[layout]
    assert spec.checkpoint["layout"] == name and _close(spec.normalize, normalize)
    assert spec.checkpoint["normalize_from"] == ("checkpoint" if name == "robustness" else "imagenet default")
    labels = torch.arange(len(images)) % 3
    source = SplitSource(list(zip(images, labels.tolist())), "toy:all")
    store = extract_features(model, {"test": source}, tmp_path / "fs", classes=[str(i) for i in range(1000)],
                             model_info=spec.to_dict(), dataset_info={"name": "toy"}, normalize=spec.normalize,
                             config=ExtractConfig(batch_size=4), progress=False)
    X, _ = store.split("test")
    np.testing.assert_allclose(X, _penultimate(nets["net"], images, normalize), rtol=1e-5, atol=1e-5)
    assert _close(store.meta["model"]["normalize"], normalize)
    assert store.meta["model"]["checkpoint"]["layout"] == name


def test_a_head_with_another_class_count_resizes_the_final_linear(nets, images, tmp_path):
    path = tmp_path / "ten.pt"
    torch.save({"model": _robustness(nets["ten"], nets["ten"], CIFAR)}, path)
    model, spec = load_model("resnet18", path)
    assert model.fc.out_features == 10
    with torch.no_grad():
        x = ((images.float() / 255) - torch.tensor(CIFAR["mean"]).view(1, 3, 1, 1)) / \
            torch.tensor(CIFAR["std"]).view(1, 3, 1, 1)
        np.testing.assert_allclose(model(x).numpy(), nets["ten"](x).numpy(), rtol=1e-5, atol=1e-5)


def test_a_checkpoint_that_does_not_fit_is_one_short_line(nets, tmp_path):
    path = tmp_path / "vgg.pt"
    state = _prefixed(torchvision.models.squeezenet1_1(num_classes=10).state_dict(), "module.")
    torch.save({"state_dict": state}, path)
    with pytest.raises(ValueError) as info:
        load_model("resnet18", path)
    message = str(info.value)
    assert "\n" not in message and len(message) <= 400, message
    assert "weights do not fit resnet18" in message and "dataparallel" in message
    n_model = len(torchvision.models.resnet18().state_dict())
    assert f"{n_model} missing (conv1.weight, bn1.weight, bn1.bias, ...)" in message
    assert f"{len(state)} unexpected (features.0.weight, features.0.bias, features.3.squeeze.weight, ...)" in message


def test_a_robustness_checkpoint_of_another_architecture_names_the_layout(nets, tmp_path):
    path = tmp_path / "r50.pt"
    torch.save({"model": _robustness(nets["net"], nets["net"], CIFAR)}, path)
    with pytest.raises(ValueError, match=r"fit resnet34 \(file looks like a robustness checkpoint, prefix "
                                         r"'module\.model\.' stripped\): \d+ missing \(layer1\.2\."):
        load_model("resnet34", path)


def test_files_that_are_not_checkpoints(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt: not a readable torch checkpoint"):
        load_model("resnet18", tmp_path / "junk.pt")
    torch.save({"epoch": 3, "optimizer": {}}, tmp_path / "empty.pt")
    with pytest.raises(ValueError, match=r"empty.pt: no state dict found \(top-level keys: epoch, optimizer\)"):
        load_model("resnet18", tmp_path / "empty.pt")
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        load_model("resnet18", tmp_path / "none.pt")


def test_numpy_scalars_load_and_other_python_objects_are_refused(tmp_path):
    import argparse

    from studykit.models.checkpoints import read_checkpoint

    state = torch.nn.Linear(2, 3).state_dict()
    torch.save({"model": state, "best_prec1": np.float64(61.2), "epoch": np.int64(90)}, tmp_path / "np.pt")
    assert read_checkpoint(tmp_path / "np.pt").state.keys() == state.keys()
    torch.save({"model": state, "args": argparse.Namespace(arch="resnet50")}, tmp_path / "args.pt")
    with pytest.raises(ValueError, match=r"args.pt: holds Python objects beyond tensors.*Namespace.*re-save"):
        read_checkpoint(tmp_path / "args.pt")
