"""Sampling rules shared by the studies, and what a study's sampling hands to the batch writer.

- :func:`significant_features`: the appendix's 5% rule (a feature counts for a class when its weight
  exceeds 5% of the class's largest weight);
- :func:`band_rows`: the rows whose score lies in a percentile band of all rows' scores;
- :class:`PageTask`: one sampled task, as the variables its page shows and its hidden answer key;
- :class:`Counts`: how many tasks (classes, pairs, ...) were requested and built, and why fewer.
"""

from __future__ import annotations

import dataclasses
import math
import numpy as np

__all__ = ["PageTask", "Counts", "significant_features", "band_rows", "LETTERS"]

#: Option names on the pages, in display order.
LETTERS = ("A", "B", "C")


@dataclasses.dataclass(frozen=True)
class PageTask:
    """One task of a study.

    Attributes
    ----------
    variables : dict of str to str
        What the page shows (a row of ``tasks.csv`` without ``task_id``): texts, numbers, and asset file
        names in the columns whose names start with ``image`` or ``pattern``.
    key : dict of str to str
        The hidden answer key and conditions (a row of ``answer_key.csv`` without ``task_id``).
    """

    variables: dict[str, str]
    key: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Counts:
    """What a study's sampling was asked for and what it built.

    Attributes
    ----------
    requested, built : dict of str to int
        The same keys (``classes``, ``tasks``, ``pairs``, ...) in both.
    notes : tuple of str
        Why fewer were built than requested; empty when everything asked for was built.
    exposure : tuple of dict
        Per (class, layer), where a study shows the same class in several tasks: ``layer``, ``class``,
        ``tasks``, ``band_images`` (distinct images each band offers), ``distinct_correct`` and
        ``repeated_correct`` (tasks whose correct image is that of an earlier task of the same pair).
    warnings : tuple of str
        What a worker could learn across HITs (a correct image that repeats); empty when nothing.
    """

    requested: dict[str, int]
    built: dict[str, int]
    notes: tuple[str, ...] = ()
    exposure: tuple[dict, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """The manifest's ``counts`` block."""
        return {"requested": dict(self.requested), "built": dict(self.built), "notes": list(self.notes),
                "warnings": list(self.warnings), "exposure": [dict(e) for e in self.exposure]}

    @property
    def shortfall(self) -> str | None:
        """``"<built> of <requested> tasks built"`` when fewer tasks were built than requested, else None."""
        asked, built = self.requested.get("tasks", 0), self.built.get("tasks", 0)
        return f"{built} of {asked} tasks built" if built < asked else None


def significant_features(weights: np.ndarray, threshold: float) -> np.ndarray:
    """The 5% rule: which features a decision layer uses for each class with significant weight.

    Parameters
    ----------
    weights : ndarray, shape (n_classes, n_features)
        The layer's weights (on the scale chosen by the spec's ``inputs.coefficients``).
    threshold : float
        Fraction of the class's largest weight a feature's weight must exceed (0.05 in the paper).

    Returns
    -------
    ndarray of bool, shape (n_classes, n_features)
        ``weights[c, i] > threshold * max_j weights[c, j]``; a class without any positive weight has
        no significant feature (negative weights are evidence against the class, not patterns the
        model looks for).
    """
    weights = np.asarray(weights, dtype=np.float64)
    largest = weights.max(axis=1, keepdims=True)
    return (weights > threshold * largest) & (largest > 0)


def band_rows(order: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """The rows in the percentile band ``(low, high)`` of a ranking.

    Parameters
    ----------
    order : ndarray of int, shape (n_rows,)
        Rows sorted by increasing score (``np.argsort(scores, kind="stable")``).
    band : (float, float)
        Percentiles in [0, 100].

    Returns
    -------
    ndarray of int
        ``order[floor(n * low / 100) : ceil(n * high / 100)]``: the rows ranked at or above the
        ``low``-th percentile and below the ``high``-th, never empty (the band (99.99, 100) of 3,000
        rows holds the top row; of 50,000 rows, the top 5).
    """
    n = len(order)
    if n == 0:
        raise ValueError("band_rows: no rows to rank")
    low, high = band
    start = min(math.floor(n * low / 100 + 1e-9), n - 1)
    stop = min(max(math.ceil(n * high / 100 - 1e-9), start + 1), n)
    return np.asarray(order[start:stop])

