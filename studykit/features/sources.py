"""What a feature store is extracted from: splits of images (in memory or files) and how rows map back.

A :class:`SplitSource` wraps a map-style dataset whose items are ``(image, label)`` (image: a tensor
of shape (C, H, W), uint8 or float in [0, 1]) and says where item ``i`` came from: an index into a
named origin (``fashion-mnist:train``), and for files, the file's path relative to the dataset root.
The store keeps that mapping (``{split}_index.npy``, ``{split}_sources.jsonl``) so a HIT can show
the image behind any row (:mod:`studykit.features.images`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from studykit.datasets import ImageArrays, load_default


class ArrayDataset(Dataset):
    """:class:`~studykit.datasets.ImageArrays` as a torch dataset of ``(uint8 tensor (C, H, W), label)``."""

    def __init__(self, arrays: ImageArrays):
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, i: int):
        image = torch.from_numpy(np.ascontiguousarray(self.arrays.images[i]))
        image = image[None] if image.dim() == 2 else image.permute(2, 0, 1)
        return image, int(self.arrays.labels[i])


class FileList(Dataset):
    """Image files with labels as a torch dataset of ``(transform(image), label)``."""

    def __init__(self, files: Sequence, labels: Sequence[int], transform):
        if len(files) != len(labels):
            raise ValueError(f"{len(files)} files but {len(labels)} labels")
        self.files, self.labels, self.transform = [Path(f) for f in files], list(labels), transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        from PIL import Image

        with Image.open(self.files[i]) as image:
            return self.transform(image), int(self.labels[i])


@dataclass
class SplitSource:
    """One split to extract.

    Attributes
    ----------
    dataset : map-style dataset of ``(image, label)``
    origin : str, where items come from (``fashion-mnist:train``, ``folder:/data/imagenet/train``, ...)
    positions : ndarray of int64, shape (len(dataset),), or None
        Index in ``origin`` of each dataset item (None: the item's own position).
    paths : sequence of str, or None
        For file-backed datasets, each item's file path relative to ``root``.
    root : str or None, the folder ``paths`` are relative to.
    """

    dataset: Dataset
    origin: str
    positions: np.ndarray | None = None
    paths: Sequence[str] | None = None
    root: str | None = None

    def origin_index(self, positions: np.ndarray) -> np.ndarray:
        return positions if self.positions is None else self.positions[positions]

    def describe_failure(self, position: int, error: str) -> dict:
        where = self.paths[position] if self.paths is not None else f"{self.origin}#{position}"
        return {"item": int(position), "path": where, "error": error}

    def sources_file(self, split: str) -> str | None:
        return f"{split}_sources.jsonl" if self.paths is not None else None


def write_sources(out_dir: Path, split: str, source: SplitSource) -> None:
    """Write ``{split}_sources.jsonl`` (one JSON string per kept row) for file-backed splits."""
    name = source.sources_file(split)
    if name is None:
        return
    index = np.load(Path(out_dir) / f"{split}_index.npy", mmap_mode="r")
    if source.positions is None:
        by_origin = source.paths
    else:
        by_origin = {int(o): p for o, p in zip(source.positions, source.paths)}
    tmp = Path(out_dir) / (name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for origin_index in index:
            handle.write(json.dumps(by_origin[int(origin_index)]) + "\n")
    os.replace(tmp, Path(out_dir) / name)


def file_split(files: Sequence, labels: Sequence[int], transform, root) -> SplitSource:
    """A split of image files under ``root`` (paths recorded relative to it)."""
    root = Path(root).resolve()
    paths = [os.path.relpath(Path(f).resolve(), root) for f in files]
    return SplitSource(FileList(files, labels, transform), f"folder:{root}", paths=paths, root=str(root))


def imagenet_samples(transform) -> tuple[SplitSource, dict]:
    """The 20 labelled ImageNet validation photos shipped as data by the package ``foolbox``.

    Only the files are used (foolbox is not imported; ``pip install --no-deps foolbox==3.3.4``).
    Labels are ImageNet class indices (0..999), from the file names ``imagenet_NN_LABEL.jpg``.
    """
    import importlib.util

    spec = importlib.util.find_spec("foolbox")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the ImageNet sample photos come with the package foolbox: "
                                "pip install --no-deps foolbox==3.3.4")
    folder = Path(spec.submodule_search_locations[0]) / "data"
    files = sorted(folder.glob("imagenet_*.jpg"))
    labels = [int(f.stem.rsplit("_", 1)[1]) for f in files]
    return file_split(files, labels, transform, folder), {"name": f"folder:{folder}", "source": "foolbox 3.3.4"}


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of ``range(n)`` into (train, val) index arrays, each sorted."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(val_fraction * n))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def default_splits(val_fraction: float = 0.1, seed: int = 0, limit: int | None = None,
                   data_dir=None) -> tuple[dict[str, SplitSource], tuple[str, ...], dict, str | None]:
    """The embedded default's train/val/test splits (val drawn from Fashion-MNIST's training set).

    ``limit`` keeps the first ``limit`` items of each split (for tests and quick demos).

    Returns
    -------
    splits, classes, dataset_info (for meta.json), notice (None unless the digits fallback is used)
    """
    train, notice = load_default("train", data_dir)
    test, _ = load_default("test", data_dir)
    train_idx, val_idx = split_indices(len(train), val_fraction, seed)
    parts = {"train": (train, train_idx), "val": (train, val_idx), "test": (test, np.arange(len(test)))}
    splits = {}
    for name, (arrays, idx) in parts.items():
        idx = idx[:limit] if limit is not None else idx
        if len(idx) == 0:
            continue
        splits[name] = SplitSource(ArrayDataset(arrays.subset(idx)), arrays.name, positions=idx)
    info = {"name": train.name.split(":")[0], "val_fraction": val_fraction, "seed": seed, "limit": limit,
            "notice": notice}
    return splits, train.classes, info, notice


def folder_splits(root, transform, val_fraction: float = 0.1, seed: int = 0, labels: Sequence = (),
                  class_names=None) -> tuple[dict[str, SplitSource], tuple[str, ...], dict]:
    """Splits from an image folder ``root`` with ``train/`` and optionally ``val/`` and ``test/``.

    Each split folder is laid out as torchvision's ``ImageFolder`` (one subfolder per class), or is
    flat (the images directly in it) with their labels in the ``labels`` files (CSV or ``file label``
    lines; :mod:`studykit.features.labels`). ``root`` itself may be a flat folder with labels: it is
    then the train split. ``class_names`` (a file) sets the classes' order and names, and maps class
    folders and labels given as synsets, ids or names; without it the classes are train/'s folders,
    or the labels found. When there is no ``val/``, a seeded ``val_fraction`` of ``train/`` is held
    out as validation.
    """
    from .labels import read_class_names, read_labels

    root = Path(root)
    dirs = {name: root / name for name in ("train", "val", "test") if (root / name).is_dir()}
    if not dirs and labels and root.is_dir() and _image_files(root):
        dirs = {"train": root}
    if "train" not in dirs:
        raise FileNotFoundError(f"{root}: expected a folder with train/ (and optionally val/, test/), each "
                                f"holding one subfolder of images per class or, with --labels, the images")
    label_map = {}
    for path in labels:
        for file, (token, line) in read_labels(path).items():
            label_map.setdefault(file, (token, f"{path}:{line}"))
    given = read_class_names(class_names) if class_names is not None else None
    flat = {name: _image_files(d) for name, d in dirs.items()}
    flat = {name: files for name, files in flat.items() if files}
    if flat and not label_map:
        name = next(iter(flat))
        raise ValueError(f"{dirs[name]}: holds images directly (a flat folder) but no labels file was given "
                         f"(--labels FILE)")
    classes = given or _folder_classes(dirs, flat, label_map)
    splits = {name: (_flat_split(d, flat[name], label_map, classes, root, transform) if name in flat
                     else _class_folder_split(d, classes, given is not None, root, transform))
              for name, d in dirs.items()}
    if "val" not in dirs:
        train = splits["train"]
        train_idx, val_idx = split_indices(len(train.dataset), val_fraction, seed)
        splits["train"] = _subset(train, train_idx)
        if len(val_idx):
            splits["val"] = _subset(train, val_idx)
    info = {"name": f"folder:{root.resolve()}", "val_fraction": val_fraction if "val" not in dirs else None,
            "seed": seed, "labels": [str(p) for p in labels] or None,
            "class_names": None if class_names is None else str(class_names),
            "synsets": list(classes.ids) if classes.ids is not None else None}
    ordered = dict(sorted(splits.items(), key=lambda kv: ("train", "val", "test").index(kv[0])))
    return ordered, classes.names, info


def _image_files(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (not in subfolders), sorted by name."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS)


def _folder_classes(dirs: dict, flat: dict, label_map: dict):
    from torchvision.datasets.folder import find_classes

    from .labels import ClassNames, classes_from_tokens

    if "train" not in flat:
        names = tuple(find_classes(str(dirs["train"]))[0])
        synsets = all(len(n) == 9 and n[0] == "n" and n[1:].isdigit() for n in names)
        return ClassNames(names, names if synsets else None, str(dirs["train"]))
    return classes_from_tokens([token for token, _ in label_map.values()])


def _flat_split(folder: Path, files: list[Path], label_map: dict, classes, root: Path, transform) -> SplitSource:
    from .labels import match_labels

    found = match_labels(files, folder, label_map, "the labels files")
    labels = [classes.index(token, where) for token, where in found]
    source = file_split(files, labels, transform, root)
    source.origin = f"folder:{folder.resolve()}"
    return source


class _Remap:
    """``target_transform`` of an ImageFolder whose folders map onto a given class list."""

    def __init__(self, mapping: dict[int, int]):
        self.mapping = mapping

    def __call__(self, target: int) -> int:
        return self.mapping[target]


def _class_folder_split(folder: Path, classes, mapped: bool, root: Path, transform) -> SplitSource:
    from torchvision.datasets import ImageFolder

    dataset = ImageFolder(str(folder), transform=transform)
    if mapped:
        dataset.target_transform = _Remap({i: classes.index(name, f"{folder}/{name}/")
                                           for name, i in dataset.class_to_idx.items()})
    elif tuple(dataset.classes) != classes.names:
        raise ValueError(f"{folder}: its class folders {dataset.classes} differ from train/'s {list(classes.names)}")
    paths = [os.path.relpath(p, root) for p, _ in dataset.samples]
    return SplitSource(dataset, f"folder:{folder.resolve()}", paths=paths, root=str(root.resolve()))


def _subset(source: SplitSource, indices: np.ndarray) -> SplitSource:
    from torch.utils.data import Subset

    return SplitSource(Subset(source.dataset, indices.tolist()), source.origin, positions=indices,
                       paths=[source.paths[i] for i in indices], root=source.root)
