"""Image counterfactuals (issue 19, appendix F.2 / Fig. 31) on the embedded default store."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from studykit.cli import main
from studykit.interpret import counterfactual_image as cfi
from studykit.interpret.activations import load_feature_model
from studykit.interpret.images import row_array, save_png
from studykit.solver.layers import DecisionLayer

TARGET = 8  # Bag


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def stripes(size=28, period=4):
    """A textured patch: diagonal stripes."""
    i, j = np.mgrid[:size, :size]
    return (((i + j) // period) % 2).astype(np.float32)[..., None]


@pytest.fixture(scope="module")
def setup(default_stores, tmp_path_factory):
    """Images of non-target classes, a stripe pattern, and a path folder with the model's dense layer and a
    sparse layer (its 8 largest weights per class)."""
    root = tmp_path_factory.mktemp("cf_image")
    store = default_stores["standard"]
    _, y = store.split("test")
    rows = [r for r in range(len(y)) if int(y[r]) != TARGET][:12]
    for r in rows:
        save_png(row_array(store, "test", r, (1, 28, 28)), root / "images" / f"row{r:02d}.png", min_side=28)
    save_png(stripes(), root / "stripes.png", min_side=28)
    dense = dataclasses.replace(store.dense_layer(), name="dense")
    keep = np.argsort(-np.abs(dense.weight), axis=1)[:, :8]
    weight = np.zeros_like(dense.weight)
    np.put_along_axis(weight, keep, np.take_along_axis(dense.weight, keep, 1), 1)
    path = root / "path"
    dense.save(path / "layers" / "dense.npz")
    DecisionLayer(weight, dense.bias, name="sparse", classes=dense.classes).save(path / "layers" / "sparse.npz")
    return dict(store=store, root=root, path=path, n=len(rows),
                model=load_feature_model(store, "cpu"), layers={"dense": dense, "sparse": DecisionLayer.load(
                    path / "layers" / "sparse.npz")})


def test_composite_and_masks():
    x = np.full((1, 1, 2, 2), 0.2, np.float32)
    p = np.full((1, 1, 2, 2), 1.0, np.float32)
    m = np.array([[[[0.0, 0.5], [1.0, 0.25]]]], np.float32)
    np.testing.assert_allclose(cfi.composite(x, m, p), [[[[0.2, 0.6], [1.0, 0.4]]]], rtol=1e-6)
    centre = cfi.box_masks(2, (28, 28))
    assert centre.shape == (2, 1, 28, 28) and centre.sum() == 2 * 14 * 14 and centre[0, 0, 7:21, 7:21].all()
    box = cfi.box_masks(1, (28, 28), (0, 2, 5, 4))
    assert box.sum() == 10 and box[0, 0, 2:4, 0:5].all()
    with pytest.raises(ValueError, match="mask box"):
        cfi.box_masks(1, (28, 28), (5, 0, 5, 10))


def test_full_and_empty_masks_bound_the_flip_rate(setup):
    """m = 1 turns every image into the pattern: every eligible image flips to the class the layer gives the
    pattern. m = 0 changes nothing: no flips."""
    images = cfi.load_images(setup["root"] / "images", (1, 28, 28))
    pattern = cfi.load_patterns(setup["root"] / "images" / images.files[0], (1, 28, 28))
    feature = cfi.deep_features(setup["model"], pattern.pixels)
    n = len(images.files)
    for name, layer in setup["layers"].items():
        target = int(layer.predict(feature)[0])
        full = cfi.image_counterfactuals(setup["model"], {name: layer}, images, np.ones((n, 1, 28, 28), np.float32),
                                         pattern, target)
        np.testing.assert_allclose(full.counterfactuals, np.repeat(pattern.pixels, n, 0))
        rate = full.rates.iloc[0]
        assert rate["n_eligible"] >= 1 and rate["flip_rate"] == 1.0 and rate["target_rate_after"] == 1.0
        assert rate["ci_low"] < 1.0 and rate["ci_high"] == pytest.approx(1.0)
        empty = cfi.image_counterfactuals(setup["model"], {name: layer}, images, np.zeros((n, 1, 28, 28), np.float32),
                                          pattern, target)
        np.testing.assert_array_equal(empty.counterfactuals, images.pixels)
        assert empty.rates.iloc[0]["n_flipped"] == 0 and empty.rates.iloc[0]["mean_probability_change"] == 0


def test_cli_writes_rates_table_and_figure_deterministically(setup, tmp_path):
    patterns = tmp_path / "patterns"
    save_png(stripes(), patterns / "a.png", min_side=28)
    save_png(stripes(period=2), patterns / "b.png", min_side=28)
    args = ["interpret", "counterfactual-image", "--store", setup["store"].directory, "--path", setup["path"],
            "--images", setup["root"] / "images", "--pattern", patterns, "--target", "Bag", "--seed", 3]
    first = invoke(*args, "--out", tmp_path / "one")
    assert first.exit_code == 0, first.output
    assert "dense:" in first.output and "sparse:" in first.output and "eligible images flipped to Bag" in first.output
    out = tmp_path / "one"
    assert {"flip_rates.csv", "flip_rates.md", "predictions.csv", "examples.png"} <= {p.name for p in out.iterdir()}
    assert len(list((out / "counterfactuals").glob("*.png"))) == setup["n"]
    rates = pd.read_csv(out / "flip_rates.csv")
    assert list(rates["layer"]) == ["dense", "sparse"] and (rates["target"] == TARGET).all()
    assert (rates["n_images"] == setup["n"]).all()
    ok = rates["n_eligible"] > 0
    assert ((rates["ci_low"] <= rates["flip_rate"]) & (rates["flip_rate"] <= rates["ci_high"]))[ok].all()
    predictions = pd.read_csv(out / "predictions.csv")
    assert set(predictions["pattern"]) <= {"a.png", "b.png"} and len(predictions) == 2 * setup["n"]
    for row in rates.itertuples():
        mine = predictions[predictions["layer"] == row.layer]
        assert row.n_flipped == int((mine["eligible"] & (mine["counterfactual"] == TARGET)).sum())
    assert "| dense |" in (out / "flip_rates.md").read_text()
    with Image.open(out / "examples.png") as figure:
        assert figure.width > 400 and figure.height > 200
    # the same seed gives the same files; an existing result is not overwritten silently
    again = invoke(*args, "--out", tmp_path / "two", "-q")
    assert again.exit_code == 0 and again.output == ""
    for name in ("flip_rates.csv", "predictions.csv"):
        assert (tmp_path / "one" / name).read_text() == (tmp_path / "two" / name).read_text()
    refused = invoke(*args, "--out", tmp_path / "one")
    assert refused.exit_code == 1 and "--overwrite" in refused.output


def test_masks_folder_and_box(setup, tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    for name in sorted(p.name for p in (setup["root"] / "images").iterdir()):
        mask = np.zeros((28, 28, 1), np.float32)
        mask[:14] = 1.0  # top half
        save_png(mask, masks / name, min_side=28)
    base = ["interpret", "counterfactual-image", "--path", setup["path"], "--store", setup["store"].directory,
            "--images", setup["root"] / "images", "--pattern", setup["root"] / "stripes.png", "--target", TARGET]
    from_folder = invoke(*base, "--masks", masks, "--out", tmp_path / "folder")
    from_box = invoke(*base, "--mask-box", "0,0,28,14", "--out", tmp_path / "box")
    assert from_folder.exit_code == 0 and from_box.exit_code == 0, from_folder.output + from_box.output
    a, b = (pd.read_csv(tmp_path / d / "predictions.csv") for d in ("folder", "box"))
    np.testing.assert_allclose(a["mask_area"], 0.5)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("extra, message", [
    (["--masks", "MASKS", "--mask-box", "0,0,4,4"], "not both"),
    (["--mask-box", "1,2,3"], "four integers"),
    (["--mask-box", "0,0,40,4"], "mask box"),
    (["--target", "Spaceship"], "is not a class"),
    (["--masks", "MASKS"], "no mask for image"),
])
def test_errors_are_one_line(setup, tmp_path, extra, message):
    (tmp_path / "MASKS").mkdir()
    save_png(np.ones((28, 28, 1)), tmp_path / "MASKS" / "other.png", min_side=28)
    extra = [str(tmp_path / "MASKS") if e == "MASKS" else e for e in extra]
    args = ["interpret", "counterfactual-image", "--path", setup["path"], "--store", setup["store"].directory,
            "--images", setup["root"] / "images", "--pattern", setup["root"] / "stripes.png", "--out", tmp_path / "o"]
    if "--target" not in extra:
        args += ["--target", TARGET]
    result = invoke(*args, *extra)
    assert result.exit_code == 1 and message in result.output, result.output


def test_missing_layers_name_the_select_step(setup, tmp_path):
    result = invoke("interpret", "counterfactual-image", "--path", tmp_path, "--store", setup["store"].directory,
                    "--images", setup["root"] / "images", "--pattern", setup["root"] / "stripes.png",
                    "--target", TARGET, "--out", tmp_path / "o")
    assert result.exit_code == 1 and "studykit solve select" in result.output
