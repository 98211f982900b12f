"""Feature ordering (A.3, Fig. 12): a class's regularization path beside pictures of the features in
the order they enter it.

The order itself is :func:`studykit.solver.analyses.feature_order` (first path index at which a
feature's coefficient for the class is non-zero, alphas decreasing); the path panel is
:func:`studykit.solver.analyses.plot_path`. This module adds the right-hand panel: one column per
entering feature (earliest first), one row per kind of picture (e.g. feature visualization and
LIME), each column titled with its entry index ``T`` and the sign of its final coefficient.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from studykit.solver.analyses import feature_order, plot_path
from studykit.solver.results import PathResult

Pictures = Mapping[str, Callable[[int], Path]]


def plot_feature_order(result: PathResult, class_index, pictures: Pictures, *, n_features: int = 5) -> Figure:
    """Fig. 12 for one class: the path (left) and the first ``n_features`` features to enter it (right).

    Parameters
    ----------
    result : PathResult
    class_index : int or str
        Class index or name.
    pictures : mapping of row label -> callable ``feature -> PNG path``
        One row of pictures per entry, e.g. ``{"visualization": fv_provider, "LIME": lime_provider}``
        (see :class:`~studykit.interpret.provider.FeatureImageProvider`).
    n_features : int
        Features shown; fewer when fewer ever enter the path.

    Returns
    -------
    Figure
        A new figure not registered with pyplot; its picture axes have titles
        ``"T={entry_index}\\nfeature {feature} ({sign})"``.
    """
    if n_features < 1:
        raise ValueError(f"n_features={n_features!r} is invalid: expected an integer >= 1")
    if not pictures:
        raise ValueError("pictures is empty: give at least one kind of feature picture")
    order = feature_order(result, [class_index]).head(n_features)
    n_cols, n_rows = max(len(order), 1), len(pictures)
    figure = Figure(figsize=(6.0 + 1.6 * n_cols, max(4.0, 1.8 * n_rows)), layout="constrained")
    left, right = figure.subfigures(1, 2, width_ratios=[6.0, 1.6 * n_cols])
    plot_path(result, class_index, ax=left.add_subplot(), n_annotate=n_features)
    axes = np.atleast_2d(right.subplots(n_rows, n_cols, squeeze=False))
    for r, (label, picture) in enumerate(pictures.items()):
        for c in range(n_cols):
            _draw_picture(axes[r, c], order.iloc[c] if c < len(order) else None, picture, first_row=r == 0)
        axes[r, 0].set_ylabel(label)
    return figure


def write_feature_order(result: PathResult, out_dir, pictures: Pictures, *, classes: Sequence | None = None,
                        n_features: int = 5) -> dict[str, Path]:
    """Write ``feature_order.csv`` (every entering feature of each class) and one figure
    ``order_{class_index}.png`` per class (:func:`plot_feature_order`) to ``out_dir``.

    Returns
    -------
    dict of file name -> Path
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = feature_order(result, classes)
    written = {"feature_order.csv": out / "feature_order.csv"}
    table.to_csv(written["feature_order.csv"], index=False)
    for c in pd.unique(table["class_index"]) if len(table) else []:
        name = f"order_{int(c)}.png"
        plot_feature_order(result, int(c), pictures, n_features=n_features).savefig(out / name, dpi=120)
        written[name] = out / name
    return written


def _draw_picture(ax, row: pd.Series | None, picture: Callable[[int], Path], *, first_row: bool) -> None:
    from PIL import Image

    ax.set_xticks([])
    ax.set_yticks([])
    if row is None:
        ax.set_axis_off()
        return
    with Image.open(picture(int(row["feature"]))) as image:
        ax.imshow(np.asarray(image.convert("RGB")))
    if first_row:
        sign = "+" if row["final_sign"] > 0 else "-" if row["final_sign"] < 0 else "0"
        ax.set_title(f"T={int(row['entry_index'])}\nfeature {int(row['feature'])} ({sign})", fontsize=8)
