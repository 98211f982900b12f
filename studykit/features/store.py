"""Reading (and, for tests and small tools, writing) the on-disk feature store.

A feature store is a folder::

    meta.json              {"n_features": d, "classes": [...], "model": ..., "layer": ..., "dataset": ..., ...}
    train.npy              float32, shape (n_train, d), memory-mappable
    train_labels.npy       shape (n_train,) integer labels (or (n_train[, n_outputs]) float targets)
    val.npy, val_labels.npy     optional, same layout
    test.npy, test_labels.npy   optional, same layout
    dense_layer.npz        optional: the model's own final Linear, saved with ``DecisionLayer.save``

Features are opened with ``np.load(mmap_mode="r")``: nothing is read into memory until used.
This module imports only numpy (the decision layer class is imported when ``dense_layer`` is called).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

#: The splits a store may hold; ``train`` is the one a path needs.
SPLITS = ("train", "val", "test")
META = "meta.json"
DENSE_LAYER = "dense_layer.npz"


class FeatureStore:
    """A feature store folder, opened read-only.

    Attributes
    ----------
    directory : Path
    meta : dict, the parsed ``meta.json`` (``n_features`` and ``classes`` at least).
    """

    def __init__(self, directory: Path, meta: dict):
        self.directory = Path(directory)
        self.meta = meta

    @classmethod
    def open(cls, directory) -> "FeatureStore":
        """Open the store in ``directory``; raises ``FileNotFoundError`` / ``ValueError`` when
        the folder or ``meta.json`` is missing or malformed."""
        directory = Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(f"{directory}: no feature store here (not a folder)")
        meta_path = directory / META
        if not meta_path.is_file():
            raise FileNotFoundError(f"{meta_path}: missing (a feature store needs meta.json)")
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{meta_path}: not valid JSON ({exc})") from None
        _check_meta(meta, meta_path)
        return cls(directory, meta)

    def __repr__(self) -> str:
        present = [s for s in SPLITS if self.has(s)]
        return f"FeatureStore({str(self.directory)!r}, n_features={self.n_features}, splits={present})"

    # ------------------------------------------------------------------ facts
    @property
    def n_features(self) -> int:
        return int(self.meta["n_features"])

    @property
    def classes(self) -> tuple[str, ...] | None:
        """Class names from ``meta.json`` (key ``classes``), or None when absent."""
        classes = self.meta.get("classes")
        return tuple(str(c) for c in classes) if classes is not None else None

    def has(self, name: str) -> bool:
        """Whether the store holds split ``name`` (``train``, ``val`` or ``test``).

        True as soon as either of its two files is present, so that a half-written split is
        reported by :meth:`split` (naming the missing file) rather than silently ignored.
        """
        _check_split_name(name)
        return (self.directory / f"{name}.npy").is_file() or (self.directory / f"{name}_labels.npy").is_file()

    # ------------------------------------------------------------------ data
    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Features and labels of split ``name``.

        Returns
        -------
        X : read-only memmap, shape (n_samples, n_features)
        y : ndarray, shape (n_samples,) or (n_samples, n_outputs), loaded into memory.

        Raises ``FileNotFoundError`` naming the missing file, ``ValueError`` naming the file whose
        shape disagrees with ``meta.json`` or with the other file of the split.
        """
        _check_split_name(name)
        x_path, y_path = self.directory / f"{name}.npy", self.directory / f"{name}_labels.npy"
        for path in (x_path, y_path):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: missing (split {name!r} of the feature store)")
        X = _load(x_path, mmap_mode="r")
        if X.ndim != 2:
            raise ValueError(f"{x_path}: expected a 2-D (n_samples, n_features) array, got shape {X.shape}")
        if X.shape[1] != self.n_features:
            raise ValueError(f"{x_path}: has {X.shape[1]} features but meta.json says n_features={self.n_features}")
        if not np.issubdtype(X.dtype, np.floating):
            raise ValueError(f"{x_path}: expected floating-point features (float32), got {X.dtype}")
        y = np.asarray(_load(y_path))
        if y.ndim not in (1, 2):
            raise ValueError(f"{y_path}: expected 1-D labels or 2-D targets, got shape {y.shape}")
        if len(y) != X.shape[0]:
            raise ValueError(f"{y_path}: has {len(y)} labels but {x_path.name} has {X.shape[0]} rows")
        return X, y

    def dense_layer(self):
        """The model's own final layer (``dense_layer.npz``) as a ``DecisionLayer``, or None."""
        path = self.directory / DENSE_LAYER
        if not path.is_file():
            return None
        from studykit.solver.layers import DecisionLayer

        layer = DecisionLayer.load(path)
        if layer.n_features != self.n_features:
            raise ValueError(f"{path}: has {layer.n_features} features but meta.json says "
                             f"n_features={self.n_features}")
        classes = self.classes
        if classes is not None and layer.family == "multinomial" and layer.n_classes != len(classes):
            raise ValueError(f"{path}: has {layer.n_classes} classes but meta.json lists {len(classes)}")
        return layer


# ---------------------------------------------------------------------------------------------
def write_split(directory, name: str, X, y) -> tuple[Path, Path]:
    """Write split ``name`` (``X`` as float32 ``(n, d)``, labels ``y``) into ``directory``.

    Each file is written to a temporary name and moved into place, so a reader never sees a
    half-written array. Returns the two paths.
    """
    _check_split_name(name)
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if len(y) != X.shape[0]:
        raise ValueError(f"y has {len(y)} labels but X has {X.shape[0]} rows")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    x_path, y_path = directory / f"{name}.npy", directory / f"{name}_labels.npy"
    _atomic_save(x_path, X)
    _atomic_save(y_path, y)
    return x_path, y_path


def write_meta(directory, meta: dict) -> Path:
    """Write ``meta.json`` (must hold ``n_features``; ``classes`` for classification) atomically."""
    directory = Path(directory)
    path = directory / META
    _check_meta(meta, path)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, path)
    return path


def _atomic_save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
    os.replace(tmp, path)


def _load(path: Path, mmap_mode=None) -> np.ndarray:
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable .npy array ({exc})") from None


def _check_meta(meta, path: Path) -> None:
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: expected a JSON object")
    d = meta.get("n_features")
    if not (isinstance(d, int) and not isinstance(d, bool) and d >= 1):
        raise ValueError(f"{path}: n_features={d!r} is invalid: expected an integer >= 1")
    classes = meta.get("classes")
    if classes is not None and not (isinstance(classes, list) and classes):
        raise ValueError(f"{path}: classes={classes!r} is invalid: expected a non-empty list of names")


def _check_split_name(name: str) -> None:
    if name not in SPLITS:
        raise ValueError(f"split {name!r} is invalid: expected one of {list(SPLITS)}")
