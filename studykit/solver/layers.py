"""A decision layer: ``outputs = X @ weight.T + bias`` on the raw (unstandardized) deep features."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True, eq=False)
class DecisionLayer:
    """A linear decision layer that applies to raw features.

    Attributes
    ----------
    weight : ndarray, shape (n_classes, n_features)
    bias : ndarray, shape (n_classes,)
    family : ``"multinomial"`` (class scores, softmax probabilities), ``"gaussian"``, ``"binomial"``
        (one row: the logit of class 1) or ``"multilabel"`` (one sigmoid per row).
    name : what the layer is in a study, e.g. ``"sparse"`` or ``"dense"``.
    source : where it came from, e.g. ``"path index 41 (alpha=0.0123, l1_ratio=0.99)"``.
    alpha, l1_ratio : the regularization it was fitted with (NaN when imported from a model).
    """

    weight: np.ndarray
    bias: np.ndarray
    family: str = "multinomial"
    name: str = "sparse"
    source: str = ""
    alpha: float = math.nan
    l1_ratio: float = math.nan
    classes: tuple[str, ...] | None = field(default=None)

    def __post_init__(self):
        w, b = np.asarray(self.weight), np.asarray(self.bias)
        if w.ndim != 2 or b.shape != (w.shape[0],):
            raise ValueError(f"decision layer {self.name!r}: weight {w.shape} and bias {b.shape} do not "
                             "form a (k, d) / (k,) pair")
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise ValueError(f"decision layer {self.name!r}: weight or bias contains NaN or Inf")
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "bias", b)

    # ------------------------------------------------------------------ shape and sparsity
    @property
    def n_classes(self) -> int:
        return self.weight.shape[0]

    @property
    def n_features(self) -> int:
        return self.weight.shape[1]

    @property
    def nnz(self) -> int:
        return int(np.count_nonzero(self.weight))

    @property
    def features_per_class(self) -> np.ndarray:
        """Number of features with a non-zero weight, per class, shape ``(n_classes,)``."""
        return np.count_nonzero(self.weight, axis=1)

    # ------------------------------------------------------------------ prediction
    def decision_function(self, X, chunk_rows: int = 65536) -> np.ndarray:
        """``X @ weight.T + bias`` for ``X`` of shape ``(n_samples, n_features)`` (array, memmap or tensor)."""
        X = _as_numpy(X)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"X has shape {X.shape}; decision layer {self.name!r} expects (n, {self.n_features})")
        W = self.weight.astype(np.float64 if X.dtype == np.float64 else np.float32)
        out = np.empty((X.shape[0], self.n_classes), dtype=W.dtype)
        for start in range(0, X.shape[0], chunk_rows):
            out[start:start + chunk_rows] = X[start:start + chunk_rows] @ W.T + self.bias
        return out

    def predict(self, X) -> np.ndarray:
        """Class indices (multinomial), predicted outputs (gaussian), 0/1 labels ``(n_samples,)``
        (binomial) or a 0/1 matrix ``(n_samples, n_labels)`` (multilabel)."""
        scores = self.decision_function(X)
        if self.family in ("multilabel", "binomial"):  # issue 19
            labels = (scores > 0).astype(np.int64)
            return labels[:, 0] if self.family == "binomial" else labels
        return scores.argmax(1) if self.family == "multinomial" else scores

    def predict_proba(self, X) -> np.ndarray:
        """Softmax class probabilities, shape ``(n_samples, n_classes)`` (multinomial); per-label
        sigmoids ``(n_samples, n_labels)`` (multilabel); ``(n_samples, 2)`` (binomial)."""
        if self.family in ("multilabel", "binomial"):  # issue 19
            p = 1.0 / (1.0 + np.exp(-self.decision_function(X).astype(np.float64)))
            return np.hstack([1.0 - p, p]) if self.family == "binomial" else p
        if self.family != "multinomial":
            raise ValueError(f"predict_proba needs a multinomial layer; {self.name!r} is {self.family}")
        scores = self.decision_function(X).astype(np.float64)
        scores -= scores.max(1, keepdims=True)
        np.exp(scores, out=scores)
        return scores / scores.sum(1, keepdims=True)

    # ------------------------------------------------------------------ import and files
    @classmethod
    def from_linear(cls, linear, *, name: str = "dense", source: str = "model final Linear",
                    classes=None) -> "DecisionLayer":
        """Import a torch ``nn.Linear`` (e.g. a network's own final layer) as a decision layer."""
        weight = linear.weight.detach().cpu().numpy().astype(np.float32)
        bias = (linear.bias.detach().cpu().numpy() if linear.bias is not None
                else np.zeros(weight.shape[0])).astype(np.float32)
        return cls(weight, bias, "multinomial", name, source, classes=_tuple(classes))

    def save(self, path) -> Path:
        """Write ``weight``, ``bias`` and the metadata to one ``.npz`` file, atomically."""
        path = Path(path)
        meta = {"family": self.family, "name": self.name, "source": self.source, "alpha": self.alpha,
                "l1_ratio": self.l1_ratio, "classes": list(self.classes) if self.classes else None}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, weight=self.weight, bias=self.bias, meta=np.array(json.dumps(meta)))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path) -> "DecisionLayer":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as f:
                weight, bias, meta = f["weight"], f["bias"], json.loads(str(f["meta"]))
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"{path}: not a studykit decision layer file ({exc})") from None
        alpha = math.nan if meta["alpha"] is None else meta["alpha"]
        l1 = math.nan if meta["l1_ratio"] is None else meta["l1_ratio"]
        return cls(weight, bias, meta["family"], meta["name"], meta["source"], alpha, l1,
                   _tuple(meta.get("classes")))


def _tuple(classes):
    return tuple(str(c) for c in classes) if classes is not None else None


def _as_numpy(X):
    if hasattr(X, "detach"):
        return X.detach().cpu().numpy()
    return X if isinstance(X, np.ndarray) else np.asarray(X)
