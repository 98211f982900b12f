"""Estimates with uncertainty: mean +- standard error, 95 % intervals, and tests between two groups.

The paper reports accuracies as mean +- standard error over tasks (Table 25). For a 0/1 outcome per
task (the aggregated answer is right or not) this module gives, per group:

- ``mean`` and ``se`` = s / sqrt(n), s the sample standard deviation (ddof=1), as the paper;
- a 95 % interval ``ci_low``-``ci_high``: Wilson's score interval (default; sound for small n and
  proportions near 0 or 1) or a seeded percentile bootstrap over tasks;
- between two groups (dense vs sparse): the difference, Newcombe's hybrid score interval for it
  (from the two Wilson intervals), and the two-sided two-proportion z-test with pooled variance;
- between two outcomes of the same tasks (f_p vs f_l matched): McNemar's exact test.

All numbers are unrounded; reports round them when they render.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["wilson_interval", "bootstrap_interval", "proportions", "compare_proportions", "compare_groups",
           "mcnemar_test", "ESTIMATE_COLUMNS", "COMPARISON_COLUMNS", "INTERVALS", "z_critical"]

#: Columns :func:`proportions` adds after the group columns.
ESTIMATE_COLUMNS = ("n", "successes", "mean", "se", "ci_low", "ci_high")
#: Columns of :func:`compare_proportions`.
COMPARISON_COLUMNS = ("group_a", "group_b", "n_a", "n_b", "mean_a", "mean_b", "difference", "ci_low", "ci_high",
                      "z", "p_value")
INTERVALS = ("wilson", "bootstrap")


def z_critical(confidence: float) -> float:
    """The two-sided normal quantile of ``confidence`` (1.96 for 0.95)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_interval(successes, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's score interval for ``successes`` out of ``n`` (arrays broadcast; NaN where n = 0).

    .. math:: \\frac{\\hat p + z^2/2n \\pm z \\sqrt{\\hat p (1 - \\hat p)/n + z^2/4n^2}}{1 + z^2/n}
    """
    z = z_critical(confidence)
    k, n = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z ** 2 / (2 * n)) / (1 + z ** 2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z ** 2 / (4 * n ** 2)) / (1 + z ** 2 / n)
    return centre - half, centre + half


def bootstrap_interval(values: Sequence[float], confidence: float = 0.95, *, n_resamples: int = 2000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (NaN for no values)."""
    values = np.asarray(values, dtype=float)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if values.size == 0:
        return np.nan, np.nan
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(n_resamples, values.size))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def proportions(frame: pd.DataFrame, outcome: str, by: str | Sequence[str] | None = None, *,
                interval: str = "wilson", confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Share of true ``outcome`` per group, with standard error and interval.

    Parameters
    ----------
    frame : DataFrame
        One row per unit (a task); ``outcome`` is boolean (NaN rows are left out).
    outcome : str
        The boolean column.
    by : str or list of str, optional
        Group columns; None for one overall row.
    interval : {"wilson", "bootstrap"}
        Kind of interval.
    confidence : float
        Interval coverage.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    DataFrame
        The group columns (groups in order of appearance), then ``n``, ``successes``, ``mean``, ``se``,
        ``ci_low``, ``ci_high``.
    """
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, got {interval!r}")
    by = [by] if isinstance(by, str) else list(by or [])
    data = frame[frame[outcome].notna()]
    values = data[outcome].astype(float)
    if by:
        groups = values.groupby([data[c] for c in by], sort=False, observed=True)
        table = groups.agg(n="size", successes="sum", mean="mean", std=lambda v: v.std(ddof=1)).reset_index()
    else:
        table = pd.DataFrame({"n": [len(values)], "successes": [values.sum()], "mean": [values.mean()],
                              "std": [values.std(ddof=1)]})
    table["se"] = table.pop("std") / np.sqrt(table["n"])
    if interval == "wilson":
        table["ci_low"], table["ci_high"] = wilson_interval(table["successes"], table["n"], confidence)
    else:
        cells = [values] if not by else [g for _, g in groups]
        table[["ci_low", "ci_high"]] = [bootstrap_interval(v, confidence, seed=seed) for v in cells]
    return table[[*by, *ESTIMATE_COLUMNS]]


def compare_proportions(successes_a: float, n_a: float, successes_b: float, n_b: float, *,
                        confidence: float = 0.95) -> dict[str, float]:
    """Difference b - a of two independent proportions: Newcombe interval and two-proportion z-test.

    Returns
    -------
    dict
        ``difference`` (p_b - p_a), ``ci_low``, ``ci_high`` (Newcombe's hybrid score interval), ``z`` and
        the two-sided ``p_value`` of the pooled z-test (NaN when a group is empty or both proportions
        are 0 or both 1).
    """
    p_a, p_b = successes_a / n_a if n_a else np.nan, successes_b / n_b if n_b else np.nan
    (low_a, high_a), (low_b, high_b) = (wilson_interval(successes_a, n_a, confidence),
                                        wilson_interval(successes_b, n_b, confidence))
    difference = p_b - p_a
    pooled = (successes_a + successes_b) / (n_a + n_b) if n_a + n_b else np.nan
    spread = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b)) if n_a and n_b else np.nan
    z = difference / spread if spread else np.nan
    return {"difference": difference,
            "ci_low": difference - np.sqrt((p_b - low_b) ** 2 + (high_a - p_a) ** 2),
            "ci_high": difference + np.sqrt((high_b - p_b) ** 2 + (p_a - low_a) ** 2),
            "z": z, "p_value": float(2 * stats.norm.sf(abs(z))) if np.isfinite(z) else np.nan}


def compare_groups(estimates: pd.DataFrame, group: str, a: str, b: str, *, confidence: float = 0.95,
                   by: Sequence[str] = ()) -> pd.DataFrame:
    """:func:`compare_proportions` of group ``b`` against ``a`` within each combination of ``by``.

    Parameters
    ----------
    estimates : DataFrame
        From :func:`proportions`, grouped by ``group`` (and ``by``).
    group : str
        Column holding ``a`` and ``b`` (e.g. ``layer`` with ``dense`` and ``sparse``).
    a, b : str
        The two groups; the difference is b - a.
    by : sequence of str
        Further columns to compare within (e.g. ``subset``).

    Returns
    -------
    DataFrame
        ``by`` columns then :data:`COMPARISON_COLUMNS`; rows where a group is absent are left out.
    """
    rows = []
    for keys, part in (estimates.groupby(list(by), sort=False) if by else [((), estimates)]):
        keys = keys if isinstance(keys, tuple) else (keys,)
        sides = {name: part[part[group] == name] for name in (a, b)}
        if any(side.empty for side in sides.values()):
            continue
        first, second = sides[a].iloc[0], sides[b].iloc[0]
        test = compare_proportions(first["successes"], first["n"], second["successes"], second["n"],
                                   confidence=confidence)
        rows.append({**dict(zip(by, keys)), "group_a": a, "group_b": b, "n_a": first["n"], "n_b": second["n"],
                     "mean_a": first["mean"], "mean_b": second["mean"], **test})
    return pd.DataFrame(rows, columns=[*by, *COMPARISON_COLUMNS])


def mcnemar_test(first: Sequence[bool], second: Sequence[bool]) -> dict[str, float]:
    """McNemar's exact test of two paired 0/1 outcomes (the same tasks).

    Returns
    -------
    dict
        ``n`` pairs, ``only_first`` and ``only_second`` (the discordant counts), ``difference``
        (mean second - mean first) and the two-sided exact binomial ``p_value`` on the discordant
        pairs (1 when there are none).
    """
    first, second = np.asarray(first, dtype=bool), np.asarray(second, dtype=bool)
    if first.shape != second.shape:
        raise ValueError(f"mcnemar_test: outcomes of different lengths ({first.size} and {second.size})")
    only_first, only_second = int((first & ~second).sum()), int((second & ~first).sum())
    discordant = only_first + only_second
    p_value = stats.binomtest(only_second, discordant, 0.5).pvalue if discordant else 1.0
    difference = (only_second - only_first) / first.size if first.size else np.nan
    return {"n": first.size, "only_first": only_first, "only_second": only_second, "difference": difference,
            "p_value": float(p_value)}
