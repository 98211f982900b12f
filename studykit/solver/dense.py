"""The dense decision layer that a sparse one is compared with, and fitting on a feature store.

A *store* here is anything with the feature store's reading interface (duck-typed, so the solver
does not import :mod:`studykit.features`): ``split(name) -> (X, y)``, ``has(name)``, ``classes``,
``directory`` and ``dense_layer()`` (the model's own final layer as a :class:`DecisionLayer`, or
None).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .config import PathConfig
from .layers import DecisionLayer
from .path import fit_path
from .results import PathResult

#: Grid of the dense refit. With l1_ratio=0 the path's alpha_max is computed with l1_ratio=1e-3
#: (glmnet's convention), i.e. 1000 times the lasso's, so eps=1e-3 would stop where the lasso path
#: starts (all points heavily shrunk); 1e-6 spans the same range below the lasso's alpha_max.
DENSE_N_ALPHAS, DENSE_EPS = 10, 1e-6
DENSE_CHOICES = ("model", "fit")


class Splits(NamedTuple):
    """A store's splits as arrays; ``val_fraction`` > 0 only when the store has no val split."""

    X: object
    y: object
    X_val: object
    y_val: object
    X_test: object
    y_test: object
    val_fraction: float


def store_splits(store, val_fraction: float) -> Splits:
    """The store's splits; ``val_fraction`` applies only when the store has no val split."""
    X, y = store.split("train")
    X_val, y_val = store.split("val") if store.has("val") else (None, None)
    X_test, y_test = store.split("test") if store.has("test") else (None, None)
    return Splits(X, y, X_val, y_val, X_test, y_test, 0.0 if X_val is not None else float(val_fraction))


def fit_store(store, config: PathConfig, data: Splits | None = None, *, val_fraction: float = 0.1,
              **kwargs) -> PathResult:
    """:func:`fit_path` on a store's splits (``data``, default ``store_splits(store, val_fraction)``),
    with the store's class names; ``kwargs`` are fit_path's device/checkpoint/progress arguments.
    The result's ``info`` records ``features_dir`` and the ``val_fraction`` used."""
    data = data if data is not None else store_splits(store, val_fraction)
    classes = store.classes
    n_classes = len(classes) if classes is not None and config.family == "multinomial" else None
    result = fit_path(data.X, data.y, config, X_val=data.X_val, y_val=data.y_val, X_test=data.X_test,
                      y_test=data.y_test, val_fraction=data.val_fraction, n_classes=n_classes, classes=classes,
                      **kwargs)
    result.info.update(features_dir=str(Path(store.directory).resolve()), val_fraction=data.val_fraction)
    return result


def dense_layer(spec: str | None, result: PathResult, store=None, *, by: str = "val_accuracy",
                **kwargs) -> DecisionLayer:
    """The dense layer named by ``spec``, named ``"dense"``.

    ``"model"``: the store's own layer (``store.dense_layer()``); ``"fit"``: :func:`fit_dense`;
    a file name: a saved :class:`DecisionLayer`; ``None``: the model's layer when the store has
    one, else ``"fit"``. ``kwargs`` go to :func:`fit_path` (device, progress)."""
    if spec in (None, "model"):
        model = store.dense_layer() if store is not None else None
        if model is not None:
            return dataclasses.replace(model, name="dense")
        if spec == "model":
            where = f"{store.directory} has no dense_layer.npz" if store is not None else "no feature store is known"
            raise ValueError(f"dense layer 'model' needs the model's own layer, but {where} (give the feature "
                             "store, or use 'fit' or a DecisionLayer file)")
        spec = "fit"
    if spec == "fit":
        if store is None:
            raise ValueError("dense layer 'fit' needs the feature store the path was fitted on")
        return fit_dense(result, store, by=by, **kwargs)
    file = Path(spec)
    if not file.is_file():
        raise FileNotFoundError(f"dense layer {spec!r}: no such file (expected model, fit or a DecisionLayer .npz)")
    return dataclasses.replace(DecisionLayer.load(file), name="dense")


def fit_dense(result: PathResult, store, *, by: str = "val_accuracy", **kwargs) -> DecisionLayer:
    """Refit the path's problem without sparsity (``l1_ratio=0``) on ``store`` and keep the most
    accurate point by ``by``."""
    config = result.config.replace(l1_ratio=0.0, n_alphas=DENSE_N_ALPHAS, eps=DENSE_EPS, alphas=None)
    data = store_splits(store, result.info.get("val_fraction", 0.1) or 0.0)
    dense_path = fit_store(store, config, data, **kwargs)
    layer = dense_path.select(most_accurate(dense_path, by), name="dense")
    return dataclasses.replace(layer, source=f"fitted with l1_ratio=0 on {store.directory}: {layer.source}")


def most_accurate(result: PathResult, by: str) -> int:
    """The best point by ``by`` (an accuracy); ties, common on small splits, go to the lower loss.

    (``select(within=0)`` would break them by sparsity, which a ridge path does not vary, and so
    would take the most regularized of the tied points.)
    """
    accuracy = result.metrics[by].to_numpy(dtype=float)
    loss = result.metrics[by.replace("accuracy", "loss")].to_numpy(dtype=float)
    tied = np.flatnonzero(accuracy >= result.metrics[by].iloc[result.best(by)] - 1e-12)
    return int(tied[np.argmin(loss[tied])])
