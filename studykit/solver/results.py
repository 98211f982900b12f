"""PathResult: the coefficients and metrics of a whole regularization path, and model selection."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .config import PathConfig
from .layers import DecisionLayer

_CONFIG_FIELDS = frozenset(f.name for f in fields(PathConfig))

#: Metric columns of ``PathResult.metrics`` (one row per alpha); NaN where a split is absent.
METRIC_COLUMNS = (
    "index", "alpha", "nnz", "features_per_class", "features_used",
    "train_loss", "train_objective", "train_accuracy", "val_loss", "val_accuracy",
    "test_loss", "test_accuracy", "kkt", "converged", "epochs", "working_set", "seconds",
    # issue 19: mean over labels of the average precision (multilabel and binomial paths; NaN otherwise)
    "train_average_precision", "val_average_precision", "test_average_precision",
)
#: Metrics for which larger is better (for ``best`` and ``select``).
HIGHER_IS_BETTER = {"train_accuracy", "val_accuracy", "test_accuracy",
                    "train_average_precision", "val_average_precision", "test_average_precision"}


@dataclass
class PathResult:
    """A fitted regularization path.

    Attributes
    ----------
    alphas : ndarray, shape (n_alphas,), decreasing.
    coefs : list of ``scipy.sparse.csr_matrix``, each (n_classes, n_features): the coefficients
        on the *standardized* features, i.e. the variables the penalty acts on.
    intercepts : ndarray, shape (n_alphas, n_classes), on the standardized features.
    mean, scale : ndarray, shape (n_features,): the training-split standardization (zeros and
        ones without standardization). ``layer(i)`` folds them into a layer for raw features.
    metrics : DataFrame, one row per alpha, columns ``METRIC_COLUMNS``.
    config : the :class:`PathConfig` the path was fitted with.
    info : facts about the fit that are not configuration (``alpha_max``, ``n_samples``,
        ``n_features``, ``n_classes``, ``device``, ...; callers may add provenance such as the
        CLI's ``features_dir``). ``config.json`` holds both, flat, plus ``classes``.
    """

    alphas: np.ndarray
    coefs: list
    intercepts: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    metrics: pd.DataFrame
    config: PathConfig = field(default_factory=PathConfig)
    classes: tuple[str, ...] | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.config, dict):  # the untyped form of earlier versions
            self.info = {**{k: v for k, v in self.config.items() if k not in _CONFIG_FIELDS}, **self.info}
            self.config = PathConfig.from_dict(self.config, strict=False)

    @property
    def family(self) -> str:
        return self.config.family

    def __len__(self) -> int:
        return len(self.alphas)

    # ------------------------------------------------------------------ layers
    def coef_dense(self, index: int) -> np.ndarray:
        """Standardized-scale coefficients at ``index`` as a dense ``(k, d)`` array."""
        return self.coefs[self._index(index)].toarray()

    def layer(self, index: int, *, name: str = "sparse") -> DecisionLayer:
        """The path point ``index`` as a :class:`DecisionLayer` on raw features."""
        i = self._index(index)
        weight = (self.coefs[i].toarray() / self.scale).astype(np.float32)
        bias = (self.intercepts[i] - weight.astype(np.float64) @ self.mean).astype(np.float32)
        l1 = self.config.l1_ratio
        return DecisionLayer(weight, bias, self.family, name,
                             f"path index {i} (alpha={self.alphas[i]:.6g}, l1_ratio={l1})",
                             float(self.alphas[i]), float(l1), self.classes)

    # ------------------------------------------------------------------ selection
    def best(self, by: str = "val_accuracy") -> int:
        """Index of the best path point by metric ``by`` (max for accuracies, min otherwise).

        Raises ``ValueError`` when the metric is absent or NaN everywhere (e.g. no validation set).
        """
        values = self._metric(by)
        return int(np.nanargmax(values) if by in HIGHER_IS_BETTER else np.nanargmin(values))

    def select(self, index: int | None = None, *, within: float = 0.05, relative: bool = False,
               by: str = "val_accuracy", max_features_per_class: float | None = None,
               name: str = "sparse") -> DecisionLayer:
        """Choose one layer of the path (D.1.1).

        - ``index=i``: that path point.
        - ``max_features_per_class=m``: the most accurate (by ``by``) point using on average at
          most ``m`` features per class.
        - otherwise (the paper's rule): the sparsest point whose ``by`` accuracy is no more than
          ``within`` below the best (absolute, in accuracy units: 0.05 = 5 points), or no more
          than the fraction ``within`` below it when ``relative=True``. Ties go to the more
          accurate point.
        """
        return self.layer(self.select_index(index, within=within, relative=relative, by=by,
                                            max_features_per_class=max_features_per_class), name=name)

    def select_index(self, index=None, *, within=0.05, relative=False, by="val_accuracy",
                     max_features_per_class=None) -> int:
        if index is not None:
            return self._index(index)
        if by not in HIGHER_IS_BETTER:
            raise ValueError(f"select(by={by!r}) needs an accuracy metric: {sorted(HIGHER_IS_BETTER)}")
        values = self._metric(by)
        sparsity = self.metrics["nnz"].to_numpy()
        if max_features_per_class is not None:
            ok = self.metrics["features_per_class"].to_numpy() <= max_features_per_class
            if not ok.any():
                raise ValueError(f"no path point uses at most {max_features_per_class} features per class")
            return int(np.nanargmax(np.where(ok, values, -np.inf)))
        if not (np.isfinite(within) and within >= 0):
            raise ValueError(f"within={within!r} is invalid: expected a number >= 0")
        top = np.nanmax(values)
        floor = top * (1.0 - within) if relative else top - within
        eligible = np.flatnonzero(values >= floor - 1e-12)
        order = np.lexsort((-values[eligible], sparsity[eligible]))
        return int(eligible[order[0]])

    def _metric(self, by: str) -> np.ndarray:
        if by not in self.metrics.columns:
            raise ValueError(f"metric {by!r} is not in this path's metrics: {list(self.metrics.columns)}")
        values = self.metrics[by].to_numpy(dtype=float)
        if np.isnan(values).all():
            hint = " (the path was fitted without a validation set)" if by.startswith("val") else ""
            raise ValueError(f"metric {by!r} is absent (NaN at every alpha){hint}")
        return values

    def _index(self, index: int) -> int:
        n = len(self.alphas)
        if not -n <= index < n:
            raise IndexError(f"path index {index} is out of range for a path of {n} alphas")
        return index % n

    # ------------------------------------------------------------------ files
    def save(self, directory) -> Path:
        """Write the path to ``directory``: ``path.npz`` (alphas, sparse coefficients, intercepts,
        standardization), ``metrics.csv`` and ``config.json``. ``path.npz`` is written last, so
        a folder without it is never taken for a complete path."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        _atomic_text(directory / "config.json", json.dumps(
            {**self.info, **self.config.to_dict(), "classes": list(self.classes) if self.classes else None}, indent=2))
        _atomic_text(directory / "metrics.csv", self.metrics.to_csv(index=False))
        stacked = sp.vstack(self.coefs, format="csr") if self.coefs else sp.csr_matrix((0, len(self.mean)))
        tmp = directory / "path.npz.tmp"
        with open(tmp, "wb") as fh:
            np.savez(fh, alphas=self.alphas, intercepts=self.intercepts, mean=self.mean, scale=self.scale,
                     coef_data=stacked.data, coef_indices=stacked.indices, coef_indptr=stacked.indptr,
                     coef_shape=np.array([len(self.coefs), *self.intercepts.shape[1:], len(self.mean)]))
        os.replace(tmp, directory / "path.npz")
        return directory

    @classmethod
    def load(cls, directory) -> "PathResult":
        directory = Path(directory)
        if not (directory / "path.npz").exists():
            raise FileNotFoundError(f"{directory}: no complete path here (path.npz is missing)")
        with np.load(directory / "path.npz", allow_pickle=False) as f:
            n_alphas, k, d = (int(v) for v in f["coef_shape"])
            stacked = sp.csr_matrix((f["coef_data"], f["coef_indices"], f["coef_indptr"]), shape=(n_alphas * k, d))
            coefs = [stacked[i * k:(i + 1) * k] for i in range(n_alphas)]
            arrays = {name: f[name] for name in ("alphas", "intercepts", "mean", "scale")}
        stored = json.loads((directory / "config.json").read_text())
        classes = stored.pop("classes", None)
        try:
            config = PathConfig.from_dict(stored, strict=False)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{directory / 'config.json'}: {err}") from None
        info = {k: v for k, v in stored.items() if k not in _CONFIG_FIELDS}
        metrics = pd.read_csv(directory / "metrics.csv")
        return cls(arrays["alphas"], coefs, arrays["intercepts"], arrays["mean"], arrays["scale"], metrics,
                   config, tuple(classes) if classes else None, info)


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
