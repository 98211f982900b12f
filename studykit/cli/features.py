"""``studykit features``: extract deep features into a feature store (any model, or the embedded default)."""

from __future__ import annotations

from pathlib import Path

import click

from .common import device_option, notice, overwrite_option, refuse_existing, torch_device, user_errors

_DEVICE = device_option
_BATCH = click.option("--batch-size", type=int, default=256, show_default=True)
_LIMIT = click.option("--limit", type=int, default=None,
                      help="Keep only the first N items of each split (quick trials).")
_OVERWRITE = overwrite_option("a complete store, or discard an unfinished one, in the output folder")


@click.group(name="features")
def features() -> None:
    """Run a network over a dataset and store its deep features (memory-mapped .npy + meta.json)."""


@features.command("extract")
@click.option("--model", "model_spec", required=True,
              help="default:standard | default:robust | a torchvision architecture (resnet50, ...) "
                   "| an importable factory package.module:function.")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="State dict or checkpoint for --model (torchvision architectures, factories).")
@click.option("--data", required=True,
              help="fashion-mnist (the embedded default) or a folder with train/ [val/ test/] in ImageFolder layout.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Feature store folder.")
@click.option("--layer", default=None,
              help="Module whose output are the features [default: the input of the final Linear].")
@click.option("--pool", type=click.Choice(["avg", "flatten"]), default="avg", show_default=True,
              help="How (n, C, H, W) activations become vectors.")
@click.option("--image-size", type=int, default=None,
              help="Input size for folder data [default: 28 for the default CNNs, 224 otherwise].")
@click.option("--grayscale", is_flag=True,
              help="Feed folder images as 1 channel [default: for the default CNNs only; RGB otherwise].")
@click.option("--val-fraction", type=float, default=0.1, show_default=True,
              help="Share of train held out as val when the data has no val split.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--num-workers", type=int, default=0, show_default=True, help="DataLoader worker processes.")
@_DEVICE
@_BATCH
@_LIMIT
@_OVERWRITE
def extract(model_spec, weights, data, out, layer, pool, image_size, grayscale, val_fraction, seed, num_workers,
            device, batch_size, limit, overwrite) -> None:
    """Extract features of MODEL over DATA into OUT (resumes an interrupted run in OUT)."""
    with user_errors():
        from studykit.features.default import image_transform
        from studykit.features.extract import ExtractConfig, extract_features
        from studykit.features.sources import default_splits, folder_splits
        from studykit.models import load_model

        config = ExtractConfig(layer=layer, pool=pool, batch_size=batch_size, num_workers=num_workers,
                               overwrite=overwrite)
        model, spec = load_model(model_spec, weights, torch_device(device))
        is_default = model_spec.startswith("default:")
        if data == "fashion-mnist":
            splits, classes, info, fallback = default_splits(val_fraction, seed, limit)
            if fallback:
                notice(f"notice: {fallback}")
        else:
            size = image_size or (28 if is_default else 224)
            transform = image_transform(size, 1 if is_default or grayscale else 3)
            splits, classes, info = folder_splits(data, transform, val_fraction, seed)
            if limit is not None:
                splits = {k: _first(v, limit) for k, v in splits.items()}
        store = extract_features(model, splits, out, classes=classes, model_info=spec.to_dict(),
                                 dataset_info=info, config=config, normalize=spec.normalize)
    _summary(store)


@features.command("default")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the two stores: OUT/standard and OUT/robust.")
@click.option("--val-fraction", type=float, default=0.1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@_DEVICE
@click.option("--batch-size", type=int, default=512, show_default=True)
@_LIMIT
@_OVERWRITE
def default(out, val_fraction, seed, device, batch_size, limit, overwrite) -> None:
    """The embedded default: Fashion-MNIST through the shipped standard and robust CNNs."""
    with user_errors():
        from studykit.features.default import extract_default
        from studykit.models import DEFAULT_MODELS

        refuse_existing([out / name / "meta.json" for name in DEFAULT_MODELS], overwrite)
        stores, fallback = extract_default(out, limit=limit, val_fraction=val_fraction, seed=seed,
                                           device=torch_device(device), batch_size=batch_size, overwrite=overwrite)
    if fallback:
        notice(f"notice: {fallback}")
    for store in stores.values():
        _summary(store)


def _first(source, limit: int):
    import numpy as np
    from torch.utils.data import Subset

    from studykit.features.sources import SplitSource

    n = min(limit, len(source.dataset))
    positions = source.origin_index(np.arange(n))
    paths = None if source.paths is None else list(source.paths[:n])
    return SplitSource(Subset(source.dataset, range(n)), source.origin, positions, paths, source.root)


def _summary(store) -> None:
    import numpy as np

    lines = [f"{store.directory}: {store.n_features} features, {len(store.classes or ())} classes"]
    for split, info in store.meta.get("splits", {}).items():
        text = f"  {split}: {info['rows']} rows"
        if info.get("logits"):
            logits = np.load(store.directory / info["logits"], mmap_mode="r")
            labels = np.load(store.directory / f"{split}_labels.npy", mmap_mode="r")
            text += f", model accuracy {float((np.argmax(logits, 1) == labels).mean()):.4f}"
        if info.get("failed"):
            text += f", {len(info['failed'])} items skipped (listed in meta.json)"
        lines.append(text)
    click.echo("\n".join(lines))
