"""Tables every study reports: estimates with intervals, group comparisons, agreement, and aggregation methods.

Each function takes unrounded long tables (from :mod:`studykit.analysis.stats`) and returns a
:class:`~studykit.analysis.report.Table` whose CSV keeps them unrounded and whose Markdown/LaTeX view
shows ``mean ± SE`` in percent with the 95 % interval, as the paper's Table 25.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import pandas as pd

from .aggregate import dawid_skene, majority_vote, weighted_majority_vote
from .agreement import krippendorff_alpha
from .report import Table, format_interval, format_p, format_percent
from .stats import compare_groups, proportions

__all__ = ["EstimateSettings", "estimate_table", "comparison_table", "agreement_table", "method_table",
           "ordered_groups", "method_caution", "dawid_skene_note"]

#: Conventional order of the paper's groups; other values follow in their order of appearance.
_ORDER = ("dense", "sparse", "fp_fl", "fl_fr", "fp", "fl", "fr")


@dataclasses.dataclass(frozen=True)
class EstimateSettings:
    """How estimates are computed: interval kind, coverage, seed (of the vote's tie break and the bootstrap)."""

    interval: str = "wilson"
    confidence: float = 0.95
    seed: int = 0

    def __post_init__(self):
        if self.interval not in ("wilson", "bootstrap"):
            raise ValueError(f"interval must be wilson or bootstrap, got {self.interval!r}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence!r}")


def ordered_groups(values: pd.Series | Sequence[str]) -> list[str]:
    """Distinct values, the paper's groups (dense, sparse, ...) first, then the others as they appear."""
    present = list(dict.fromkeys(str(v) for v in values))
    return [g for g in _ORDER if g in present] + [g for g in present if g not in _ORDER]


def estimate_table(outcomes: pd.DataFrame, outcome: str, *, rows: str | None, columns: str, name: str, title: str,
                   settings: EstimateSettings, note: str = "") -> Table:
    """Share of true ``outcome`` per ``rows`` x ``columns`` (e.g. subset x layer), as ``mean ± SE [CI]``.

    The CSV has one row per cell with ``n``, ``successes``, ``mean``, ``se``, ``ci_low``, ``ci_high``;
    the display has one row per value of ``rows`` and, per value of ``columns``, a ``mean ± SE`` column,
    a 95 % interval column and a count column.
    """
    by = [c for c in (rows, columns) if c is not None]
    data = proportions(outcomes, outcome, by, interval=settings.interval, confidence=settings.confidence,
                       seed=settings.seed)
    coverage = f"{settings.confidence:.0%} CI"
    display = pd.DataFrame(index=pd.Index(ordered_groups(data[rows]) if rows else ["all"]))
    for group in ordered_groups(data[columns]):
        cells = data[data[columns] == group].set_index(rows) if rows else data[data[columns] == group]
        cells = cells.reindex(display.index) if rows else cells.set_axis(display.index)
        display[f"{group} (%)"] = [format_percent(m, s) for m, s in zip(cells["mean"], cells["se"])]
        display[f"{group} {coverage}"] = [format_interval(lo, hi) for lo, hi in zip(cells["ci_low"], cells["ci_high"])]
        display[f"{group} n"] = cells["n"].map(lambda n: "" if pd.isna(n) else str(int(n))).to_numpy()
    display = display.rename_axis(rows or "").reset_index()
    return Table(name, title, data, display, note)


def comparison_table(estimates: pd.DataFrame, group: str, a: str, b: str, *, by: Sequence[str] = (), name: str,
                     title: str, settings: EstimateSettings) -> Table:
    """``b`` minus ``a`` per ``by``: difference with Newcombe interval and the two-proportion z-test."""
    data = compare_groups(estimates, group, a, b, by=list(by), confidence=settings.confidence)
    display = data[list(by)].copy()
    display[f"{b} − {a} (points)"] = [format_percent(d) for d in data["difference"]]
    display[f"{settings.confidence:.0%} CI"] = [format_interval(lo, hi) for lo, hi in zip(data["ci_low"],
                                                                                          data["ci_high"])]
    display["z"] = data["z"].map(lambda z: f"{z:.2f}")
    display["p"] = data["p_value"].map(format_p)
    return Table(name, title, data, display,
                 "Two-sided two-proportion z-test (pooled variance); Newcombe's hybrid score interval.")


def agreement_table(frame: pd.DataFrame, fields: dict[str, str], *, group: str | None, name: str,
                    title: str) -> Table:
    """Krippendorff's alpha of each answer field (``{field: level}``) per group, over tasks."""
    rows = []
    parts = frame.groupby(group, sort=False) if group else [("all", frame)]
    for key, part in parts:
        for field, level in fields.items():
            answered = part[part[field].notna() & part[field].astype(str).ne("")]
            rows.append({"group": key, "field": field, "level": level,
                         "n_tasks": int(answered.groupby("task").size().ge(2).sum()),
                         "alpha": krippendorff_alpha(part, field, level=level)})
    data = pd.DataFrame(rows, columns=["group", "field", "level", "n_tasks", "alpha"])
    order = {g: i for i, g in enumerate(ordered_groups(data["group"]))}
    data = data.sort_values("group", key=lambda s: s.map(order), kind="stable", ignore_index=True)
    display = data.assign(alpha=data["alpha"].map(lambda a: "" if pd.isna(a) else f"{a:.3f}"))
    return Table(name, title, data, display,
                 "Krippendorff's alpha over tasks with at least two answers (1 = perfect agreement, 0 = chance).")


def method_table(frame: pd.DataFrame, label: str, outcome: Callable[[pd.DataFrame], pd.Series], *, group: str,
                 key: Sequence[str] = (), name: str, title: str, settings: EstimateSettings) -> Table:
    """The study's main outcome under the confidence-weighted vote, the plain vote and Dawid-Skene.

    ``outcome`` maps a per-task table (``task``, ``label`` = the aggregated answer, the task's ``group``
    and ``key`` columns) to the boolean outcome per task.
    """
    groups = frame.groupby("task", sort=False)[list(dict.fromkeys([group, *key]))].first()
    ds = dawid_skene(frame, label, seed=settings.seed)
    votes = {"confidence-weighted vote": weighted_majority_vote(frame, label, seed=settings.seed),
             "plain majority vote": majority_vote(frame, label, seed=settings.seed),
             "Dawid-Skene": ds.votes}
    long = []
    for method, vote in votes.items():
        tasks = vote[["label"]].join(groups).rename_axis("task").reset_index()
        long.append(pd.DataFrame({"method": method, group: tasks[group], "outcome": outcome(tasks).to_numpy()}))
    table = estimate_table(pd.concat(long, ignore_index=True), "outcome", rows="method", columns=group, name=name,
                           title=title, settings=settings)
    note = ("The paper uses the confidence-weighted vote (weight 1 + confidence); the other two are for comparison. "
            + dawid_skene_note(ds) + method_caution(votes))
    return dataclasses.replace(table, note=note.strip())


def dawid_skene_note(result) -> str:
    """How Dawid-Skene stopped: crowd-kit 1.4.2's defaults and rule (:func:`~studykit.analysis.aggregate.dawid_skene`)."""
    how = "converged" if result.converged else "reached the iteration limit"
    return (f"Dawid-Skene: crowd-kit 1.4.2's defaults and stopping rule (at most 100 EM iterations, stop when its "
            f"per-answer objective changes by less than 1e-5); it {how} after {result.n_iter} iteration(s). ")


def method_caution(votes: dict[str, pd.DataFrame], threshold: float = 0.05) -> str:
    """A caution when another method's label differs from the first method's on more than ``threshold`` of the
    tasks both voted on; ``""`` otherwise."""
    names = list(votes)
    reference = votes[names[0]]["label"]
    parts = []
    for name in names[1:]:
        other = votes[name]["label"].reindex(reference.index)
        both = other.notna()
        differ = int((other[both].astype(str) != reference[both].astype(str)).sum())
        if both.sum() and differ / both.sum() > threshold:
            parts.append(f"the {name} disagrees with it on {differ} of {int(both.sum())} tasks "
                         f"({differ / both.sum():.0%})")
    if not parts:
        return ""
    return (f"**Caution**: methods disagree on more than {threshold:.0%} of the tasks: " + "; ".join(parts)
            + f" (reference: the {names[0]}). The aggregate depends on the method, so report the method with the "
            "result; Dawid-Skene estimates a confusion matrix per worker and is unreliable when workers answer few "
            "tasks.")
