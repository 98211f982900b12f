"""Analyses of a regularization path and its decision layers (appendix A.3 and D).

Each analysis returns a labelled pandas DataFrame with unrounded numbers; each figure function
draws on a given matplotlib ``Axes`` (or on a new, unregistered :class:`matplotlib.figure.Figure`
when ``ax`` is None, so that no global pyplot state is touched) and returns the ``Axes``.
:func:`write_report` saves all of them as CSV and PNG files.

- :func:`nnz_per_class`, :func:`plot_nnz_per_class`: deep features used per class (Fig. 17).
- :func:`feature_order`, :func:`plot_path`: the order in which features enter the path (Fig. 12).
- :func:`topk_layer`, :func:`topk_table`: accuracy with only the top-k features per class, or with
  only the rest (Table 37).
- :func:`tradeoff`, :func:`plot_tradeoff`: accuracy versus features per class along the path (Fig. 16).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .layers import DecisionLayer
from .results import PathResult

log = logging.getLogger(__name__)

#: Columns of :func:`feature_order`.
FEATURE_ORDER_COLUMNS = ("class_index", "class", "rank", "feature", "entry_index", "entry_alpha",
                         "persistent", "final_coef", "final_sign")
#: Columns of :func:`topk_table`.
TOPK_COLUMNS = ("layer", "k", "features_per_class", "all", "top_k", "rest")
#: Columns of :func:`tradeoff`.
TRADEOFF_COLUMNS = ("index", "alpha", "nnz", "features_per_class", "features_used",
                    "train_accuracy", "val_accuracy", "test_accuracy")
_ACCURACIES = ("train_accuracy", "val_accuracy", "test_accuracy")


# ---------------------------------------------------------------------- features per class (Fig. 17)
def nnz_per_class(layer: DecisionLayer) -> pd.DataFrame:
    """Number of deep features with a non-zero weight, per class (Fig. 17).

    Parameters
    ----------
    layer : DecisionLayer
        Weight of shape ``(n_classes, n_features)``.

    Returns
    -------
    DataFrame
        One row per class: ``class_index``, ``class`` (name, or the index as text) and
        ``n_features``; ``n_features`` sums to ``layer.nnz``.
    """
    return pd.DataFrame({"class_index": np.arange(layer.n_classes),
                         "class": _class_names(layer.classes, layer.n_classes),
                         "n_features": layer.features_per_class.astype(int)})


def plot_nnz_per_class(layer: DecisionLayer, ax: Axes | None = None) -> Axes:
    """Histogram of the number of deep features used per class (Fig. 17), one bin per count when
    the counts span at most 50 values."""
    ax = _axes(ax, (5.0, 3.5))
    counts = layer.features_per_class
    lo, hi = int(counts.min()), int(counts.max())
    ax.hist(counts, bins=min(hi - lo + 1, 50), range=(lo - 0.5, hi + 0.5), color="C0", edgecolor="white")
    ax.set_xlabel("deep features used (non-zero weights)")
    ax.set_ylabel("classes")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{layer.name}: mean {counts.mean():.3g} of {layer.n_features} features per class")
    return ax


# ---------------------------------------------------------------------- feature order (Fig. 12)
def feature_order(result: PathResult, classes=None) -> pd.DataFrame:
    """The order in which features enter the regularization path, per class (A.3, Fig. 12).

    A feature's entry index is the first path index (alphas decreasing) at which its coefficient
    for the class is non-zero; it may leave the model again later (``persistent`` is False then).
    Features tied at one entry index are ranked by the magnitude of their coefficient there
    (larger first), then by feature index. Features that are zero along the whole path are omitted.

    Parameters
    ----------
    result : PathResult
    classes : iterable of int or str, optional
        Class indices or names (from ``result.classes``); default: all classes.

    Returns
    -------
    DataFrame
        Columns ``FEATURE_ORDER_COLUMNS``: ``rank`` starts at 1; ``entry_alpha`` is
        ``result.alphas[entry_index]``; ``final_coef`` and ``final_sign`` are the standardized-scale
        coefficient and its sign at the last path index.
    """
    n_classes = _n_classes(result)
    names = _class_names(result.classes, n_classes)
    stacked = sp.vstack(result.coefs, format="csr")
    frames = [_class_order(_class_path(stacked, c, n_classes), result.alphas, c, names[c])
              for c in _resolve_classes(classes, names)]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return frame.reindex(columns=list(FEATURE_ORDER_COLUMNS))


def _class_order(path: np.ndarray, alphas, c: int, name: str) -> pd.DataFrame:
    """Entry order of one class from its coefficient path, shape (n_alphas, n_features)."""
    nz = path != 0
    features = np.flatnonzero(nz.any(0))
    entry = nz[:, features].argmax(0)
    at_entry = np.abs(path[entry, features])
    order = np.lexsort((features, -at_entry, entry))
    features, entry = features[order], entry[order]
    final = path[-1, features]
    return pd.DataFrame({
        "class_index": c, "class": name, "rank": np.arange(1, len(features) + 1), "feature": features,
        "entry_index": entry, "entry_alpha": np.asarray(alphas, dtype=float)[entry],
        "persistent": nz[:, features].sum(0) == len(path) - entry,
        "final_coef": final, "final_sign": np.sign(final).astype(int)})


def plot_path(result: PathResult, class_index, ax: Axes | None = None, *, n_annotate: int = 5) -> Axes:
    """Regularization path of one class (Fig. 12, left): standardized-scale coefficients against the
    path index, one line per feature that ever enters; the first ``n_annotate`` features to enter
    are coloured and labelled ``rank: feature`` at their entry point, the rest drawn in grey.

    Parameters
    ----------
    result : PathResult
    class_index : int or str
        Class index or name.
    ax : Axes, optional
    n_annotate : int

    Returns
    -------
    Axes
    """
    n_classes = _n_classes(result)
    names = _class_names(result.classes, n_classes)
    (c,) = _resolve_classes([class_index], names)
    path = _class_path(sp.vstack(result.coefs, format="csr"), c, n_classes)
    first = _class_order(path, result.alphas, c, names[c]).head(n_annotate)
    ax = _axes(ax, (6.0, 4.0))
    steps, highlighted = np.arange(len(path)), set(first["feature"].tolist())
    for j in np.flatnonzero((path != 0).any(0)):
        if j not in highlighted:
            ax.plot(steps, path[:, j], color="0.75", lw=0.8)
    for n, row in enumerate(first.itertuples()):
        color = f"C{n % 10}"
        ax.plot(steps, path[:, row.feature], color=color, lw=1.6, label=f"{row.rank}: feature {row.feature}")
        ax.annotate(f"{row.rank}", (row.entry_index, path[row.entry_index, row.feature]), color=color,
                    textcoords="offset points", xytext=(3, 3), fontsize=8)
    ax.axhline(0.0, color="black", lw=0.5)
    ax.set_xlabel("path index (alpha decreasing)")
    ax.set_ylabel("coefficient (standardized features)")
    ax.set_title(f"regularization path: class {names[c]}")
    if len(first):
        ax.legend(fontsize=7, title="entry rank", title_fontsize=7)
    return ax


# ---------------------------------------------------------------------- top-k features (Table 37)
def topk_layer(layer: DecisionLayer, k: int, *, scale=None, keep: str = "top") -> DecisionLayer:
    """The layer restricted to its top-``k`` features per class, or to all the others.

    Features are ranked per class by ``|weight[c, j]| * scale[j]`` (ties: lower feature index
    first). Raw-scale weights are not comparable across features with different spreads, so pass
    the training features' standard deviation as ``scale`` (e.g. ``PathResult.scale``): the
    magnitude is then that of the weight on standardized features, the quantity the elastic net
    penalizes. Without ``scale`` raw magnitudes are used.

    Parameters
    ----------
    layer : DecisionLayer
    k : int >= 0
        Features kept per class; ``k >= n_features`` keeps them all.
    scale : array, shape (n_features,), optional
    keep : ``"top"`` (zero all but the top-k weights) or ``"rest"`` (zero the top-k weights).

    Returns
    -------
    DecisionLayer
        Same bias, family and classes; the name gets a ``"[top-k]"`` or ``"[rest-k]"`` suffix.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k={k!r} is invalid: expected an integer >= 0")
    if keep not in ("top", "rest"):
        raise ValueError(f"keep={keep!r} is invalid: expected 'top' or 'rest'")
    magnitude = np.abs(layer.weight.astype(np.float64))
    if scale is not None:
        scale = np.asarray(scale, dtype=np.float64)
        if scale.shape != (layer.n_features,):
            raise ValueError(f"scale has shape {scale.shape}; layer {layer.name!r} expects ({layer.n_features},)")
        magnitude = magnitude * scale
    ranked = np.argsort(-magnitude, axis=1, kind="stable")[:, :k]
    top = np.zeros(layer.weight.shape, dtype=bool)
    np.put_along_axis(top, ranked, True, axis=1)
    mask = top if keep == "top" else ~top
    return dataclasses.replace(layer, weight=np.where(mask, layer.weight, 0).astype(layer.weight.dtype),
                               name=f"{layer.name}[{keep}-{k}]")


def topk_table(layers: dict[str, DecisionLayer], X, y, k: int = 10, *, scale=None) -> pd.DataFrame:
    """Accuracy of each layer with all features, only its top-``k`` per class, and only the rest
    (Table 37); the bias is kept in all three. See :func:`topk_layer` for the ranking and ``scale``.

    Parameters
    ----------
    layers : dict of name -> DecisionLayer (multinomial), e.g. ``{"dense": ..., "sparse": ...}``.
    X : array or tensor, shape (n_samples, n_features), raw features.
    y : array, shape (n_samples,), integer labels.
    k : int >= 0
    scale : array, shape (n_features,), optional

    Returns
    -------
    DataFrame
        One row per layer, columns ``TOPK_COLUMNS``; accuracies are fractions in [0, 1] and
        ``features_per_class`` is the mean number of non-zero weights per class of the full layer.
    """
    y = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y).reshape(-1)
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    rows = []
    for name, layer in layers.items():
        if layer.family != "multinomial":
            raise ValueError(f"topk_table needs multinomial layers; {name!r} is {layer.family}")
        accuracy = [float(np.mean(m.predict(X) == y)) for m in
                    (layer, topk_layer(layer, k, scale=scale), topk_layer(layer, k, scale=scale, keep="rest"))]
        rows.append((name, k, float(layer.features_per_class.mean()), *accuracy))
    return pd.DataFrame(rows, columns=list(TOPK_COLUMNS))


# ---------------------------------------------------------------------- sparsity trade-off (Fig. 16)
def tradeoff(result: PathResult) -> pd.DataFrame:
    """Accuracy against sparsity along the path (Fig. 16): one row per path index, columns
    ``TRADEOFF_COLUMNS`` taken from ``result.metrics`` (NaN for a split the path was not
    evaluated on)."""
    return result.metrics.reindex(columns=list(TRADEOFF_COLUMNS)).reset_index(drop=True)


def plot_tradeoff(result: PathResult, ax: Axes | None = None, *, selected: int | None = None) -> Axes:
    """Accuracy (each evaluated split) against mean features per class on a log axis (Fig. 16).

    Path points with no feature (``features_per_class == 0``, e.g. at ``alpha_max``) cannot be
    placed on a log axis and are left out. ``selected``, a path index, is marked on every curve.
    Raises ``ValueError`` when the path has no accuracy metric (e.g. a gaussian path).
    """
    frame = tradeoff(result)
    splits = [c for c in _ACCURACIES if frame[c].notna().any()]
    if not splits:
        raise ValueError("the path has no accuracy metric to plot (all NaN)")
    ax = _axes(ax, (5.0, 3.5))
    shown = frame[frame["features_per_class"] > 0]
    for n, column in enumerate(splits):
        ax.plot(shown["features_per_class"], shown[column], marker="o", ms=3, color=f"C{n}",
                label=column.removesuffix("_accuracy"))
    if selected is not None:
        point = frame.iloc[result.select_index(selected)]
        if point["features_per_class"] > 0:
            ax.plot([point["features_per_class"]] * len(splits), point[splits].to_numpy(float), "k*", ms=10,
                    label=f"selected (index {int(point['index'])})")
    ax.set_xscale("log")
    ax.set_xlabel("mean deep features per class")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=8)
    return ax


# ---------------------------------------------------------------------- report
def write_report(result: PathResult, out_dir, *, sparse: DecisionLayer, dense: DecisionLayer | None = None,
                 X_test=None, y_test=None, k: int = 10, scale=None) -> dict[str, Path]:
    """Write the path analyses of ``result`` and the selected ``sparse`` layer to ``out_dir``.

    Files: ``nnz_per_class.csv/.png`` (of ``sparse``), ``feature_order.csv`` (all classes),
    ``path_<class>.png`` for the first two classes, ``topk.csv`` (only with ``X_test`` and
    ``y_test``; rows ``dense`` if given, then ``sparse``; ``scale`` as in :func:`topk_layer`),
    ``tradeoff.csv`` and ``tradeoff.png`` (the latter when the path has an accuracy metric; the
    path point whose alpha equals ``sparse.alpha`` is marked).

    Returns
    -------
    dict of file name -> Path, for every file written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {"nnz_per_class.csv": _csv(nnz_per_class(sparse), out / "nnz_per_class.csv"),
               "nnz_per_class.png": _png(plot_nnz_per_class(sparse), out / "nnz_per_class.png"),
               "feature_order.csv": _csv(feature_order(result), out / "feature_order.csv")}
    for c, name in enumerate(_path_file_names(result.classes, _n_classes(result))[:2]):
        written[name] = _png(plot_path(result, c), out / name)
    if X_test is not None and y_test is not None:
        layers = {"dense": dense, "sparse": sparse} if dense is not None else {"sparse": sparse}
        written["topk.csv"] = _csv(topk_table(layers, X_test, y_test, k, scale=scale), out / "topk.csv")
    frame = tradeoff(result)
    written["tradeoff.csv"] = _csv(frame, out / "tradeoff.csv")
    if frame[list(_ACCURACIES)].notna().any().any():
        selected = _path_index_of(result, sparse)
        written["tradeoff.png"] = _png(plot_tradeoff(result, selected=selected), out / "tradeoff.png")
    log.info("wrote %d report files to %s", len(written), out)
    return written


def _path_index_of(result: PathResult, layer: DecisionLayer) -> int | None:
    """The path index whose alpha is ``layer.alpha``, or None (e.g. a layer from elsewhere)."""
    hits = np.flatnonzero(np.isclose(np.asarray(result.alphas, dtype=float), layer.alpha, rtol=1e-9, atol=0))
    return int(hits[0]) if len(hits) else None


def _path_file_names(classes, n_classes: int) -> list[str]:
    """``path_<class>.png`` per class, the name reduced to safe characters, made unique by index."""
    names, seen = [], set()
    for c, name in enumerate(_class_names(classes, n_classes)):
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.") or str(c)
        slug = slug if slug not in seen else f"{slug}_{c}"
        seen.add(slug)
        names.append(f"path_{slug}.png")
    return names


# ---------------------------------------------------------------------- helpers
def _csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def _png(ax: Axes, path: Path) -> Path:
    ax.figure.savefig(path, dpi=120, format="png")
    return path


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    """``ax``, or the axes of a new figure that no pyplot state knows about."""
    return ax if ax is not None else Figure(figsize=size, layout="constrained").add_subplot()


def _n_classes(result: PathResult) -> int:
    return int(np.shape(result.intercepts)[1])


def _class_path(stacked: sp.csr_matrix, c: int, n_classes: int) -> np.ndarray:
    """Coefficients of class ``c`` along the path, dense, shape (n_alphas, n_features)."""
    return stacked[c::n_classes].toarray()


def _class_names(classes, n_classes: int) -> list[str]:
    if classes is None:
        return [str(c) for c in range(n_classes)]
    if len(classes) != n_classes:
        raise ValueError(f"{len(classes)} class names for {n_classes} classes")
    return [str(c) for c in classes]


def _resolve_classes(classes, names: list[str]) -> list[int]:
    """Class indices for ``classes`` (indices or names); all classes when None."""
    if classes is None:
        return list(range(len(names)))
    out = []
    for c in classes:
        if isinstance(c, (int, np.integer)) and not isinstance(c, bool) and -len(names) <= c < len(names):
            out.append(int(c) % len(names))
        elif isinstance(c, str) and c in names:
            out.append(names.index(c))
        else:
            raise ValueError(f"class {c!r} is neither a class index (0..{len(names) - 1}) nor a class name")
    return out
