"""ImageNet- and Places-style data: flat folders with a labels file, class names files, synsets in meta.json."""

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from studykit.cli import main
from studykit.features import FeatureStore
from studykit.features.images import row_source
from studykit.features.labels import read_class_names, read_labels

SYNSETS = "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\nn01484850 great white shark\n"
PLACES = "/a/airfield 0\n/b/butchers_shop 1\n/c/church/outdoor 2\n"


def test_class_names_files(tmp_path):
    (tmp_path / "synsets.txt").write_text(SYNSETS)
    imagenet = read_class_names(tmp_path / "synsets.txt")
    assert imagenet.names == ("tench, Tinca tinca", "goldfish, Carassius auratus", "great white shark")
    assert imagenet.ids == ("n01440764", "n01443537", "n01484850")
    assert imagenet.index("n01443537", "x") == 1 and imagenet.index("2", "x") == 2
    (tmp_path / "places.txt").write_text("/c/church/outdoor 2\n/a/airfield 0\n/b/butchers_shop 1\n")
    places = read_class_names(tmp_path / "places.txt")
    assert places.names == ("airfield", "butchers shop", "church-outdoor")
    assert places.ids == ("/a/airfield", "/b/butchers_shop", "/c/church/outdoor")
    assert [places.index(k, "x") for k in ("church_outdoor", "/b/butchers_shop", "airfield")] == [2, 1, 0]
    (tmp_path / "plain.txt").write_text("cat\n\ndog\n")
    assert read_class_names(tmp_path / "plain.txt").names == ("cat", "dog")
    with pytest.raises(ValueError, match=r"where.csv:7: label 'zebra' is not a class of .*plain.txt"):
        read_class_names(tmp_path / "plain.txt").index("zebra", "where.csv:7")
    with pytest.raises(ValueError, match="label 5 is out of range for 2 classes"):
        read_class_names(tmp_path / "plain.txt").index("5", "here")
    (tmp_path / "gap.txt").write_text("/a/airfield 0\n/b/bar 2\n")
    with pytest.raises(ValueError, match=r"gap.txt: label indices must be 0..1"):
        read_class_names(tmp_path / "gap.txt")


def test_labels_files(tmp_path):
    (tmp_path / "LOC_val_solution.csv").write_text(
        "ImageId,PredictionString\nILSVRC2012_val_00000002,n01443537 1 2 3 4 n01443537 5 6 7 8\n"
        "ILSVRC2012_val_00000001,n01440764 10 20 30 40\n")
    assert read_labels(tmp_path / "LOC_val_solution.csv") == {"ILSVRC2012_val_00000002": ("n01443537", 2),
                                                              "ILSVRC2012_val_00000001": ("n01440764", 3)}
    (tmp_path / "val.txt").write_text("ILSVRC2012_val_00000001.JPEG 65\n\nILSVRC2012_val_00000002.JPEG 970\n")
    assert read_labels(tmp_path / "val.txt")["ILSVRC2012_val_00000002.JPEG"] == ("970", 3)
    (tmp_path / "plain.csv").write_text("a.jpg,1\nb.jpg,0\n")        # no header
    assert read_labels(tmp_path / "plain.csv") == {"a.jpg": ("1", 1), "b.jpg": ("0", 2)}
    (tmp_path / "three.txt").write_text("a.jpg 1\nb.jpg 0 extra\n")
    with pytest.raises(ValueError, match=r"three.txt:2: expected 'file label' \(two fields\), found 3"):
        read_labels(tmp_path / "three.txt")
    (tmp_path / "twice.txt").write_text("a.jpg 1\na.jpg 0\n")
    with pytest.raises(ValueError, match=r"twice.txt:2: a.jpg is labelled twice \(1 and 0\)"):
        read_labels(tmp_path / "twice.txt")


def _images(folder, names, rng):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(folder / name)


@pytest.fixture
def factory(tmp_path, monkeypatch):
    (tmp_path / "zoo.py").write_text(
        "import torch.nn as nn\n"
        "def net():\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),"
        " nn.Linear(4, 3))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return ["features", "extract", "--model", "zoo:net", "--image-size", "16", "--batch-size", "4"]


def test_imagenet_layout_train_folders_and_a_flat_test_folder_with_labels(tmp_path, factory):
    rng = np.random.default_rng(0)
    root = tmp_path / "imagenet"
    for synset in ("n01440764", "n01443537", "n01484850"):
        _images(root / "train" / synset, [f"{synset}_{i}.JPEG" for i in range(3)], rng)
    _images(root / "test", [f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, 6)], rng)
    truth = ["n01484850", "n01440764", "n01443537", "n01484850", "n01440764"]
    (tmp_path / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n" + "".join(
        f"ILSVRC2012_val_{i:08d},{s} 1 2 3 4\n" for i, s in enumerate(truth, 1)))
    (tmp_path / "LOC_synset_mapping.txt").write_text(SYNSETS)
    result = CliRunner().invoke(main, factory + ["--data", str(root), "--labels", str(tmp_path / "LOC_val_solution.csv"),
                                                 "--class-names", str(tmp_path / "LOC_synset_mapping.txt"),
                                                 "--out", str(tmp_path / "fs"), "--val-fraction", "0.2"])
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(tmp_path / "fs")
    assert store.classes[0] == "tench, Tinca tinca"
    assert store.meta["dataset"]["synsets"] == ["n01440764", "n01443537", "n01484850"]
    _, y = store.split("test")
    assert y.tolist() == [2, 0, 1, 2, 0]
    assert row_source(store, "test", 3) == "test/ILSVRC2012_val_00000004.JPEG"
    for split in ("train", "val"):
        _, y = store.split(split)
        assert [row_source(store, split, r).split("/")[1] for r in range(len(y))] == \
            [store.meta["dataset"]["synsets"][c] for c in y]
    assert store.meta["splits"]["train"]["rows"] + store.meta["splits"]["val"]["rows"] == 9


def test_a_flat_folder_with_index_labels_and_places_folders_mapped_by_name(tmp_path, factory):
    rng = np.random.default_rng(1)
    _images(tmp_path / "flat", [f"{i}.png" for i in range(6)], rng)
    (tmp_path / "val.txt").write_text("".join(f"{i}.png {i % 3}\n" for i in range(6)))
    result = CliRunner().invoke(main, factory + ["--data", str(tmp_path / "flat"), "--labels",
                                                 str(tmp_path / "val.txt"), "--out", str(tmp_path / "fs1")])
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(tmp_path / "fs1")
    assert store.classes == ("0", "1", "2")
    rows = {row_source(store, s, r): int(store.split(s)[1][r]) for s in ("train", "val")
            for r in range(len(store.split(s)[1]))}
    assert rows == {f"{i}.png": i % 3 for i in range(6)}
    # Places: class folders named as the categories file's ids, whose order is not the folders' sorted order
    for name in ("church_outdoor", "airfield", "butchers_shop"):
        _images(tmp_path / "places" / "train" / name, [f"{name}{i}.jpg" for i in range(2)], rng)
    (tmp_path / "categories_places365.txt").write_text("/c/church/outdoor 0\n/a/airfield 1\n/b/butchers_shop 2\n")
    result = CliRunner().invoke(main, factory + ["--data", str(tmp_path / "places"), "--class-names",
                                                 str(tmp_path / "categories_places365.txt"), "--out",
                                                 str(tmp_path / "fs2"), "--val-fraction", "0"])
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(tmp_path / "fs2")
    assert store.classes == ("church-outdoor", "airfield", "butchers shop")
    _, y = store.split("train")
    folders = [row_source(store, "train", r).split("/")[1] for r in range(len(y))]
    ids = {"church_outdoor": "/c/church/outdoor", "airfield": "/a/airfield", "butchers_shop": "/b/butchers_shop"}
    assert [store.meta["dataset"]["synsets"][c] for c in y] == [ids[f] for f in folders]
    assert sorted(y.tolist()) == [0, 0, 1, 1, 2, 2]


def test_flat_folder_errors(tmp_path, factory):
    rng = np.random.default_rng(2)
    _images(tmp_path / "flat", ["a.png", "b.png", "c.png"], rng)
    (tmp_path / "labels.txt").write_text("a.png 0\n")
    out = ["--out", str(tmp_path / "fs")]
    missing = CliRunner().invoke(main, factory + ["--data", str(tmp_path / "flat"), "--labels",
                                                  str(tmp_path / "labels.txt")] + out)
    assert missing.exit_code == 1
    assert f"{tmp_path / 'flat'}: 2 of 3 images have no label in the labels files (first: b.png, c.png)" in missing.output
    (tmp_path / "labels.txt").write_text("a.png 0\nb.png 1\nc.png zebra\n")
    (tmp_path / "names.txt").write_text("cat\ndog\n")
    unknown = CliRunner().invoke(main, factory + ["--data", str(tmp_path / "flat"), "--labels",
                                                  str(tmp_path / "labels.txt"), "--class-names",
                                                  str(tmp_path / "names.txt")] + out)
    assert unknown.exit_code == 1 and f"labels.txt:3: label 'zebra' is not a class of {tmp_path / 'names.txt'}" \
        in unknown.output
    (tmp_path / "data" / "train").mkdir(parents=True)
    _images(tmp_path / "data" / "train", ["x.png"], rng)
    unlabelled = CliRunner().invoke(main, factory + ["--data", str(tmp_path / "data")] + out)
    assert unlabelled.exit_code == 1 and "holds images directly (a flat folder) but no labels file" in unlabelled.output
