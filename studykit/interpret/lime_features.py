"""LIME for a deep feature (B.2): which superpixels of its prototypical images drive the feature.

Two steps, as in the paper:

1. :func:`prototypes` ranks the rows of a feature store split by the feature's activation and takes
   the top-``k`` (most activating) or bottom-``k`` (least activating) rows.
2. :func:`explain_feature` runs ``lime.lime_image.LimeImageExplainer`` on one image, where the
   "classifier" is the feature's *normalized* activation ``(a - mean) / std`` (mean and standard
   deviation over the training split, :func:`~studykit.interpret.activations.feature_statistics`)
   instead of a class probability. Superpixels come from scikit-image's SLIC.

:func:`explain_prototypes` runs both steps for many features (the loop behind ``studykit interpret
lime`` and the LIME pictures of :class:`~studykit.interpret.provider.FeatureImageProvider`).

A :class:`FeatureExplanation` holds the superpixels and LIME's weight for each; it renders the
``n`` superpixels with the largest weights of one sign (positive for top prototypes: what drives the
feature up; negative for bottom prototypes) in colour with an outline, and the rest of the image
faded to gray, as the paper's figures do.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from studykit.features import FeatureStore

from studykit._progress import progress_bar

from .activations import device_dtype, feature_statistics
from .images import MIN_SIDE, enlarge, row_array, save_png, upscale_factor

#: Gray that non-highlighted superpixels are blended towards (as in the paper's figures).
FADE_GRAY = 0.6
#: Weight of the gray in that blend.
FADE = 0.7
#: Outline colours of highlighted superpixels: positive weight, negative weight (RGB in [0, 1]).
OUTLINE = {1: (0.0, 0.8, 0.2), -1: (0.9, 0.1, 0.1)}


@dataclass(frozen=True)
class LimeConfig:
    """Settings of LIME for a deep feature.

    Attributes
    ----------
    num_samples : int
        Perturbed images per explanation (the paper's code used 1000).
    n_segments : int
        Approximate number of SLIC superpixels.
    compactness : float
        SLIC's balance of colour proximity and space proximity (higher: squarer superpixels).
    hide_color : float or None
        Value of a switched-off superpixel; None is LIME's default, the superpixel's mean colour.
    kernel_width : float
        Width of LIME's exponential kernel on the cosine distance of perturbations.
    n_highlight : int
        Superpixels highlighted in the rendered image (the paper's code used 3).
    batch_size : int
        Perturbed images per forward pass (LIME's default, 10: on a CPU, EfficientNet-Lite0's
        forward pass costs 4 times more per image at batch 100 than at batch 10).
    seed : int
    """

    num_samples: int = 1000
    n_segments: int = 40
    compactness: float = 10.0
    hide_color: float | None = None
    kernel_width: float = 0.25
    n_highlight: int = 3
    batch_size: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("num_samples", "n_segments", "n_highlight", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} is invalid: expected an integer >= 1")
        for name in ("compactness", "kernel_width"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}={getattr(self, name)!r} is invalid: expected a positive number")
        if self.hide_color is not None and not 0.0 <= self.hide_color <= 1.0:
            raise ValueError(f"hide_color={self.hide_color!r} is invalid: expected None or a value in [0, 1]")


@dataclass(frozen=True)
class FeatureExplanation:
    """LIME's explanation of one deep feature on one image.

    Attributes
    ----------
    feature : int
    image : ndarray, shape (H, W, C), floats in [0, 1]
    segments : ndarray of int, shape (H, W): superpixel id of every pixel, ids 0..n-1.
    weights : ndarray, shape (n,): LIME's weight of each superpixel (change in normalized
        activation when the superpixel is present rather than hidden).
    intercept : float
    score : float, R^2 of LIME's weighted linear fit.
    activation : float, the normalized activation on the unperturbed image.
    """

    feature: int
    image: np.ndarray
    segments: np.ndarray
    weights: np.ndarray
    intercept: float
    score: float
    activation: float

    def top_segments(self, n: int, sign: int = 1) -> np.ndarray:
        """Ids of the (at most) ``n`` superpixels with the largest weights of sign ``sign``, largest first."""
        if sign not in (1, -1):
            raise ValueError(f"sign={sign!r} is invalid: expected 1 or -1")
        signed = sign * self.weights
        order = np.argsort(-signed, kind="stable")[:n]
        return order[signed[order] > 0]

    def mask(self, n: int, sign: int = 1) -> np.ndarray:
        """Boolean ``(H, W)`` mask of :meth:`top_segments`."""
        return np.isin(self.segments, self.top_segments(n, sign))

    def render(self, n: int, sign: int = 1, min_side: int = MIN_SIDE) -> np.ndarray:
        """RGB ``(H', W', 3)``: the top-``n`` superpixels of ``sign`` as they are, outlined, the rest
        faded to gray; enlarged by an integer factor (nearest neighbour) until the shorter side is
        at least ``min_side``, so that the one-pixel outline stays thin on small images."""
        from skimage.segmentation import find_boundaries

        factor = upscale_factor(self.image.shape, min_side)
        rgb = enlarge(np.repeat(self.image, 3, axis=2) if self.image.shape[2] == 1 else self.image, factor)
        segments = enlarge(self.segments, factor)
        keep = np.isin(segments, self.top_segments(n, sign))
        rgb[~keep] = FADE * FADE_GRAY + (1.0 - FADE) * rgb[~keep]
        outline = find_boundaries(np.where(keep, segments, -1), mode="inner") & keep
        rgb[outline] = OUTLINE[sign]
        return rgb

    def table(self) -> pd.DataFrame:
        """One row per superpixel: ``segment``, ``weight``, ``pixels`` (its area)."""
        return pd.DataFrame({"segment": np.arange(len(self.weights)), "weight": self.weights,
                             "pixels": np.bincount(self.segments.ravel(), minlength=len(self.weights))})

    def save(self, path, n: int, sign: int = 1) -> Path:
        """Write :meth:`table` as CSV and the superpixel map as ``.npy`` beside ``path``, then
        :meth:`render` as the PNG ``path`` (last, so that the PNG's presence means all three exist);
        returns the PNG's path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.table().to_csv(path.with_suffix(".csv"), index=False)
        np.save(path.with_name(path.stem + "_segments.npy"), self.segments.astype(np.int32))
        return save_png(self.render(n, sign), path)


def prototypes(store: FeatureStore, split: str, feature: int, k: int = 1,
               which: str = "top") -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``split`` that activate ``feature`` most (``which="top"``) or least (``"bottom"``).

    Returns
    -------
    rows : ndarray of int, shape (k,), most extreme first (ties: lower row first).
    activations : ndarray, shape (k,), the feature's raw activation on those rows.
    """
    if which not in ("top", "bottom"):
        raise ValueError(f"which={which!r} is invalid: expected 'top' or 'bottom'")
    X, _ = store.split(split)
    if not 0 <= feature < X.shape[1]:
        raise ValueError(f"feature={feature!r} is invalid: the store has features 0..{X.shape[1] - 1}")
    if k < 1:
        raise ValueError(f"k={k!r} is invalid: expected an integer >= 1")
    column = np.asarray(X[:, feature], dtype=np.float64)
    rows = np.argsort(-column if which == "top" else column, kind="stable")[:k]
    return rows, column[rows]


@contextlib.contextmanager
def _without_lime_bar():
    """lime's ``LimeImageExplainer`` draws its own tqdm bar per explanation, on a terminal or not (47
    carriage-return bars in a demo's log); studykit's progress helper reports the LIME stage instead."""
    from lime import lime_image

    original = lime_image.tqdm
    lime_image.tqdm = lambda iterable, *args, **kwargs: iterable
    try:
        yield
    finally:
        lime_image.tqdm = original


def explain_feature(model: nn.Module, image: np.ndarray, feature: int, config: LimeConfig = LimeConfig(), *,
                    center: float = 0.0, scale: float = 1.0) -> FeatureExplanation:
    """Explain ``feature`` on ``image`` with ``LimeImageExplainer`` over SLIC superpixels.

    Parameters
    ----------
    model : nn.Module
        Images in [0, 1], shape ``(n, C, H, W)`` -> features ``(n, n_features)``, in eval mode.
    image : ndarray, shape (H, W, C) with C in (1, 3), floats in [0, 1]
    feature : int
    config : LimeConfig
    center, scale : float
        The explained quantity is ``(activation - center) / scale``: pass the feature's mean and
        standard deviation over the training split for the paper's normalized activation.

    Returns
    -------
    FeatureExplanation
    """
    from lime.lime_image import LimeImageExplainer

    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"image has shape {image.shape}: expected (H, W, 1) or (H, W, 3)")
    if not scale > 0:
        raise ValueError(f"scale={scale!r} is invalid: expected a positive standard deviation")
    channels = image.shape[2]
    rgb = np.repeat(image, 3, axis=2) if channels == 1 else image

    def normalized_activation(batch: np.ndarray) -> np.ndarray:
        return (_activations(model, batch, channels, feature) - center)[:, None] / scale

    explainer = LimeImageExplainer(kernel_width=config.kernel_width, feature_selection="none",
                                   random_state=config.seed)
    with _without_lime_bar():
        explanation = explainer.explain_instance(
            rgb, normalized_activation, labels=(0,), top_labels=None, hide_color=config.hide_color,
            num_samples=config.num_samples, batch_size=config.batch_size,
            segmentation_fn=lambda im: superpixels(im, config), random_seed=config.seed)
    segments = explanation.segments
    weights = np.zeros(int(segments.max()) + 1)
    for segment, weight in explanation.local_exp[0]:
        weights[segment] = weight
    activation = float(normalized_activation(rgb[None])[0, 0])
    return FeatureExplanation(int(feature), image, segments, weights, float(explanation.intercept[0]),
                              float(explanation.score), activation)


@dataclass(frozen=True)
class PrototypeExplanation:
    """LIME's explanation of a feature on one of its prototypes (:func:`explain_prototypes`).

    Attributes
    ----------
    feature : int
    which : ``"top"`` or ``"bottom"``
    rank : int, 1 for the most extreme row
    split : str
    row : int, the row of ``split``
    activation : float, the feature's raw activation on the row
    explanation : FeatureExplanation
    """

    feature: int
    which: str
    rank: int
    split: str
    row: int
    activation: float
    explanation: FeatureExplanation

    @property
    def sign(self) -> int:
        """The sign of the superpixels worth showing: +1 for top prototypes, -1 for bottom ones."""
        return 1 if self.which == "top" else -1

    def record(self) -> dict:
        """One row of a table of explanations (no arrays)."""
        return {"feature": self.feature, "which": self.which, "rank": self.rank, "split": self.split,
                "row": self.row, "activation": self.activation, "normalized": self.explanation.activation,
                "lime_score": self.explanation.score}


def explain_prototypes(model: nn.Module, store: FeatureStore, features: Iterable[int], *, k: int = 1,
                       which: Sequence[str] = ("top",), split: str = "test", config: LimeConfig = LimeConfig(),
                       input_shape: Sequence[int] | None = None,
                       progress: bool = False) -> Iterator[PrototypeExplanation]:
    """LIME on each feature's ``k`` most (``"top"``) and/or least (``"bottom"``) activating rows of ``split``.

    The explained quantity is the paper's normalized activation: the feature's mean and standard
    deviation come from the store's train split (``split`` when there is none). Explanations are
    yielded one at a time (feature by feature, ``which`` in the order given, rank 1 first), so a
    caller can save each as it comes.

    Parameters
    ----------
    model : nn.Module
        The store's model as a feature extractor (:func:`~studykit.interpret.activations.load_feature_model`).
    store : FeatureStore
    features : iterable of int
    k : int
    which : sequence of ``"top"`` and ``"bottom"``
    split : str
    config : LimeConfig
    input_shape : (C, H, W), optional
        How the images are preprocessed [default: ``model.input_shape``].
    progress : bool
        Show a progress bar over the explanations.
    """
    features = [int(f) for f in features]
    for side in which:
        if side not in ("top", "bottom"):
            raise ValueError(f"which={tuple(which)!r} is invalid: expected 'top' and/or 'bottom'")
    shape = tuple(input_shape) if input_shape is not None else tuple(model.input_shape)
    mean, std = feature_statistics(store, "train" if store.has("train") else split)
    with progress_bar(total=len(features) * len(which) * k, desc="LIME", unit="image",
                      disable=not progress) as bar:
        for feature in features:
            for side in which:
                rows, activations = prototypes(store, split, feature, k, side)
                for rank, (row, activation) in enumerate(zip(rows, activations), 1):
                    image = row_array(store, split, int(row), shape)
                    explanation = explain_feature(model, image, feature, config, center=float(mean[feature]),
                                                  scale=float(std[feature]))
                    bar.update(1)
                    yield PrototypeExplanation(feature, side, rank, split, int(row), float(activation), explanation)


def superpixels(image: np.ndarray, config: LimeConfig) -> np.ndarray:
    """SLIC superpixels of an RGB image ``(H, W, 3)`` in [0, 1], labelled 0..n-1."""
    from skimage.segmentation import relabel_sequential, slic

    labels = slic(image, n_segments=config.n_segments, compactness=config.compactness, start_label=1,
                  channel_axis=-1)
    return relabel_sequential(labels)[0] - 1


@torch.no_grad()
def _activations(model: nn.Module, batch: np.ndarray, channels: int, feature: int) -> np.ndarray:
    """The feature's raw activation on a batch of RGB images ``(n, H, W, 3)`` (gray models get channel 0)."""
    device, dtype = device_dtype(model)
    x = torch.as_tensor(np.ascontiguousarray(batch[..., :channels]), device=device, dtype=dtype)
    return model(x.permute(0, 3, 1, 2))[:, feature].double().cpu().numpy()
