"""``studykit interpret ...`` end to end with click's CliRunner on tiny stores and hand-made paths."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from PIL import Image

from interpret_toys import CF_TARGET, counterfactual_inputs, encode, stripes
from cli_runner import invoke, ok
from studykit.features import FeatureStore
from studykit.features.text import extract_text
from studykit.interpret.images import save_png
from studykit.solver.layers import DecisionLayer
from studykit.solver.results import PathResult


def save_path(directory, store_dir, n_features, coefs):
    """A hand-made path over ``store_dir`` (two classes), saved as `studykit solve path` would."""
    alphas = np.linspace(1.0, 0.1, len(coefs))
    PathResult(alphas, [sp.csr_matrix(np.array(c, float)) for c in coefs], np.zeros((len(coefs), 2)),
               np.zeros(n_features), np.ones(n_features), pd.DataFrame({"index": range(len(coefs))}),
               {"features_dir": str(store_dir)}, ("neg", "pos")).save(directory)
    return directory


def test_fv_writes_pictures_and_activations(default_stores, tmp_path):
    store = default_stores["robust"].directory
    result = ok("interpret", "fv", store, "--features", "0-2,5", "--method", "pixel", "--steps", "3",
                "--out", tmp_path / "fv")
    assert "4 feature visualizations" in result.output
    assert sorted(p.name for p in (tmp_path / "fv").iterdir()) == [
        "activations.csv", "feature_0.png", "feature_1.png", "feature_2.png", "feature_5.png"]
    table = pd.read_csv(tmp_path / "fv" / "activations.csv")
    assert table["feature"].tolist() == [0, 1, 2, 5] and (table["sign"] == 1).all()


@pytest.mark.parametrize("args, message", [
    (["--features", "0", "--method", "pixel", "--lr", "0.1"], "--lr and --tv-weight apply to --method lucid"),
    (["--features", "200"], "expected indices in 0..127"),
    (["--features", "a-b"], "'a-b' is not an index"),
    (["--features", "0", "--steps", "0"], "steps=0 is invalid"),
])
def test_fv_errors_are_one_line(default_stores, tmp_path, args, message):
    result = invoke("interpret", "fv", default_stores["robust"].directory, *args, "--out", tmp_path)
    assert result.exit_code == 1 and message in result.output


def test_lime_writes_top_and_bottom_prototypes(default_stores, tmp_path):
    ok("interpret", "lime", default_stores["standard"].directory, "--features", "3", "--k", "2",
       "--num-samples", "30", "--n-segments", "8", "--out", tmp_path)
    table = pd.read_csv(tmp_path / "lime.csv")
    assert table[["which", "rank"]].values.tolist() == [["top", 1], ["top", 2], ["bottom", 1], ["bottom", 2]]
    assert table["activation"].iloc[0] >= table["activation"].iloc[1] >= table["activation"].iloc[3]
    assert (tmp_path / "feature_3_bottom_2.png").is_file() and (tmp_path / "feature_3_top_1.csv").is_file()


def test_order_draws_each_class(default_stores, tmp_path):
    store = default_stores["robust"]
    coefs = np.zeros((3, 2, store.n_features))
    coefs[1:, 0, 7] = 1.0
    coefs[2, 0, 3] = -0.5
    coefs[2, 1, 9] = 0.2
    path_dir = save_path(tmp_path / "path", store.directory, store.n_features, coefs)
    result = ok("interpret", "order", path_dir, "--kind", "top", "--kind", "fv", "--method", "pixel",
                "--steps", "2", "--out", tmp_path / "order")
    assert "3 files" in result.output
    table = pd.read_csv(tmp_path / "order" / "feature_order.csv")
    assert table[table["class"] == "neg"]["feature"].tolist() == [7, 3]
    assert (tmp_path / "order" / "order_1.png").is_file() and any((tmp_path / "order" / "cache").iterdir())


@pytest.fixture(scope="module")
def text_store(tmp_path_factory):
    sentences = ["A great movie.", "Great fun!", "Dull and boring.", "An awful, dull movie.", "Superb fun.",
                 "Boring, boring movie.", "great", "awful"]
    labels = [1, 1, 0, 0, 1, 0, 1, 0]
    return extract_text(encode, {"train": (sentences, labels), "test": (sentences[:6], labels[:6])},
                        tmp_path_factory.mktemp("text") / "store", classes=("rotten", "fresh"),
                        model_info={"spec": "interpret_toys:bag_of_words"}, dataset_info={"name": "toy"},
                        progress=False)


def test_wordcloud_then_counterfactual(text_store, tmp_path):
    ok("interpret", "wordcloud", text_store.directory, "--features", "all", "--split", "train",
       "--num-samples", "100", "--out", tmp_path / "clouds")
    positive = pd.read_csv(tmp_path / "clouds" / "feature_0_positive.csv")
    assert positive["word"].iloc[0] == "great"           # feature 0 counts "great"
    assert (tmp_path / "clouds" / "explanations.csv.gz").is_file()
    path_dir = save_path(tmp_path / "path", text_store.directory, 7, np.zeros((2, 2, 7)))
    weight = np.array([[-1, -.5, 1, 1, -.5, 1, 0], [1, .5, -1, -1, .5, -1, 0]])
    DecisionLayer(weight, np.zeros(2), name="dense").save(path_dir / "layers" / "dense.npz")
    DecisionLayer(weight * [1, 0, 0, 0, 0, 0, 0], np.array([0, 0.1])).save(path_dir / "layers" / "sparse.npz")
    result = ok("interpret", "counterfactual", path_dir, "--clouds", tmp_path / "clouds", "--out", tmp_path / "cf")
    assert "dense:" in result.output and "sparse:" in result.output
    flips = pd.read_csv(tmp_path / "cf" / "counterfactuals.csv")
    sparse = flips[flips["layer"] == "sparse"].set_index("sentence")
    assert sparse.loc[0, "counterfactual"] != "A great movie." and sparse.loc[0, "word"] == "great"
    rates = pd.read_csv(tmp_path / "cf" / "flip_rates.csv")
    assert rates["n_sentences"].tolist() == [6, 6]


def test_counterfactual_needs_clouds_of_used_features(text_store, tmp_path):
    path_dir = save_path(tmp_path / "path", text_store.directory, 7, np.zeros((2, 2, 7)))
    for name in ("dense", "sparse"):
        DecisionLayer(np.ones((2, 7)), np.zeros(2), name=name).save(path_dir / "layers" / f"{name}.npz")
    result = invoke("interpret", "counterfactual", path_dir, "--clouds", tmp_path, "--out", tmp_path / "cf")
    assert result.exit_code == 1 and "feature_0_words.csv: missing" in result.output


def test_rotten_tomatoes_store(tmp_path):
    result = ok("interpret", "rotten-tomatoes", "--out", tmp_path / "rt", "--encoder", "interpret_toys:bag_of_words",
                "--limit", "5")
    assert "7 features; train 5, val 5, test 5 sentences" in result.output
    store = FeatureStore.open(tmp_path / "rt")
    assert store.classes == ("rotten", "fresh") and store.meta["model"]["spec"] == "interpret_toys:bag_of_words"


# ---------------------------------------------------------------------------------------------
# counterfactual-image (issue 19, appendix F.2 / Fig. 31)
@pytest.fixture(scope="module")
def cf_image(default_stores, tmp_path_factory):
    return counterfactual_inputs(default_stores["standard"], tmp_path_factory.mktemp("cf_image_cli"))


def test_counterfactual_image_writes_rates_table_and_figure_deterministically(cf_image, tmp_path):
    patterns = tmp_path / "patterns"
    save_png(stripes(), patterns / "a.png", min_side=28)
    save_png(stripes(period=2), patterns / "b.png", min_side=28)
    args = ["interpret", "counterfactual-image", "--store", cf_image["store"].directory, "--path", cf_image["path"],
            "--images", cf_image["root"] / "images", "--pattern", patterns, "--target", "Bag", "--seed", 3]
    first = invoke(*args, "--out", tmp_path / "one")
    assert first.exit_code == 0, first.output
    assert "dense:" in first.output and "sparse:" in first.output and "eligible images flipped to Bag" in first.output
    out = tmp_path / "one"
    assert {"flip_rates.csv", "flip_rates.md", "predictions.csv", "examples.png"} <= {p.name for p in out.iterdir()}
    assert len(list((out / "counterfactuals").glob("*.png"))) == cf_image["n"]
    rates = pd.read_csv(out / "flip_rates.csv")
    assert list(rates["layer"]) == ["dense", "sparse"] and (rates["target"] == CF_TARGET).all()
    assert (rates["n_images"] == cf_image["n"]).all()
    ok = rates["n_eligible"] > 0
    assert ((rates["ci_low"] <= rates["flip_rate"]) & (rates["flip_rate"] <= rates["ci_high"]))[ok].all()
    predictions = pd.read_csv(out / "predictions.csv")
    assert set(predictions["pattern"]) <= {"a.png", "b.png"} and len(predictions) == 2 * cf_image["n"]
    for row in rates.itertuples():
        mine = predictions[predictions["layer"] == row.layer]
        assert row.n_flipped == int((mine["eligible"] & (mine["counterfactual"] == CF_TARGET)).sum())
    assert "| dense |" in (out / "flip_rates.md").read_text()
    with Image.open(out / "examples.png") as figure:
        assert figure.width > 400 and figure.height > 200
    # the same seed gives the same files; an existing result is not overwritten silently
    again = invoke(*args, "--out", tmp_path / "two", "-q")
    assert again.exit_code == 0 and "eligible images flipped to Bag" in again.output  # -q keeps the results
    for name in ("flip_rates.csv", "predictions.csv"):
        assert (tmp_path / "one" / name).read_text() == (tmp_path / "two" / name).read_text()
    refused = invoke(*args, "--out", tmp_path / "one")
    assert refused.exit_code == 1 and "--overwrite" in refused.output


def test_counterfactual_image_masks_folder_and_box(cf_image, tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    for name in sorted(p.name for p in (cf_image["root"] / "images").iterdir()):
        mask = np.zeros((28, 28, 1), np.float32)
        mask[:14] = 1.0  # top half
        save_png(mask, masks / name, min_side=28)
    base = ["interpret", "counterfactual-image", "--path", cf_image["path"], "--store", cf_image["store"].directory,
            "--images", cf_image["root"] / "images", "--pattern", cf_image["root"] / "stripes.png", "--target", CF_TARGET]
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
def test_counterfactual_image_errors_are_one_line(cf_image, tmp_path, extra, message):
    (tmp_path / "MASKS").mkdir()
    save_png(np.ones((28, 28, 1)), tmp_path / "MASKS" / "other.png", min_side=28)
    extra = [str(tmp_path / "MASKS") if e == "MASKS" else e for e in extra]
    args = ["interpret", "counterfactual-image", "--path", cf_image["path"], "--store", cf_image["store"].directory,
            "--images", cf_image["root"] / "images", "--pattern", cf_image["root"] / "stripes.png", "--out", tmp_path / "o"]
    if "--target" not in extra:
        args += ["--target", CF_TARGET]
    result = invoke(*args, *extra)
    assert result.exit_code == 1 and message in result.output, result.output


def test_counterfactual_image_missing_layers_name_the_select_step(cf_image, tmp_path):
    result = invoke("interpret", "counterfactual-image", "--path", tmp_path, "--store", cf_image["store"].directory,
                    "--images", cf_image["root"] / "images", "--pattern", cf_image["root"] / "stripes.png",
                    "--target", CF_TARGET, "--out", tmp_path / "o")
    assert result.exit_code == 1 and "studykit solve select" in result.output
