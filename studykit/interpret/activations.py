"""Deep features as a differentiable function of pixels, exactly as a feature store extracted them.

A feature store records the model (spec, weights and their SHA-256), the input normalization, the
layer (``"input of fc"`` or a module name) and the pooling. :class:`FeatureModel` rebuilds that
mapping as an ``nn.Module`` from images in [0, 1] to deep features, keeping the autograd graph, so
feature visualization can ascend its gradient and LIME can query it. :func:`load_feature_model`
builds it from a store; :func:`feature_statistics` gives the per-feature mean and standard deviation
that "normalized activation" (B.2) refers to.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from studykit.features import FeatureStore
from studykit.features.extract import find_layer

_INPUT_OF = "input of "


class FeatureModel(nn.Module):
    """Images in [0, 1], shape ``(n, C, H, W)`` -> deep features, shape ``(n, n_features)``.

    Parameters
    ----------
    model : nn.Module
        The backbone, in eval mode.
    layer : str or None
        Where the features are, in the feature store's notation: ``"input of NAME"`` (the input of
        module ``NAME``), ``"NAME"`` (its output), or None (the input of the last ``nn.Linear``).
    normalize : dict or None
        Per-channel ``{"mean": [...], "std": [...]}`` applied to the [0, 1] images before the model.
    pool : ``"avg"`` or ``"flatten"``
        How a ``(n, C, H, W)`` activation map becomes a vector (spatial mean, or flattening).
    input_shape : tuple (C, H, W)
        The image shape the model was run on; used by callers that synthesize images.

    Notes
    -----
    The feature layer gets a forward hook that stays registered as long as ``model`` lives: wrap a
    model in one FeatureModel, not several.
    """

    def __init__(self, model: nn.Module, layer: str | None = None, *, normalize: dict | None = None,
                 pool: str = "avg", input_shape: Sequence[int] = (3, 224, 224)):
        super().__init__()
        if pool not in ("avg", "flatten"):
            raise ValueError(f"pool={pool!r} is invalid: expected 'avg' or 'flatten'")
        if len(input_shape) != 3 or min(input_shape) < 1:
            raise ValueError(f"input_shape={tuple(input_shape)!r} is invalid: expected (channels, height, width)")
        use_input = layer is None or layer.startswith(_INPUT_OF)
        name = layer.removeprefix(_INPUT_OF) if layer is not None else None
        self.layer, module, _ = find_layer(model, name)
        self.model, self.use_input, self.pool = model, use_input, pool
        self.input_shape = tuple(int(s) for s in input_shape)
        self.normalize = normalize
        if normalize is not None:
            self.register_buffer("mean", torch.tensor(normalize["mean"], dtype=torch.float32).view(1, -1, 1, 1))
            self.register_buffer("std", torch.tensor(normalize["std"], dtype=torch.float32).view(1, -1, 1, 1))
        self._value: torch.Tensor | None = None
        self._hook = module.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output) -> None:
        self._value = inputs[0] if self.use_input else output

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images
        if self.normalize is not None:
            x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        self._value = None
        self.model(x)
        value, self._value = self._value, None
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"layer {self.layer!r} produced {type(value).__name__}, not a tensor")
        if value.dim() == 4 and self.pool == "avg":
            value = value.mean(dim=(2, 3))
        return value.flatten(1)


def device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and dtype of the model's first floating-point parameter or buffer (CPU and the default
    dtype for a model that has none): where inputs to ``model`` must live."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.device, tensor.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def store_input_shape(store: FeatureStore) -> tuple[int, int, int]:
    """The ``(C, H, W)`` of the images ``store``'s model was given: ``meta.json``'s ``input_shape``
    (recorded at extraction), else (1, 28, 28) for the default CNNs and (3, 224, 224) otherwise."""
    if store.meta.get("input_shape"):
        return tuple(int(n) for n in store.meta["input_shape"])
    spec = str(store.meta.get("model", {}).get("spec", ""))
    return (1, 28, 28) if spec.startswith("default:") else (3, 224, 224)


def load_feature_model(store: FeatureStore, device: str | torch.device = "cpu", *, layer: str | None = None,
                       input_shape: Sequence[int] | None = None) -> FeatureModel:
    """The :class:`FeatureModel` that produced ``store``'s features, in eval mode on ``device``
    (``auto``, ``cpu``, ``cuda``, ``cuda:N`` or a torch.device).

    ``layer`` replaces the store's layer (same notation), e.g. to visualize the pre-activation of
    features that a bounded activation (ReLU6) saturates; ``input_shape`` replaces
    :func:`store_input_shape`. Raises ``ValueError`` when ``meta.json`` names no loadable model, or
    when the weights found now differ (by SHA-256) from the ones the features were extracted with.
    """
    from studykit._device import resolve_device
    from studykit.models import load_model

    device = resolve_device(device)
    info = store.meta.get("model")
    if not isinstance(info, dict) or not info.get("spec"):
        raise ValueError(f"{store.directory}: meta.json names no model (a store extracted by studykit is needed)")
    spec = str(info["spec"])
    own_weights = spec.startswith("default:") or spec == "efficientnet-lite0"
    model, loaded = load_model(spec, None if own_weights else info.get("weights"), device)
    expected = info.get("weights_sha256")
    if expected and loaded.weights_sha256 != expected:
        raise ValueError(f"{store.directory}: the features were extracted with weights sha256 {expected[:12]}..., "
                         f"but {spec} now loads {str(loaded.weights_sha256)[:12]}...")
    feature_model = FeatureModel(model, layer or store.meta.get("layer"), normalize=info.get("normalize"),
                                 pool=store.meta.get("pool", "avg"),
                                 input_shape=input_shape or store_input_shape(store))
    return feature_model.to(device).eval()


def feature_statistics(store: FeatureStore, split: str = "train",
                       chunk_rows: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of every feature over ``split``, each of shape ``(n_features,)``.

    Computed in float64 over chunks of the memory-mapped features; a constant feature gets
    standard deviation 1 so that normalizing by it is the identity.
    """
    X, _ = store.split(split)
    total = np.zeros(X.shape[1])
    squares = np.zeros(X.shape[1])
    for start in range(0, X.shape[0], chunk_rows):
        chunk = np.asarray(X[start:start + chunk_rows], dtype=np.float64)
        total += chunk.sum(0)
        squares += (chunk ** 2).sum(0)
    mean = total / X.shape[0]
    std = np.sqrt(np.maximum(squares / X.shape[0] - mean ** 2, 0.0))
    return mean, np.where(std > 1e-12, std, 1.0)
