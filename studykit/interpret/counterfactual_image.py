"""Image counterfactuals from a spurious pattern (appendix F.2, Figure 31).

Starting from a correlation between a data pattern and a target class (e.g. "water" and "snorkel"),
the pattern is pasted into images of other classes, weighted by a mask::

    x' = m * pattern + (1 - m) * x          (per pixel; m in [0, 1], the pattern resized to the image)

and the model, with its dense and with its sparse decision layer, is run on ``x`` and ``x'``. A
counterfactual *flips to the target* when the layer's prediction on ``x`` is another class and on
``x'`` is the target; the flip rate is taken over the images not already predicted as the target,
with a Wilson score interval.

Images are read from a folder and preprocessed as for extraction (resize, centre crop, channels;
:func:`studykit.features.default.image_transform`), so ``x`` is exactly what the model sees. Masks
are grayscale images with the same file stem (white = pattern), or boxes (:func:`box_masks`). With
several patterns (a folder), image ``i`` gets pattern ``rng.integers(n_patterns)`` with
``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from studykit._io import atomic_path, write_text
from studykit.solver.layers import DecisionLayer

#: File suffixes read as images.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: Columns of :func:`predict_counterfactuals`.
PREDICTION_COLUMNS = ("image", "file", "pattern", "mask_area", "layer", "original", "counterfactual",
                      "original_target_probability", "counterfactual_target_probability", "eligible",
                      "flipped_to_target")
#: Columns of :func:`flip_rates`.
RATE_COLUMNS = ("layer", "target", "n_images", "n_eligible", "n_flipped", "flip_rate", "ci_low", "ci_high",
                "target_rate_before", "target_rate_after", "mean_probability_change")


@dataclass(frozen=True)
class ImageSet:
    """Images ``(n, C, H, W)`` floats in [0, 1] and the file names they came from."""

    files: tuple[str, ...]
    pixels: np.ndarray


def image_files(directory, what: str = "images") -> list[Path]:
    """The image files directly in ``directory``, sorted by name; raises ``ValueError`` when there are none."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{what}: {directory} is not a folder")
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{what}: {directory} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    return files


def _open(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            picture.load()
            return picture.copy()
    except (OSError, UnidentifiedImageError) as exc:
        raise ValueError(f"{path}: not a readable image ({exc})") from None


def load_images(directory, input_shape: Sequence[int]) -> ImageSet:
    """Every image of ``directory``, preprocessed to ``input_shape`` ``(C, H, W)`` as for extraction."""
    from studykit.features.default import image_transform

    channels, height, width = input_shape
    if height != width:
        raise ValueError(f"input_shape={tuple(input_shape)!r}: only square model inputs are supported")
    transform = image_transform(height, channels)
    files = image_files(directory)
    pixels = np.stack([transform(_open(f)).numpy() for f in files]).astype(np.float32)
    return ImageSet(tuple(f.name for f in files), pixels)


def load_patterns(source, input_shape: Sequence[int]) -> ImageSet:
    """The pattern file, or every image of the pattern folder, resized (whole, not cropped) to
    ``(H, W)`` of ``input_shape`` and converted to its channels."""
    from PIL import Image

    channels, height, width = input_shape
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"--pattern {source}: no such file or folder")
    files = image_files(source, "patterns") if source.is_dir() else [source]
    arrays = []
    for f in files:
        picture = _open(f).convert("L" if channels == 1 else "RGB").resize((width, height), Image.Resampling.BILINEAR)
        array = np.asarray(picture, dtype=np.float32) / 255.0
        arrays.append(array[None] if channels == 1 else array.transpose(2, 0, 1))
    return ImageSet(tuple(f.name for f in files), np.stack(arrays))


def load_masks(directory, files: Sequence[str], size: tuple[int, int]) -> np.ndarray:
    """Masks ``(n, 1, H, W)`` in [0, 1] for the image ``files``: ``directory/<stem>.*`` as grayscale
    (255 = pattern), resized to ``size`` ``(H, W)``. Raises ``ValueError`` naming an image without a mask."""
    from PIL import Image

    by_stem = {p.stem: p for p in image_files(directory, "masks")}
    masks = []
    for name in files:
        path = by_stem.get(Path(name).stem)
        if path is None:
            raise ValueError(f"masks: {directory} has no mask for image {name} (expected {Path(name).stem}.png)")
        picture = _open(path).convert("L").resize((size[1], size[0]), Image.Resampling.BILINEAR)
        masks.append(np.asarray(picture, dtype=np.float32)[None] / 255.0)
    return np.stack(masks)


def box_masks(n: int, size: tuple[int, int], box: Sequence[int] | None = None) -> np.ndarray:
    """``n`` identical 0/1 masks ``(n, 1, H, W)``: ones on ``box`` ``(x0, y0, x1, y1)`` (pixels of the
    model input, ``x1``/``y1`` exclusive), by default the centre square of half the image's side."""
    height, width = size
    if box is None:
        side_h, side_w = max(1, height // 2), max(1, width // 2)
        y0, x0 = (height - side_h) // 2, (width - side_w) // 2
        box = (x0, y0, x0 + side_w, y0 + side_h)
    x0, y0, x1, y1 = (int(v) for v in box)
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise ValueError(f"mask box {tuple(box)} is invalid: expected 0 <= x0 < x1 <= {width} and "
                         f"0 <= y0 < y1 <= {height} (pixels of the {width}x{height} model input)")
    mask = np.zeros((1, 1, height, width), dtype=np.float32)
    mask[..., y0:y1, x0:x1] = 1.0
    return np.repeat(mask, n, axis=0)


def assign_patterns(n_images: int, n_patterns: int, seed: int) -> np.ndarray:
    """Which pattern each image gets: all 0 for one pattern, else seeded uniform draws."""
    if n_patterns == 1:
        return np.zeros(n_images, dtype=np.int64)
    return np.random.default_rng(seed).integers(n_patterns, size=n_images)


def composite(images: np.ndarray, masks: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """``masks * patterns + (1 - masks) * images`` (all broadcast to ``(n, C, H, W)``)."""
    masks = np.clip(masks, 0.0, 1.0)
    return (masks * patterns + (1.0 - masks) * images).astype(np.float32)


@torch.no_grad()
def deep_features(model: torch.nn.Module, pixels: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The model's deep features of ``pixels`` ``(n, C, H, W)``, in batches, as float32 ``(n, d)``."""
    from .activations import device_dtype

    device, dtype = device_dtype(model)
    out = [model(torch.as_tensor(pixels[i:i + batch_size], device=device, dtype=dtype)).float().cpu().numpy()
           for i in range(0, len(pixels), batch_size)]
    return np.concatenate(out)


def predict_counterfactuals(features: np.ndarray, cf_features: np.ndarray, layers: Mapping[str, DecisionLayer],
                            target: int, *, files: Sequence[str], pattern_files: Sequence[str],
                            mask_area: np.ndarray) -> pd.DataFrame:
    """One row per (layer, image), columns ``PREDICTION_COLUMNS``: the predictions on the original and on
    the counterfactual, the target's softmax probability on both, whether the image was eligible (not
    predicted as the target originally) and whether it flipped to the target."""
    frames = []
    for name, layer in layers.items():
        if layer.family != "multinomial":
            raise ValueError(f"layer {name!r} is {layer.family}: image counterfactuals need a multinomial layer")
        before, after = layer.predict_proba(features), layer.predict_proba(cf_features)
        original, changed = before.argmax(1), after.argmax(1)
        frames.append(pd.DataFrame({
            "image": np.arange(len(files)), "file": list(files), "pattern": list(pattern_files),
            "mask_area": mask_area, "layer": name, "original": original, "counterfactual": changed,
            "original_target_probability": before[:, target], "counterfactual_target_probability": after[:, target],
            "eligible": original != target, "flipped_to_target": (original != target) & (changed == target)}))
    return pd.concat(frames, ignore_index=True).reindex(columns=list(PREDICTION_COLUMNS))


def flip_rates(predictions: pd.DataFrame, target: int, confidence: float = 0.95) -> pd.DataFrame:
    """Per layer: images, eligible images, flips to ``target``, the flip rate with its Wilson interval
    (NaN without eligible images), the fraction predicted as the target before and after, and the mean
    change of the target's probability. Columns ``RATE_COLUMNS``."""
    from scipy.stats import binomtest

    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence!r} is invalid: expected a number in (0, 1)")
    rows = []
    for name, group in predictions.groupby("layer", sort=False):
        n_eligible, n_flipped = int(group["eligible"].sum()), int(group["flipped_to_target"].sum())
        low, high = np.nan, np.nan
        if n_eligible:
            interval = binomtest(n_flipped, n_eligible).proportion_ci(confidence, method="wilson")
            low, high = float(interval.low), float(interval.high)
        change = group["counterfactual_target_probability"] - group["original_target_probability"]
        rows.append((name, int(target), len(group), n_eligible, n_flipped,
                     n_flipped / n_eligible if n_eligible else np.nan, low, high,
                     float(np.mean(group["original"] == target)), float(np.mean(group["counterfactual"] == target)),
                     float(change.mean())))
    return pd.DataFrame(rows, columns=list(RATE_COLUMNS))


def rates_markdown(rates: pd.DataFrame, class_names: Sequence[str] | None, confidence: float = 0.95) -> str:
    """A markdown table of :func:`flip_rates` (percentages, one decimal)."""
    def pct(v):
        return "n/a" if pd.isna(v) else f"{100 * v:.1f}%"

    target = int(rates["target"].iloc[0]) if len(rates) else -1
    label = class_names[target] if class_names and 0 <= target < len(class_names) else str(target)
    lines = [f"Counterfactuals towards class **{label}** (index {target}); flip rate over the images not "
             f"already predicted as it, {round(100 * confidence)}% Wilson interval.", "",
             "| layer | images | eligible | flipped | flip rate | interval | target before | target after |",
             "|---|---:|---:|---:|---:|---|---:|---:|"]
    for r in rates.itertuples():
        lines.append(f"| {r.layer} | {r.n_images} | {r.n_eligible} | {r.n_flipped} | {pct(r.flip_rate)} | "
                     f"{pct(r.ci_low)} to {pct(r.ci_high)} | {pct(r.target_rate_before)} | {pct(r.target_rate_after)} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageCounterfactuals:
    """Everything one run computed: inputs, the composites, per-image predictions and the rates."""

    images: ImageSet
    masks: np.ndarray  # (n, 1, H, W) in [0, 1]
    patterns: ImageSet
    assignment: np.ndarray  # (n,) pattern index of each image
    counterfactuals: np.ndarray  # (n, C, H, W)
    predictions: pd.DataFrame  # PREDICTION_COLUMNS
    rates: pd.DataFrame  # RATE_COLUMNS
    target: int


def image_counterfactuals(model: torch.nn.Module, layers: Mapping[str, DecisionLayer], images: ImageSet,
                          masks: np.ndarray, patterns: ImageSet, target: int, *, seed: int = 0,
                          batch_size: int = 64, confidence: float = 0.95) -> ImageCounterfactuals:
    """Paste the patterns into ``images`` by ``masks`` and compare ``layers``' predictions (F.2).

    ``model`` maps images ``(n, C, H, W)`` in [0, 1] to the deep features the layers read (a
    :class:`~studykit.interpret.activations.FeatureModel`)."""
    n = len(images.pixels)
    if masks.shape != (n, 1, *images.pixels.shape[2:]):
        raise ValueError(f"masks have shape {masks.shape}; expected {(n, 1, *images.pixels.shape[2:])}")
    if patterns.pixels.shape[1:] != images.pixels.shape[1:]:
        raise ValueError(f"patterns have shape {patterns.pixels.shape[1:]}; the images {images.pixels.shape[1:]}")
    for name, layer in layers.items():
        if not 0 <= target < layer.n_classes:
            raise ValueError(f"target class {target} is outside layer {name!r}'s classes 0..{layer.n_classes - 1}")
    assignment = assign_patterns(n, len(patterns.pixels), seed)
    counterfactuals = composite(images.pixels, masks, patterns.pixels[assignment])
    features = deep_features(model, images.pixels, batch_size)
    cf_features = deep_features(model, counterfactuals, batch_size)
    predictions = predict_counterfactuals(features, cf_features, layers, target, files=images.files,
                                          pattern_files=[patterns.files[i] for i in assignment],
                                          mask_area=masks.reshape(n, -1).mean(1))
    return ImageCounterfactuals(images, masks, patterns, assignment, counterfactuals, predictions,
                                flip_rates(predictions, target, confidence), target)


def example_order(result: ImageCounterfactuals) -> np.ndarray:
    """Image indices for the figure: those flipped under more layers first, then by index."""
    flips = result.predictions.groupby("image")["flipped_to_target"].sum()
    return np.array(sorted(flips.index, key=lambda i: (-int(flips[i]), int(i))), dtype=np.int64)


def plot_examples(result: ImageCounterfactuals, class_names: Sequence[str] | None = None, n_examples: int = 6):
    """Figure 31's pipeline for ``n_examples`` images: original, mask, pattern, counterfactual, with
    each layer's prediction on the original and on the counterfactual."""
    from matplotlib.figure import Figure

    def label(c):
        return class_names[c] if class_names and 0 <= c < len(class_names) else str(c)

    chosen = example_order(result)[:max(1, n_examples)]
    by_image = result.predictions.set_index(["image", "layer"])
    layers = list(dict.fromkeys(result.predictions["layer"]))
    figure = Figure(figsize=(9.0, 2.5 * len(chosen)), layout="constrained")
    axes = figure.subplots(len(chosen), 4, squeeze=False)
    for row, i in zip(axes, chosen):
        pattern = result.patterns.pixels[result.assignment[i]]
        before = ", ".join(f"{n}: {label(int(by_image.loc[(i, n), 'original']))}" for n in layers)
        after = ", ".join(f"{n}: {label(int(by_image.loc[(i, n), 'counterfactual']))}"
                          + (" (flipped)" if by_image.loc[(i, n), "flipped_to_target"] else "") for n in layers)
        panels = ((result.images.pixels[i], f"{result.images.files[i]}\n{before}"), (result.masks[i], "mask"),
                  (pattern, f"pattern {result.patterns.files[result.assignment[i]]}"),
                  (result.counterfactuals[i], f"counterfactual\n{after}"))
        for ax, (pixels, title) in zip(row, panels):
            image = np.clip(np.asarray(pixels).transpose(1, 2, 0), 0, 1)
            ax.imshow(image[..., 0] if image.shape[2] == 1 else image, cmap="gray", vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_title(title, fontsize=8)
            ax.set_axis_off()
    figure.suptitle(f"Counterfactuals towards {label(result.target)}")
    return figure


def write_report(result: ImageCounterfactuals, out, class_names: Sequence[str] | None = None, *,
                 n_examples: int = 6, confidence: float = 0.95) -> list[Path]:
    """Write ``predictions.csv``, ``flip_rates.csv``, ``flip_rates.md`` and ``examples.png`` to ``out``."""
    from .images import save_png

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    predictions = result.predictions.copy()
    if class_names:
        for column in ("original", "counterfactual"):
            predictions[column + "_name"] = [class_names[c] for c in predictions[column]]
    written = [out / "predictions.csv", out / "flip_rates.csv", out / "flip_rates.md", out / "examples.png"]
    for frame, path in ((predictions, written[0]), (result.rates, written[1])):
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
    write_text(written[2], rates_markdown(result.rates, class_names, confidence))
    with atomic_path(written[3], suffix=".png") as tmp:
        plot_examples(result, class_names, n_examples).savefig(tmp, dpi=110, format="png")
    cf_dir = out / "counterfactuals"
    for i, name in enumerate(result.images.files):
        written.append(save_png(result.counterfactuals[i].transpose(1, 2, 0), cf_dir / f"{Path(name).stem}.png"))
    return written
