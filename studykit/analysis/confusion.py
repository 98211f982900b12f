"""Model confusion vs features shared in the sparse decision layer (appendix G.3, Fig. 34).

For every pair of classes (i, j), i < j: the number of deep features with a non-zero weight for both
classes in the decision layer, and the model confusion max(C_ij, C_ji), where C is the confusion matrix
with rows normalized to sum to 1 (C_ij = share of class-i images predicted as j; a matrix of counts is
normalized, rows without images give 0). The correlation over pairs is reported as Pearson's r and
Spearman's rho with their two-sided p-values.

Inputs are files: a decision layer ``.npz`` with a ``weight`` array of shape (n_classes, n_features)
(as ``DecisionLayer.save`` writes it; class names are read from its ``meta`` when present), read with
numpy alone, and a confusion matrix ``.npy`` or ``.csv`` of shape (n_classes, n_classes).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from .report import ReportFigure, Section, Table, format_p

__all__ = ["read_layer_weight", "read_confusion", "shared_features", "confusion_correlation", "report_sections"]

#: Pairs listed in the most-confused table.
TOP_PAIRS = 20


def read_layer_weight(path: str | os.PathLike) -> tuple[np.ndarray, list[str] | None]:
    """The ``weight`` array (n_classes, n_features) of a decision-layer ``.npz``, and its class names if stored."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such decision layer file")
    try:
        with np.load(path, allow_pickle=False) as data:
            weight = np.asarray(data["weight"])
            meta = json.loads(str(data["meta"])) if "meta" in data.files else {}
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path}: not a decision layer .npz with a weight array ({exc})") from None
    if weight.ndim != 2:
        raise ValueError(f"{path}: weight has shape {weight.shape}, expected (n_classes, n_features)")
    classes = meta.get("classes") if isinstance(meta, dict) else None
    return weight, [str(c) for c in classes] if classes else None


def read_confusion(path: str | os.PathLike) -> np.ndarray:
    """A square confusion matrix from ``.npy`` or ``.csv`` (a CSV may have a header row and an index column)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such confusion matrix file")
    if path.suffix == ".npy":
        matrix = np.load(path, allow_pickle=False)
    elif path.suffix == ".csv":
        matrix = _csv_matrix(path)
    else:
        raise ValueError(f"{path}: expected a .npy or .csv confusion matrix")
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"{path}: confusion matrix has shape {matrix.shape}, expected (n_classes, n_classes)")
    if (matrix < 0).any() or not np.isfinite(matrix).all():
        raise ValueError(f"{path}: confusion matrix has negative or non-finite entries")
    return matrix


def _csv_matrix(path: Path) -> np.ndarray:
    """The numbers of a CSV matrix; a matrix is square, so an extra first row or column holds labels."""
    frame = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
    rows, columns = frame.shape
    if rows == columns and rows > 1 and frame.iloc[0, 0].strip() == "":
        frame = frame.iloc[1:, 1:]
    elif rows == columns + 1 or pd.to_numeric(frame.iloc[0, 1:], errors="coerce").isna().any():
        frame = frame.iloc[1:]
    if frame.shape[1] == frame.shape[0] + 1:
        frame = frame.iloc[:, 1:]
    try:
        return frame.astype(float).to_numpy()
    except ValueError as exc:
        raise ValueError(f"{path}: non-numeric cells in the confusion matrix ({exc})") from None


def shared_features(weight: np.ndarray, confusion: np.ndarray, classes: list[str] | None = None) -> pd.DataFrame:
    """One row per class pair i < j: ``class_i``, ``class_j`` (names or indices), ``shared_features``,
    ``confusion`` = max(C_ij, C_ji) of the row-normalized matrix, ``c_ij``, ``c_ji``."""
    n_classes = weight.shape[0]
    if confusion.shape != (n_classes, n_classes):
        raise ValueError(f"the confusion matrix has shape {confusion.shape} but the layer has {n_classes} classes")
    names = classes if classes is not None else [str(i) for i in range(n_classes)]
    used = (weight != 0).astype(np.int64)
    shared = used @ used.T
    confusion = np.asarray(confusion, dtype=float)
    totals = confusion.sum(axis=1, keepdims=True)
    rates = np.divide(confusion, totals, out=np.zeros_like(confusion), where=totals > 0)
    i, j = np.triu_indices(n_classes, k=1)
    return pd.DataFrame({"class_i": np.asarray(names)[i], "class_j": np.asarray(names)[j],
                         "shared_features": shared[i, j], "confusion": np.maximum(rates[i, j], rates[j, i]),
                         "c_ij": rates[i, j], "c_ji": rates[j, i]})


def confusion_correlation(pairs: pd.DataFrame) -> pd.DataFrame:
    """Pearson and Spearman correlation of ``shared_features`` and ``confusion`` over pairs, with p-values."""
    rows = []
    for method, test in (("pearson", stats.pearsonr), ("spearman", stats.spearmanr)):
        constant = pairs["shared_features"].nunique() < 2 or pairs["confusion"].nunique() < 2
        result = (np.nan, np.nan) if len(pairs) < 3 or constant else test(pairs["shared_features"], pairs["confusion"])
        rows.append({"method": method, "n_pairs": len(pairs), "correlation": float(result[0]),
                     "p_value": float(result[1])})
    return pd.DataFrame(rows)


def report_sections(weight: np.ndarray, confusion: np.ndarray, classes: list[str] | None = None) -> list[Section]:
    """Fig. 34 and its correlation table, and the most confused pairs."""
    pairs = shared_features(weight, confusion, classes)
    correlation = confusion_correlation(pairs)
    display = correlation.assign(correlation=correlation["correlation"].map(lambda r: f"{r:.3f}"),
                                 p_value=correlation["p_value"].map(format_p))
    top = pairs.sort_values(["confusion", "shared_features"], ascending=False).head(TOP_PAIRS)
    tables = [Table("confusion_correlation", "Correlation of shared features and confusion", correlation, display),
              Table("confused_pairs", "Most confused class pairs", top.reset_index(drop=True))]
    return [Section("Model confusion vs shared features (G.3, Fig. 34)",
                    f"{weight.shape[0]} classes, {weight.shape[1]} features, "
                    f"{int((weight != 0).sum())} non-zero weights.", tables, [_figure(pairs, correlation)],
                    files={"class_pairs": pairs})]


def _figure(pairs: pd.DataFrame, correlation: pd.DataFrame) -> ReportFigure:
    figure = Figure(figsize=(5, 3.5))
    ax = figure.subplots()
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(pairs))
    ax.scatter(pairs["shared_features"] + jitter, 100 * pairs["confusion"], s=6, alpha=0.3, color="tab:blue")
    means = pairs.groupby("shared_features")["confusion"].mean()
    ax.plot(means.index, 100 * means.to_numpy(), "o-", color="tab:red", label="mean per count")
    r = correlation.set_index("method").loc["pearson"]
    ax.set(xlabel="features shared in the decision layer", ylabel="confusion max(C_ij, C_ji) (%)",
           title=f"Pearson r = {r['correlation']:.3f}, p = {format_p(r['p_value']) or 'n/a'}")
    ax.legend()
    return ReportFigure("fig34_confusion_vs_shared", "Fig. 34: confusion vs shared features", figure)
