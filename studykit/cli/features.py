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
                   "| an importable factory package.module:function | hf:NAME_OR_FOLDER (a transformers "
                   "sequence classifier; text data).")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="State dict or checkpoint for --model (torchvision architectures, factories).")
@click.option("--data", required=True,
              help="fashion-mnist (the embedded default), a folder with train/ [val/ test/] in ImageFolder layout "
                   "or flat with --labels, a flat folder with --labels, or for hf: models a CSV/TSV file or a "
                   "folder with train.csv [val.csv test.csv].")
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
@click.option("--checkpoint-every", type=int, default=20, show_default=True,
              help="Record progress every N batches (a crashed run resumes from the last record).")
@click.option("--labels", "labels_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Labels of flat image folders: CSV (file, label) or 'file label' lines, e.g. ILSVRC's "
                   "val.txt or LOC_val_solution.csv. Repeatable.")
@click.option("--class-names", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Class names in label order: one per line, 'n01440764 tench, ...' (synsets kept in "
                   "meta.json) or Places365's '/a/airfield 0'.")
@click.option("--text-column", default="text", show_default=True, help="hf: models: the CSV's sentence column.")
@click.option("--label-column", default="label", show_default=True,
              help="hf: models: the CSV's label column (class index or the model's label name).")
@click.option("--max-length", type=int, default=None, help="hf: models: truncate sentences at N tokens [512].")
@_DEVICE
@_BATCH
@_LIMIT
@_OVERWRITE
def extract(model_spec, weights, data, out, layer, pool, image_size, grayscale, val_fraction, seed, num_workers,
            checkpoint_every, labels_files, class_names, text_column, label_column, max_length, device, batch_size,
            limit, overwrite) -> None:
    """Extract features of MODEL over DATA into OUT (resumes an interrupted run in OUT).

    Under torchrun (--nproc-per-node N, --nnodes M) each process extracts its share of the items on
    its own device (cuda:LOCAL_RANK) and the result equals one process's (images; hf: text runs in one
    process)."""
    if model_spec.startswith("hf:"):
        if weights is not None or layer is not None or labels_files or class_names is not None:
            raise click.UsageError("hf: models bring their weights, features (the head's input) and class names; "
                                   "drop --weights, --layer, --labels and --class-names")
        with user_errors(ImportError):
            from studykit.features.text import extract_hf_text

            store = extract_hf_text(model_spec, data, out, text_column=text_column, label_column=label_column,
                                    val_fraction=val_fraction, seed=seed, limit=limit, max_length=max_length,
                                    device=torch_device(device), batch_size=batch_size, overwrite=overwrite)
        _summary(store)
        return
    with user_errors():
        from studykit.distributed import rank0_first
        from studykit.features.default import image_transform
        from studykit.features.extract import ExtractConfig, extract_features
        from studykit.features.sources import default_splits, folder_splits
        from studykit.models import load_model

        from .distributed import torchrun_session

        config = ExtractConfig(layer=layer, pool=pool, batch_size=batch_size, num_workers=num_workers,
                               checkpoint_every=checkpoint_every, overwrite=overwrite)
        with torchrun_session(torch_device(device)) as (device, talks):
            model, spec = load_model(model_spec, weights, device)
            is_default = model_spec.startswith("default:")
            with rank0_first():   # one download or cache write, not one per process
                if data == "fashion-mnist":
                    splits, classes, info, fallback = default_splits(val_fraction, seed, limit)
                    if fallback and talks:
                        notice(f"notice: {fallback}")
                else:
                    size = image_size or (28 if is_default else 224)
                    transform = image_transform(size, 1 if is_default or grayscale else 3)
                    splits, classes, info = folder_splits(data, transform, val_fraction, seed, labels_files,
                                                          class_names)
                    if limit is not None:
                        splits = {k: _first(v, limit) for k, v in splits.items()}
            store = extract_features(model, splits, out, classes=classes, model_info=spec.to_dict(),
                                     dataset_info=info, config=config, normalize=spec.normalize)
    if talks:
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

        from .distributed import torchrun_session

        refuse_existing([out / name / "meta.json" for name in DEFAULT_MODELS], overwrite)
        with torchrun_session(torch_device(device)) as (device, talks):
            stores, fallback = extract_default(out, limit=limit, val_fraction=val_fraction, seed=seed,
                                               device=device, batch_size=batch_size, overwrite=overwrite)
    if not talks:
        return
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
