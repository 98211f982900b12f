"""Reading checkpoints of torchvision-style networks in the layouts people save them in.

A checkpoint file is a state dict, or a dict holding one (under ``state_dict`` or ``model``). Its keys
say how it was saved; :func:`read_checkpoint` recognises

``robustness``
    MadryLab's robustness library (the paper's robust ResNet-50s): ``{"model": ..., "epoch": ...}``
    (or ``state_dict``) with ``module.model.*`` (the network), ``module.attacker.model.*`` (the same
    network again, inside the attacker) and ``module.normalizer.new_mean`` / ``new_std`` (the input
    normalization, shape (3, 1, 1), which differs between ImageNet, CIFAR and Places models). The
    network's weights are ``model.*`` and the normalizer replaces the default ImageNet statistics.
``dataparallel``
    every key prefixed ``module.`` (``nn.DataParallel`` / DDP).
``lightning``
    a PyTorch Lightning checkpoint: ``state_dict`` with the network under an attribute prefix
    (``model.``, ``net.``, ...), next to ``pytorch-lightning_version``.
``plain``
    keys as the network names them.

When keys still do not fit the network, :func:`fit_error` says so in one line: how many keys are
missing, unexpected or of another shape, the first of each, and the layout the file looked like.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

_MAX_MESSAGE = 400


@dataclass(frozen=True)
class Checkpoint:
    """The network's state dict from a file, how it was laid out, and its own input normalization."""

    state: dict
    layout: str
    #: ``{"mean": [...], "std": [...]}`` from the checkpoint (robustness layout), else None.
    normalize: dict | None
    #: Prefix stripped from the keys ('' for none).
    prefix: str


def read_checkpoint(path: Path, model: nn.Module | None = None) -> Checkpoint:
    """Load ``path`` (tensors only, never arbitrary pickled objects) and undo its layout.

    ``model`` (optional) breaks ties between candidate prefixes: the one leaving most keys that the
    model has wins.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: weights file not found")
    raw = _safe_load(path)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a state dict or a checkpoint dict, found {type(raw).__name__}")
    container, state = "", raw
    for key in ("state_dict", "model"):
        if isinstance(raw.get(key), dict) and raw[key] and _is_state(raw[key]):
            container, state = key, raw[key]
            break
    if not _is_state(state):
        kinds = ", ".join(sorted(raw)[:5])
        raise ValueError(f"{path}: no state dict found (top-level keys: {kinds}); expected tensors, or a dict "
                         f"holding them under 'state_dict' or 'model'")
    normalize = _robustness_normalizer(state)
    if normalize is not None or _has_prefix(state, "module.attacker.model.") or _has_prefix(state, "attacker.model."):
        layout = "robustness"
        prefix = "module.model." if _has_prefix(state, "module.model.") else "model."
    elif "pytorch-lightning_version" in raw or ("state_dict" in raw and "global_step" in raw):
        layout, prefix = "lightning", _best_prefix(state, model, _candidate_prefixes(state))
    elif all(k.startswith("module.") for k in state):
        layout, prefix = "dataparallel", "module."
    else:
        layout, prefix = "plain", _best_prefix(state, model, ["", "module."])
    kept = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if container and layout == "plain":
        layout = f"plain (under {container!r})"
    return Checkpoint(kept, layout, normalize, prefix)


def fit_error(path: Path, model: nn.Module, arch: str, checkpoint: Checkpoint) -> str | None:
    """None when ``checkpoint.state`` loads into ``model`` strictly; else a one-line explanation."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in checkpoint.state]
    unexpected = [k for k in checkpoint.state if k not in expected]
    shapes = [f"{k} {tuple(checkpoint.state[k].shape)} vs {tuple(expected[k].shape)}" for k in expected
              if k in checkpoint.state and hasattr(checkpoint.state[k], "shape")
              and tuple(checkpoint.state[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or shapes):
        return None
    stripped = f", prefix {checkpoint.prefix!r} stripped" if checkpoint.prefix else ""
    parts = [f"{len(missing)} missing ({_first(missing)})", f"{len(unexpected)} unexpected ({_first(unexpected)})"]
    if shapes:
        parts.append(f"{len(shapes)} of another shape ({_first(shapes, 1)})")
    body = f"weights do not fit {arch} (file looks like a {checkpoint.layout} checkpoint{stripped}): " + "; ".join(parts)
    message = f"{path}: {body}"
    if len(message) > _MAX_MESSAGE:
        message = f"{Path(path).name}: {body}"
    return message if len(message) <= _MAX_MESSAGE else message[:_MAX_MESSAGE - 3] + "..."


def _safe_load(path: Path):
    import numpy as np

    allowed = [(np.dtype, "numpy.dtype")]
    scalar = getattr(getattr(np, "_core", np.core).multiarray, "scalar", None)
    if scalar is not None:
        allowed += [(scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar")]
    allowed += [(type(np.dtype(t)), f"numpy.dtypes.{type(np.dtype(t)).__name__}")
                for t in ("float64", "float32", "int64", "int32")]
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        what = next((line.strip() for line in str(exc).splitlines() if "Unsupported global" in line), "")
        if not what:
            raise ValueError(f"{path}: not a readable torch checkpoint ({str(exc).splitlines()[0][:160]})") from None
        raise ValueError(f"{path}: holds Python objects beyond tensors, which studykit does not unpickle "
                         f"({what[:120]}); if you trust the file, re-save its "
                         f"state dict: torch.save(torch.load(f, weights_only=False)['model'], 'weights.pt')") from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f"{path}: not a readable torch checkpoint ({str(exc).splitlines()[0][:160]})") from None


def _is_state(d: dict) -> bool:
    return bool(d) and all(isinstance(k, str) for k in d) and any(isinstance(v, torch.Tensor) for v in d.values())


def _has_prefix(state: dict, prefix: str) -> bool:
    return any(k.startswith(prefix) for k in state)


def _robustness_normalizer(state: dict) -> dict | None:
    for prefix in ("module.normalizer.", "normalizer."):
        mean, std = state.get(prefix + "new_mean"), state.get(prefix + "new_std")
        if isinstance(mean, torch.Tensor) and isinstance(std, torch.Tensor):
            return {"mean": [float(v) for v in mean.flatten()], "std": [float(v) for v in std.flatten()]}
    return None


def _candidate_prefixes(state: dict) -> list[str]:
    heads = {k.split(".", 1)[0] + "." for k in state if "." in k}
    return [""] + sorted(heads) + sorted({"module." + h for h in heads if h != "module."})


def _best_prefix(state: dict, model: nn.Module | None, candidates: list[str]) -> str:
    if model is None:
        return candidates[0]
    names = set(model.state_dict())

    def score(prefix: str) -> int:
        return sum(1 for k in state if k.startswith(prefix) and k[len(prefix):] in names)

    return max(candidates, key=lambda p: (score(p), -len(p)))


def _first(keys: list[str], n: int = 3) -> str:
    if not keys:
        return "none"
    shown = [k if len(k) <= 48 else k[:45] + "..." for k in keys[:n]]
    return ", ".join(shown) + (", ..." if len(keys) > n else "")
