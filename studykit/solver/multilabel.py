"""Independent-sigmoid families (``multilabel``, ``binomial``): targets, null model and metrics.

``family="multilabel"`` fits one sigmoid per output on an ``(n_samples, n_labels)`` 0/1 target
matrix (binary cross-entropy summed over outputs); ``family="binomial"`` is its one-output case for
two classes with 0/1 labels. The path reports, per alpha, the mean per-label accuracy (as
``*_accuracy``) and the mean over labels of the average precision (``*_average_precision``);
:func:`label_metrics` gives both per label for one layer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch


def sigmoid_targets(y: np.ndarray, family: str, name: str, k: int | None = None) -> np.ndarray:
    """``y`` checked to be 0/1 and shaped ``(n_samples, k)``; raises ``ValueError`` naming the first
    bad row (and column)."""
    y = np.asarray(y)
    if family == "binomial":
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"{name}: binomial labels must be 1-D (0/1), got shape {y.shape}")
        y = y[:, None]
    elif y.ndim != 2:
        raise ValueError(f"{name}: multilabel targets must be an (n_samples, n_labels) 0/1 matrix, "
                         f"got shape {y.shape}")
    if k is not None and y.shape[1] != k:
        raise ValueError(f"{name} has {y.shape[1]} labels; the training targets have {k}")
    bad = ~((y == 0) | (y == 1))
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        where = f"row {row}" if family == "binomial" else f"row {row}, label {col}"
        raise ValueError(f"{name}: {where} is {y[row, col].item()!r}; {family} targets must be 0 or 1")
    return y.astype(np.float64)


def null_intercept(freq: torch.Tensor, family: str) -> torch.Tensor:
    """The ``W = 0`` optimum's intercept, ``logit(freq_c)`` in float64 for the outputs' frequencies
    ``freq_c = mean_i y_ic``; raises ``ValueError`` when an output is constant (its intercept would
    be infinite)."""
    freq = freq.double()
    constant = torch.nonzero((freq <= 0) | (freq >= 1))
    if len(constant):
        c = int(constant[0])
        value = int(freq[c] >= 1)
        what = "class 1" if family == "binomial" else f"label {c}"
        raise ValueError(f"y: {what} is {value} in every training row; a {family} fit needs both values")
    return freq.log() - torch.log1p(-freq)


def average_precision(scores, y) -> float:
    """Average precision of ``scores`` for the 0/1 targets ``y`` (both 1-D): ``sum_n (R_n - R_{n-1}) P_n``
    over the distinct score thresholds, as scikit-learn's ``average_precision_score``. NaN when
    ``y`` has no positive."""
    scores, y = np.asarray(scores, dtype=np.float64), np.asarray(y) > 0.5
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    scores, y = scores[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(scores) != 0), len(scores) - 1]  # last row of each tie block
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall_step = np.diff(np.r_[0, tp]) / n_pos
    return float(np.sum(recall_step * precision))


def mean_average_precision(Z: torch.Tensor, Y: torch.Tensor) -> float:
    """Mean over outputs (with at least one positive) of :func:`average_precision`."""
    Z, Y = Z.double().cpu().numpy(), Y.double().cpu().numpy()
    values = [average_precision(Z[:, c], Y[:, c]) for c in range(Z.shape[1])]
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def label_metrics(layer, X, Y) -> pd.DataFrame:
    """Per output of a multilabel (or binomial) :class:`~studykit.solver.DecisionLayer` on raw
    features ``X`` and 0/1 targets ``Y``: columns ``label``, ``positives``, ``accuracy``,
    ``average_precision`` (NaN without positives)."""
    if layer.family not in ("multilabel", "binomial"):
        raise ValueError(f"label_metrics needs a multilabel or binomial layer; {layer.name!r} is {layer.family}")
    Y = sigmoid_targets(Y, layer.family, "Y", layer.n_classes)
    scores = layer.decision_function(X).astype(np.float64)
    names = layer.classes if layer.classes and len(layer.classes) == layer.n_classes else range(layer.n_classes)
    return pd.DataFrame({"label": list(names), "positives": Y.sum(0).astype(int),
                         "accuracy": ((scores > 0) == (Y > 0.5)).mean(0),
                         "average_precision": [average_precision(scores[:, c], Y[:, c])
                                               for c in range(layer.n_classes)]})
