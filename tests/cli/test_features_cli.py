"""``studykit features``: the embedded default, user models on image folders, one-line errors."""

import numpy as np
from click.testing import CliRunner
from PIL import Image

from studykit.cli import main
from studykit.datasets import load_fashion_mnist
from studykit.features import FeatureStore
from studykit.features.images import row_image


def test_features_default_writes_both_stores_that_map_rows_to_images(tmp_path):
    result = CliRunner().invoke(main, ["features", "default", "--out", str(tmp_path), "--limit", "64",
                                       "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "standard: 128 features" in result.output.replace(str(tmp_path) + "/", "")
    train = load_fashion_mnist("train", download=False)
    for name in ("standard", "robust"):
        store = FeatureStore.open(tmp_path / name)
        assert store.meta["model"]["spec"] == f"default:{name}" and store.meta["layer"] == "input of fc"
        X, y = store.split("val")
        assert X.shape == (64, 128) and store.dense_layer().n_features == 128
        index = np.load(tmp_path / name / "val_index.npy")
        assert train.labels[index].tolist() == y.tolist()
        np.testing.assert_array_equal(np.asarray(row_image(store, "val", 5)), train.images[index[5]])
    again = CliRunner().invoke(main, ["features", "default", "--out", str(tmp_path), "--limit", "64"])
    assert again.exit_code == 1                                   # complete stores are not replaced silently
    existing = tmp_path / "standard" / "meta.json"
    assert again.output == f"Error: {existing} already exists; pass --overwrite to replace it\n"


def test_features_extract_with_a_factory_model_on_an_image_folder(tmp_path, monkeypatch):
    (tmp_path / "zoo.py").write_text(
        "import torch.nn as nn\n"
        "def net():\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),"
        " nn.Linear(4, 2))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    rng = np.random.default_rng(0)
    for cls in ("left", "right"):
        (tmp_path / "data" / "train" / cls).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(
                tmp_path / "data" / "train" / cls / f"{i}.jpg")
    args = ["features", "extract", "--model", "zoo:net", "--data", str(tmp_path / "data"), "--out",
            str(tmp_path / "fs"), "--image-size", "32", "--val-fraction", "0.2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(tmp_path / "fs")
    assert store.n_features == 4 and store.classes == ("left", "right")
    assert store.meta["splits"]["train"]["rows"] == 8 and store.meta["splits"]["val"]["rows"] == 2
    bad = CliRunner().invoke(main, args[:-4] + ["--out", str(tmp_path / "fs2"), "--layer", "7"])
    assert bad.exit_code == 1
    assert bad.output.strip() == "Error: no layer named '7' in the model; available: 0, 1, 2, 3, 4"
    missing = CliRunner().invoke(main, ["features", "extract", "--model", "zoo:net", "--data",
                                        str(tmp_path / "nodata"), "--out", str(tmp_path / "fs3")])
    assert missing.exit_code == 1 and "expected a folder with train/" in missing.output
