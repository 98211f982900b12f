"""The data a study samples from: a split of a feature store and the decision layers of a path folder."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from studykit.features import FeatureStore
from studykit.features.images import row_image
from studykit.solver.layers import DecisionLayer

from .spec import Inputs

__all__ = ["StudyData", "load_study_data"]


@dataclasses.dataclass(frozen=True, eq=False)
class StudyData:
    """Features, labels and decision layers, ready for sampling.

    Attributes
    ----------
    X : ndarray or memmap, shape (n_samples, n_features)
        Raw deep features of the split's rows.
    y : ndarray of int, shape (n_samples,)
        True class of each row.
    classes : tuple of str
        Class names, indexed by class.
    layers : dict of str to DecisionLayer
        The layers the study uses, by name.
    scale : ndarray, shape (n_features,)
        Multiplies raw weights into the coefficients compared and shown (the features' training
        standard deviations for ``coefficients="standardized"``; ones for ``"raw"``).
    image : callable
        ``row -> PIL image`` of a row of the split.
    """

    X: Any
    y: np.ndarray
    classes: tuple[str, ...]
    layers: dict[str, DecisionLayer]
    scale: np.ndarray
    image: Callable[[int], Any]

    def coefficients(self, layer: str) -> np.ndarray:
        """Weights of ``layer`` on the chosen scale, shape (n_classes, n_features)."""
        return self.layers[layer].weight.astype(np.float64) * self.scale

    def probabilities(self, layer: str) -> np.ndarray:
        """Class probabilities of every row under ``layer``, shape (n_samples, n_classes)."""
        return self.layers[layer].predict_proba(self.X)

    def describe_layers(self, paths: dict[str, Path]) -> dict[str, dict]:
        """The manifest's ``layers`` block: file, source, alpha and number of non-zero weights of each layer."""
        return {name: {"file": str(paths[name]), "source": layer.source,
                       "alpha": None if math.isnan(layer.alpha) else float(layer.alpha), "nnz": layer.nnz}
                for name, layer in self.layers.items()}


def layer_paths(inputs: Inputs, names: tuple[str, ...]) -> dict[str, Path]:
    """``<path>/layers/<name>.npz`` for each layer name."""
    return {name: Path(inputs.path) / "layers" / f"{name}.npz" for name in names}


def load_study_data(inputs: Inputs, layer_names: tuple[str, ...]) -> StudyData:
    """Open the store's split and the named layers, and check that they agree.

    Raises
    ------
    FileNotFoundError
        When the store, the split, a layer file or (for standardized coefficients) ``path.npz`` is missing.
    ValueError
        When the layers and the store disagree on the features or classes, or the labels are not classes.
    """
    store = FeatureStore.open(inputs.store)
    X, y = store.split(inputs.split)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{store.directory}: split {inputs.split!r} has no integer class labels")
    layers = {}
    for name, path in layer_paths(inputs, layer_names).items():
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing (run studykit solve select on {inputs.path})")
        layer = DecisionLayer.load(path)
        if layer.family != "multinomial" or layer.n_features != store.n_features:
            raise ValueError(f"{path}: a {layer.family} layer on {layer.n_features} features; the studies need "
                             f"a multinomial layer on the store's {store.n_features} features")
        layers[name] = layer
    n_classes = {layer.n_classes for layer in layers.values()}
    classes = store.classes or next(iter(layers.values())).classes
    if len(n_classes) != 1 or classes is None or len(classes) != n_classes.pop():
        raise ValueError(f"the layers {list(layers)} and the store's class names {classes} disagree on the classes")
    if len(y) and (y.min() < 0 or y.max() >= len(classes)):
        raise ValueError(f"{store.directory}: labels of split {inputs.split!r} outside 0..{len(classes) - 1}")
    return StudyData(X=X, y=np.asarray(y, dtype=np.int64), classes=tuple(classes), layers=layers,
                     scale=_scale(inputs, store.n_features),
                     image=lambda row: row_image(store, inputs.split, row))


def _scale(inputs: Inputs, n_features: int) -> np.ndarray:
    if inputs.coefficients == "raw":
        return np.ones(n_features)
    from studykit.solver.results import PathResult

    try:
        scale = np.asarray(PathResult.load(inputs.path).scale, dtype=np.float64)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{exc}; standardized coefficients need the path's standardization "
                                '(or set inputs.coefficients = "raw")') from None
    if scale.shape != (n_features,):
        raise ValueError(f"{inputs.path}: standardization of {scale.shape} features, the store has {n_features}")
    return scale
