"""The embedded default dataset: found on disk (Debian package), validated, with a clear fallback."""

import gzip

import numpy as np
import pytest

from studykit.datasets import fashion_mnist
from studykit.datasets.fashion_mnist import FASHION_MNIST_CLASSES, DatasetNotFound, load_default, load_fashion_mnist


def test_fashion_mnist_is_found_without_the_network():
    train, test = load_fashion_mnist("train", download=False), load_fashion_mnist("test", download=False)
    assert train.images.shape == (60000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert train.classes == FASHION_MNIST_CLASSES and train.name == "fashion-mnist:train"
    assert np.bincount(train.labels).tolist() == [6000] * 10 and np.bincount(test.labels).tolist() == [1000] * 10


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_a_user_folder_comes_first_and_bad_files_are_rejected(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "nowhere")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((10000, 28, 28)))
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(10000) % 10)
    test = load_fashion_mnist("test", data_dir=tmp_path, download=False)
    assert test.labels[:3].tolist() == [0, 1, 2]
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(9999) % 10)
    with pytest.raises(ValueError, match="expected 10000 images of 28x28 and 10000 labels"):
        load_fashion_mnist("test", data_dir=tmp_path, download=False)
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "rb") as handle:
        data = handle.read()
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "wb") as handle:
        handle.write(data[:-5])
    with pytest.raises(ValueError, match="truncated"):
        load_fashion_mnist("test", data_dir=tmp_path, download=False)


def test_falls_back_to_digits_with_a_notice_when_nothing_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "nowhere")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("STUDYKIT_DATA_DIR", raising=False)
    with pytest.raises(DatasetNotFound, match="install the Debian package dataset-fashion-mnist"):
        load_fashion_mnist("train", download=False)
    monkeypatch.setattr(fashion_mnist, "_download", lambda *a, **k: None)   # as without a network
    arrays, notice = load_default("train")
    assert arrays.name == "sklearn-digits:train" and arrays.images.shape[1:] == (28, 28)
    assert "Falling back to scikit-learn's 8x8 digits" in notice
