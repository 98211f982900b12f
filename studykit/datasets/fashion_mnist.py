"""The embedded default dataset: Fashion-MNIST, found on disk without the network.

Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, MIT licence): 70,000 grayscale 28x28 photos of Zalando
products in 10 classes, 60,000 for training and 10,000 for testing. It is looked for, in order, in

1. the folder given as ``data_dir`` (or the ``STUDYKIT_DATA_DIR`` environment variable), either
   directly or in its ``fashion-mnist/`` subfolder;
2. ``/usr/share/datasets/fashion-mnist/`` (Debian's package ``dataset-fashion-mnist``);
3. the user cache, ``$XDG_CACHE_HOME/studykit/fashion-mnist`` (default ``~/.cache/...``);

and, when ``download=True`` and the network allows, fetched from the dataset's canonical location into
the cache. Each folder must hold the four IDX files (``train-images-idx3-ubyte.gz`` ...; gzipped or
not). Headers and sizes are checked, so a truncated download is an error, not a smaller dataset.

:func:`load_default` falls back to scikit-learn's bundled 8x8 digits, upsampled to 28x28, when
Fashion-MNIST cannot be found, and says so in its ``notice``.
"""

from __future__ import annotations

import gzip
import logging
import os
import urllib.request
from pathlib import Path

import numpy as np

from studykit import _io

from .arrays import ImageArrays

logger = logging.getLogger(__name__)

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
CANONICAL_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000)}


class DatasetNotFound(FileNotFoundError):
    """Fashion-MNIST is in none of the searched folders and could not be downloaded."""


def candidate_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for the IDX files, in order."""
    roots = [Path(data_dir)] if data_dir is not None else []
    if os.environ.get("STUDYKIT_DATA_DIR"):
        roots.append(Path(os.environ["STUDYKIT_DATA_DIR"]))
    dirs = [d for root in roots for d in (root, root / "fashion-mnist")]
    return dirs + [DEBIAN_DIR, cache_dir()]


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/studykit/fashion-mnist`` (``~/.cache/studykit/fashion-mnist``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "studykit" / "fashion-mnist"


def load_fashion_mnist(split: str, data_dir=None, download: bool = True) -> ImageArrays:
    """Fashion-MNIST's ``train`` (60,000) or ``test`` (10,000) split.

    Raises
    ------
    DatasetNotFound
        When no searched folder holds the files and downloading is off or fails; the message lists
        the folders searched and how to install the Debian package.
    ValueError
        When a found file is malformed (wrong magic number, size or label range).
    """
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    image_name, label_name, n = _FILES[split]
    folder = _find(image_name, label_name, data_dir)
    if folder is None and download:
        folder = _download(image_name, label_name)
    if folder is None:
        searched = ", ".join(str(d) for d in candidate_dirs(data_dir))
        raise DatasetNotFound(f"Fashion-MNIST not found (searched {searched}); install the Debian package "
                              f"dataset-fashion-mnist or put the four IDX files in one of those folders")
    images = _read_idx(_idx_path(folder, image_name), ndim=3)
    labels = _read_idx(_idx_path(folder, label_name), ndim=1).astype(np.int64)
    if len(images) != n or len(labels) != n or images.shape[1:] != (28, 28):
        raise ValueError(f"{folder}: expected {n} images of 28x28 and {n} labels for Fashion-MNIST {split}, "
                         f"found images {images.shape} and {len(labels)} labels")
    return ImageArrays(images, labels, FASHION_MNIST_CLASSES, f"fashion-mnist:{split}")


def load_default(split: str, data_dir=None, download: bool = True) -> tuple[ImageArrays, str | None]:
    """The embedded default dataset's ``split`` and a notice (None when it is Fashion-MNIST itself).

    Falls back to scikit-learn's digits (1,797 images of 8x8, upsampled to 28x28; the first 80% of
    them form ``train``, the rest ``test``) when Fashion-MNIST cannot be found; the notice says so.
    """
    try:
        return load_fashion_mnist(split, data_dir, download), None
    except DatasetNotFound as exc:
        notice = (f"{exc}. Falling back to scikit-learn's 8x8 digits upsampled to 28x28: the shipped "
                  f"default models were trained on Fashion-MNIST, so their accuracy on digits is meaningless.")
        logger.warning(notice)
        return _digits(split), notice


def _idx_path(folder: Path, name: str) -> Path:
    gz = folder / f"{name}.gz"
    return gz if gz.is_file() else folder / name


def _find(image_name: str, label_name: str, data_dir) -> Path | None:
    for folder in candidate_dirs(data_dir):
        if _idx_path(folder, image_name).is_file() and _idx_path(folder, label_name).is_file():
            return folder
    return None


def _download(image_name: str, label_name: str, timeout: float = 10.0) -> Path | None:
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in (image_name, label_name):
            target = folder / f"{name}.gz"
            if target.is_file():
                continue
            with _io.atomic_path(target, suffix=".gz") as tmp:
                with urllib.request.urlopen(CANONICAL_URL + f"{name}.gz", timeout=timeout) as response:
                    tmp.write_bytes(response.read())
                _read_idx(tmp, ndim=3 if "images" in name else 1)   # refuse a truncated or wrong file
            logger.info("downloaded %s", target)
    except (OSError, ValueError) as exc:
        logger.info("could not download Fashion-MNIST from %s: %s", CANONICAL_URL, exc)
        return None
    return folder


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes (magic 0x0000080N) into an array of ``ndim`` dimensions."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from None
    header = 4 + 4 * ndim
    if len(data) < header or data[:3] != b"\x00\x00\x08" or data[3] != ndim:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes with {ndim} dimension(s)")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(shape)):
        raise ValueError(f"{path}: {len(data) - header} bytes of data for shape {shape} (truncated?)")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _digits(split: str) -> ImageArrays:
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DatasetNotFound("Fashion-MNIST not found and scikit-learn (for the digits fallback) is not "
                              "installed; install the Debian package dataset-fashion-mnist") from None
    digits = load_digits()
    images = _upsample(digits.images)
    cut = int(0.8 * len(images))
    part = slice(0, cut) if split == "train" else slice(cut, None)
    return ImageArrays(images[part], digits.target[part].astype(np.int64),
                       tuple(str(i) for i in range(10)), f"sklearn-digits:{split}")


def _upsample(images: np.ndarray) -> np.ndarray:
    """8x8 digits with values 0..16 -> 28x28 uint8 (bilinear), as Fashion-MNIST's size."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(images.astype(np.float32) / 16.0)[:, None]
    up = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False)[:, 0]
    return (up.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
