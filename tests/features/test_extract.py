"""Extraction equals a direct forward pass; resume equals an uninterrupted run; failures are reported."""

import json

import numpy as np
import pytest
import torch

from studykit.features import FeatureStore
from studykit.features.extract import ExtractConfig, extract_features, find_layer
from studykit.features.sources import ArrayDataset, SplitSource

INFO = {"spec": "tiny", "weights_sha256": None}


def _extract(model, splits, out, **config):
    return extract_features(model, splits, out, classes=("a", "b", "c"), model_info=INFO,
                            dataset_info={"name": "toy"}, config=ExtractConfig(**config), progress=False)


def _direct(model, arrays, rows):
    x = torch.from_numpy(arrays.images[rows][:, None]).float() / 255
    with torch.no_grad():
        feats = model.pool(model.conv(x))
        return feats.numpy(), model(x).numpy()


def test_features_and_logits_equal_a_direct_forward_pass(tiny_net, arrays, splits, tmp_path):
    store = _extract(tiny_net, splits, tmp_path / "fs", batch_size=4)
    X, y = store.split("test")
    feats, logits = _direct(tiny_net, arrays, np.arange(25, 37))
    np.testing.assert_allclose(X, feats, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.load(tmp_path / "fs" / "test_logits.npy"), logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(y, arrays.labels[25:37])
    np.testing.assert_array_equal(np.load(tmp_path / "fs" / "test_index.npy"), np.arange(25, 37))
    assert isinstance(X, np.memmap)          # opened memory-mapped, not read into RAM
    dense = store.dense_layer()               # the model's own fc, as a decision layer
    np.testing.assert_allclose(dense.decision_function(np.asarray(X)), logits, rtol=1e-4, atol=1e-5)
    assert store.meta["layer"] == "input of fc" and store.meta["splits"]["train"]["rows"] == 25


def test_named_layer_output_is_average_pooled_or_flattened(tiny_net, arrays, splits, tmp_path):
    x = torch.from_numpy(arrays.images[25:37][:, None]).float() / 255
    with torch.no_grad():
        conv = tiny_net.conv(x)
    avg = _extract(tiny_net, splits, tmp_path / "avg", layer="conv").split("test")[0]
    np.testing.assert_allclose(avg, conv.mean(dim=(2, 3)).numpy(), rtol=1e-5, atol=1e-6)
    flat = _extract(tiny_net, splits, tmp_path / "flat", layer="conv", pool="flatten").split("test")[0]
    np.testing.assert_allclose(flat, conv.flatten(1).numpy(), rtol=1e-5, atol=1e-6)
    assert not (tmp_path / "avg" / "dense_layer.npz").exists()   # fc is not a layer on conv features


def test_unknown_layer_lists_the_available_names(tiny_net):
    with pytest.raises(ValueError, match=r"no layer named 'fc2'.*available: conv, pool, pool\.0.*fc"):
        find_layer(tiny_net, "fc2")


class Crash(BaseException):
    """Stands for a kill in the middle of extraction (not an Exception, so it is not caught as a bad item)."""


class CrashingDataset(ArrayDataset):
    def __init__(self, arrays, crash_at):
        super().__init__(arrays)
        self.crash_at = crash_at

    def __getitem__(self, i):
        if i == self.crash_at:
            raise Crash()
        return super().__getitem__(i)


def test_resume_after_a_crash_equals_an_uninterrupted_run(tiny_net, arrays, splits, tmp_path):
    whole = _extract(tiny_net, splits, tmp_path / "whole", batch_size=4)
    crashing = dict(splits, test=SplitSource(CrashingDataset(arrays.subset(np.arange(25, 37)), 9),
                                             "toy:all", positions=np.arange(25, 37)))
    with pytest.raises(Crash):
        _extract(tiny_net, crashing, tmp_path / "resumed", batch_size=4, checkpoint_every=1)
    progress = json.loads((tmp_path / "resumed" / ".partial" / "progress.json").read_text())
    assert progress["splits"]["train"]["complete"] and progress["splits"]["test"]["done"] == 8
    assert not (tmp_path / "resumed" / "meta.json").exists()       # an unfinished store is not a store
    resumed = _extract(tiny_net, splits, tmp_path / "resumed", batch_size=4, checkpoint_every=1)
    for name in ("train.npy", "test.npy", "test_labels.npy", "test_logits.npy", "test_index.npy"):
        np.testing.assert_array_equal(np.load(tmp_path / "whole" / name), np.load(tmp_path / "resumed" / name))
    assert not (tmp_path / "resumed" / ".partial").exists()
    assert whole.meta["splits"] == resumed.meta["splits"]


def test_refuses_to_mix_extractions_or_overwrite_a_store(tiny_net, splits, tmp_path, arrays):
    _extract(tiny_net, splits, tmp_path / "fs")
    with pytest.raises(FileExistsError, match="already holds a complete feature store"):
        _extract(tiny_net, splits, tmp_path / "fs")
    crashing = {"train": SplitSource(CrashingDataset(arrays, 3), "toy:all")}
    with pytest.raises(Crash):
        _extract(tiny_net, crashing, tmp_path / "partial", checkpoint_every=1, batch_size=2)
    with pytest.raises(ValueError, match="unfinished extraction of a different"):
        _extract(tiny_net, crashing, tmp_path / "partial", layer="conv")
    _extract(tiny_net, splits, tmp_path / "fs", overwrite=True, layer="conv")
    assert FeatureStore.open(tmp_path / "fs").meta["layer"] == "conv"


def test_tf32_is_off_during_extraction_and_restored_after(tiny_net, splits, tmp_path):
    seen = []
    tiny_net.conv.register_forward_hook(lambda *_: seen.append(torch.backends.cudnn.allow_tf32))
    saved = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = True
    try:
        _extract(tiny_net, splits, tmp_path / "fs")
        assert seen and not any(seen) and torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32 = saved
