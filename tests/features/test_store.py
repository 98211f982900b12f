"""The feature store reader: the folder contract of DESIGN.md (memory-mapped splits, meta.json)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from studykit.features import FeatureStore, write_meta, write_split


@pytest.fixture
def store_dir(tmp_path):
    rng = np.random.default_rng(0)
    write_meta(tmp_path, {"n_features": 4, "classes": ["cat", "dog", "eel"], "model": "toy", "layer": "fc"})
    write_split(tmp_path, "train", rng.normal(size=(20, 4)), rng.integers(0, 3, 20))
    write_split(tmp_path, "test", rng.normal(size=(6, 4)), rng.integers(0, 3, 6))
    return tmp_path


def test_round_trip_is_memory_mapped_float32(store_dir):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 4)), rng.integers(0, 3, 20)
    store = FeatureStore.open(store_dir)
    Xs, ys = store.split("train")
    assert isinstance(Xs, np.memmap) and Xs.dtype == np.float32 and not Xs.flags.writeable
    np.testing.assert_array_equal(Xs, X.astype(np.float32))
    np.testing.assert_array_equal(ys, y)
    assert store.meta["model"] == "toy" and store.n_features == 4
    assert store.classes == ("cat", "dog", "eel")
    assert not list(store_dir.glob("*.tmp"))


def test_optional_splits(store_dir):
    store = FeatureStore.open(store_dir)
    assert store.has("train") and store.has("test") and not store.has("val")
    with pytest.raises(FileNotFoundError, match=r"val\.npy"):
        store.split("val")
    with pytest.raises(ValueError, match="split 'dev'"):
        store.has("dev")


def test_half_written_split_names_the_missing_file(store_dir):
    (store_dir / "test_labels.npy").unlink()
    store = FeatureStore.open(store_dir)
    assert store.has("test")
    with pytest.raises(FileNotFoundError, match="test_labels.npy"):
        store.split("test")


def test_label_count_must_match_rows(store_dir):
    np.save(store_dir / "train_labels.npy", np.zeros(19, dtype=np.int64))
    with pytest.raises(ValueError, match=r"train_labels\.npy.*19 labels.*20 rows"):
        FeatureStore.open(store_dir).split("train")


def test_feature_count_must_match_meta(store_dir):
    np.save(store_dir / "test.npy", np.zeros((6, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"test\.npy.*5 features.*n_features=4"):
        FeatureStore.open(store_dir).split("test")


def test_meta_is_required_and_validated(tmp_path):
    with pytest.raises(FileNotFoundError, match="meta.json"):
        FeatureStore.open(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        FeatureStore.open(tmp_path / "nowhere")
    (tmp_path / "meta.json").write_text(json.dumps({"n_features": "many"}))
    with pytest.raises(ValueError, match="n_features='many'"):
        FeatureStore.open(tmp_path)
    (tmp_path / "meta.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        FeatureStore.open(tmp_path)
    assert FeatureStore.open(_with_meta(tmp_path, {"n_features": 3})).classes is None


def _with_meta(directory, meta):
    (directory / "meta.json").write_text(json.dumps(meta))
    return directory


def test_write_split_rejects_mismatched_lengths(tmp_path):
    with pytest.raises(ValueError, match="3 labels but X has 2 rows"):
        write_split(tmp_path, "train", np.zeros((2, 4)), np.zeros(3))
    with pytest.raises(ValueError, match="split 'training'"):
        write_split(tmp_path, "training", np.zeros((2, 4)), np.zeros(2))


def test_dense_layer(store_dir):
    from studykit.solver import DecisionLayer

    store = FeatureStore.open(store_dir)
    assert store.dense_layer() is None
    layer = DecisionLayer(np.ones((3, 4), np.float32), np.zeros(3, np.float32), name="dense",
                          source="model final Linear")
    layer.save(store_dir / "dense_layer.npz")
    loaded = store.dense_layer()
    np.testing.assert_array_equal(loaded.weight, layer.weight)
    assert loaded.source == "model final Linear"
    DecisionLayer(np.ones((3, 5)), np.zeros(3)).save(store_dir / "dense_layer.npz")
    with pytest.raises(ValueError, match="5 features"):
        store.dense_layer()


def test_import_is_cheap():
    code = "import sys, studykit.features; assert 'torch' not in sys.modules and 'pandas' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
