"""Running a network over a dataset and writing a feature store (deep features, logits, dense layer).

The features of an image are a named layer's activations: by default the *input* of the model's
final ``nn.Linear`` (the penultimate representation, which the paper's decision layers replace);
with ``layer="name"``, the output of the module ``name``, average-pooled over space when it is a
(n, C, H, W) map (``pool="avg"``, the default) or flattened (``pool="flatten"``). The model's
outputs are stored beside them as logits, and its final Linear as ``dense_layer.npz`` when the
features are its input.

Extraction is batched, shows a progress bar, writes incrementally to memory-mapped files and
resumes after a crash (:mod:`studykit.features.writer`). Items that fail to load (an image that does
not decode) are skipped, logged and listed with their paths in ``meta.json``.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from studykit._progress import progress_bar

from .sources import SplitSource, write_sources
from .store import DENSE_LAYER, FeatureStore, write_meta
from .writer import Progress, SplitWriter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractConfig:
    """How to extract: which layer, pooling, batching, checkpoint frequency."""

    layer: str | None = None
    pool: str = "avg"
    batch_size: int = 256
    num_workers: int = 0
    checkpoint_every: int = 20
    overwrite: bool = False
    #: TF32 convolutions and matmuls on NVIDIA GPUs (PyTorch's cuDNN default) shift features by
    #: ~4e-3 relative to float32 (measured on an H100, EfficientNet-Lite0); off unless asked for.
    allow_tf32: bool = False

    def __post_init__(self) -> None:
        if self.pool not in ("avg", "flatten"):
            raise ValueError(f"pool must be 'avg' or 'flatten', got {self.pool!r}")
        for name in ("batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")


def find_layer(model: nn.Module, name: str | None) -> tuple[str, nn.Module, bool]:
    """The module whose activations are the features: ``(name, module, use_input)``.

    ``name=None`` picks the last ``nn.Linear`` registered in the model and its input. A name that
    does not exist raises ``ValueError`` listing the available names.
    """
    modules = dict(model.named_modules())
    if name is None:
        linears = [n for n, m in modules.items() if isinstance(m, nn.Linear)]
        if not linears:
            raise ValueError("the model has no nn.Linear layer; name the feature layer explicitly (--layer)")
        return linears[-1], modules[linears[-1]], True
    if name not in modules or name == "":
        available = ", ".join(n for n in modules if n)
        raise ValueError(f"no layer named {name!r} in the model; available: {available}")
    return name, modules[name], False


def extract_features(model: nn.Module, splits: Mapping[str, SplitSource], out_dir, *, classes: Sequence[str],
                     model_info: dict, dataset_info: dict, config: ExtractConfig = ExtractConfig(),
                     normalize: dict | None = None, progress: bool = True) -> FeatureStore:
    """Extract features for each split and write a complete feature store to ``out_dir``.

    Parameters
    ----------
    model : nn.Module, in eval mode, on the device to run on (inputs follow it).
    splits : mapping split name (``train``/``val``/``test``) -> :class:`SplitSource`.
    out_dir : path; must not hold a complete store unless ``config.overwrite``.
    classes : class names, indexed by label.
    model_info, dataset_info : JSON-serializable descriptions recorded in ``meta.json``.
    normalize : per-channel ``{"mean": [...], "std": [...]}`` applied to the [0, 1] inputs, or None.

    Returns
    -------
    FeatureStore, opened on ``out_dir``.
    """
    from studykit.distributed import world_size

    if world_size() > 1:   # inside an initialized process group (torchrun): each rank extracts its shard
        from .sharded import extract_sharded

        return extract_sharded(model, splits, out_dir, classes=classes, model_info=model_info,
                               dataset_info=dataset_info, config=config, normalize=normalize, progress=progress)
    out_dir = Path(out_dir)
    _refuse_complete_store(out_dir, config.overwrite)
    layer_name, module, use_input = find_layer(model, config.layer)
    fingerprint = _fingerprint(model_info, layer_name, use_input, config, dataset_info, normalize, splits)
    run = Progress.open(out_dir, fingerprint, config.overwrite)
    with _tf32(config.allow_tf32), contextlib.closing(_Capture(module, use_input, config.pool)) as capture:
        for split, source in splits.items():
            batches = _image_batches(model, source, capture, config, run.state(split, len(source.dataset)),
                                     normalize)
            _write_split(run, split, source, batches, progress, config.checkpoint_every)
    _write_store(run, splits, classes, model_info, dataset_info, config, (layer_name, module, use_input))
    return FeatureStore.open(out_dir)


def _fingerprint(model_info, layer_name, use_input, config, dataset_info, normalize, splits) -> dict:
    """What must not change between a crash and its resume (``progress.json`` refuses a different one)."""
    return {"model": [model_info.get("spec"), model_info.get("weights_sha256")], "layer": layer_name,
            "use_input": use_input, "pool": config.pool, "dataset": dataset_info, "normalize": normalize,
            "splits": {k: [s.origin, len(s.dataset)] for k, s in splits.items()}}


def _write_store(run: Progress, splits, classes, model_info, dataset_info, config, layer, world_size: int = 1):
    """The dense layer (when the features are its input), then ``meta.json`` last; drop ``.partial/``."""
    layer_name, module, use_input = layer
    meta = _meta(run, splits, classes, model_info, dataset_info,
                 layer=f"input of {layer_name}" if use_input else layer_name, config=config)
    meta["extract"]["world_size"] = world_size
    if use_input and module.out_features == len(classes):
        from studykit.solver.layers import DecisionLayer

        DecisionLayer.from_linear(module, source=f"{model_info.get('spec', 'model')} {layer_name}",
                                  classes=classes).save(run.out_dir / DENSE_LAYER)
    write_meta(run.out_dir, meta)
    run.finish()


def _refuse_complete_store(out_dir: Path, overwrite: bool) -> None:
    if (out_dir / "meta.json").is_file() and not overwrite:
        raise FileExistsError(f"{out_dir}: already holds a complete feature store; pass --overwrite to replace it")


class _Capture:
    """A forward hook keeping the chosen layer's input or output for the current batch."""

    def __init__(self, module: nn.Module, use_input: bool, pool: str):
        self.use_input, self.pool, self.value = use_input, pool, None
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output) -> None:
        value = inputs[0] if self.use_input else output
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"layer {type(module).__name__} produced {type(value).__name__}, not a tensor")
        if value.dim() == 4 and self.pool == "avg":
            value = value.mean(dim=(2, 3))
        self.value = value.detach().flatten(1)

    def close(self) -> None:
        self.handle.remove()


@contextlib.contextmanager
def _tf32(allow: bool):
    """Set PyTorch's TF32 switches for cuDNN convolutions and CUDA matmuls, restoring them after."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = allow
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


class _Guarded(Dataset):
    """Items ``start..stop`` of a dataset as ``(position, image, label, error)``; a failing item gives its error."""

    def __init__(self, dataset: Dataset, start: int, stop: int | None = None):
        self.dataset, self.start = dataset, start
        self.stop = len(dataset) if stop is None else stop

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __getitem__(self, i: int):
        position = self.start + i
        try:
            image, label = self.dataset[position]
        except Exception as exc:   # a broken file must not stop hours of extraction; it is reported
            return position, None, -1, f"{type(exc).__name__}: {exc}"
        return position, image, int(label), None


def _collate(items):
    kept = [it for it in items if it[3] is None]
    failed = [(it[0], it[3]) for it in items if it[3] is not None]
    if not kept:
        return None, None, None, failed, len(items)
    positions = np.array([it[0] for it in kept], dtype=np.int64)
    images = torch.stack([torch.as_tensor(it[1]) for it in kept])
    labels = np.array([it[2] for it in kept], dtype=np.int64)
    return positions, images, labels, failed, len(items)


@torch.no_grad()
def _image_batches(model, source: SplitSource, capture: _Capture, config: ExtractConfig, state,
                   normalize: dict | None, items: range | None = None) -> Iterator[tuple]:
    """Yield ``(features, labels, positions, logits, consumed, failures)`` for the items not yet done.

    ``items``: the block of the split this process extracts (all of it by default); ``state.done``
    counts from its start.
    """
    device = next(model.parameters()).device
    mean = std = None
    if normalize is not None:
        mean = torch.tensor(normalize["mean"], device=device).view(1, -1, 1, 1)
        std = torch.tensor(normalize["std"], device=device).view(1, -1, 1, 1)
    items = range(len(source.dataset)) if items is None else items
    loader = DataLoader(_Guarded(source.dataset, items.start + state.done, items.stop),
                        batch_size=config.batch_size, shuffle=False,
                        num_workers=config.num_workers, collate_fn=_collate)
    for positions, images, labels, failed, consumed in loader:
        failures = [source.describe_failure(p, err) for p, err in failed]
        if images is None:
            yield None, None, None, None, consumed, failures
            continue
        x = images.to(device)
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        state.input_shape = list(x.shape[1:])
        if mean is not None:
            x = (x - mean) / std
        output = model(x)
        logits = output.float().cpu().numpy() if isinstance(output, torch.Tensor) and output.dim() == 2 else None
        yield capture.value.float().cpu().numpy(), labels, positions, logits, consumed, failures


def _write_split(run: Progress, split: str, source: SplitSource, batches, progress: bool, every: int,
                 shard: str | None = None) -> None:
    """Write a split's batches; ``shard`` (``"rank 1 of 4"``): one rank's block, which may be empty and
    whose row->source mapping is written when the blocks are joined."""
    state = run.splits[split]
    if state.complete:
        logger.info("split %s%s: already extracted, skipped", split, f" ({shard})" if shard else "")
        return
    writer = SplitWriter(run, split, state)
    bar = progress_bar(total=state.n_items, initial=state.done, unit="item", disable=not progress,
                       desc=f"features {split}" + (f" ({shard})" if shard else ""))
    for count, (features, labels, positions, logits, consumed, failures) in enumerate(batches, 1):
        for failure in failures:
            logger.warning("split %s: skipped %s", split, failure)
        if features is None:
            state.done += consumed
            state.failed.extend(failures)
        else:
            writer.append(features, labels, source.origin_index(positions), logits, consumed, failures)
        bar.update(consumed)
        if count % every == 0:
            writer.checkpoint()
    bar.close()
    writer.finalize(allow_empty=shard is not None)
    if shard is None:
        write_sources(run.out_dir, split, source)


def _meta(run: Progress, splits, classes, model_info, dataset_info, layer: str, config: ExtractConfig) -> dict:
    from studykit import __version__

    per_split = {}
    for split, source in splits.items():
        state = run.splits[split]
        per_split[split] = {"rows": state.rows, "items": state.n_items, "origin": source.origin,
                            "index": f"{split}_index.npy", "sources": source.sources_file(split),
                            "logits": f"{split}_logits.npy" if state.n_outputs is not None else None,
                            "failed": state.failed}
    first = run.splits[next(iter(splits))]
    return {"n_features": first.n_features, "input_shape": first.input_shape, "classes": list(classes),
            "model": model_info, "layer": layer,
            "pool": config.pool, "dataset": dataset_info, "splits": per_split,
            "extract": {k: v for k, v in asdict(config).items() if k != "overwrite"},
            "studykit_version": __version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
