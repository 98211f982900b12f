"""Spurious-correlation study (appendix E.2.1, E.2.2): do two classes sharing a feature share a pattern?

Each task shows three images from each class of a pair (``class_a``, ``class_b``) that share a deep
``feature`` of the decision ``layer``. Annotators say whether they see a common pattern (``common``),
describe it, and say for each class whether it is part of the object or of its surroundings.

Aggregation, per task: the confidence-weighted vote on ``common``; when it is ``yes``, the same vote
among the annotators who answered ``yes`` gives the description (normalized: lower case, punctuation
removed) and, per class, the part (``object``, ``surroundings``, ``both``, ``unsure``).

Spurious flag: a pair is flagged when its vote is ``yes`` and the voted part is ``surroundings`` for at
least one of its two classes, i.e. the model relies on a pattern that annotators place outside that
class's object (the paper's "water" for "snorkel").

Results: the share of pairs with a common pattern per layer (dense vs sparse test), object vs
surroundings per class, the flagged pairs, the most frequent descriptions, and the description word
cloud (Fig. 30), plus agreement and the vote compared with a plain vote and Dawid-Skene.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .aggregate import weighted_majority_vote
from .report import ReportFigure, Section, Table
from .summaries import (EstimateSettings, agreement_table, comparison_table, estimate_table, method_table,
                        ordered_groups, task_table)

__all__ = ["task_outcomes", "annotation_outcomes", "pattern_answers", "normalize_description", "report_sections",
           "COMPARISON", "TOP_DESCRIPTIONS"]

COMPARISON = ("dense", "sparse")
#: Rows per layer of the most-frequent-descriptions table.
TOP_DESCRIPTIONS = 20
_KEY = ["layer", "class_a", "class_b", "feature"]


def normalize_description(text: pd.Series) -> pd.Series:
    """Lower case, punctuation replaced by spaces (apostrophes and hyphens kept), whitespace collapsed."""
    return (text.fillna("").astype(str).str.lower().str.replace(r"[^\w\s'-]", " ", regex=True)
            .str.replace(r"\s+", " ", regex=True).str.strip())


def task_outcomes(frame: pd.DataFrame, *, seed: int = 0, weighting: str = "confidence") -> pd.DataFrame:
    """One row per task: ``task``, ``group`` (layer), the key, ``common`` (voted), ``outcome`` (= yes),
    ``share`` (the winner's share of the weight), ``n_annotators``, ``tied``, ``unweighted``."""
    vote = weighted_majority_vote(frame, "common", seed=seed, weighting=weighting)
    tasks = vote[["label", "share", "n_annotators", "tied", "unweighted"]].rename(columns={"label": "common"}) \
        .join(frame.groupby("task", sort=False)[_KEY].first())
    tasks["outcome"] = tasks["common"].eq("yes")
    tasks["group"] = tasks["layer"].astype(str)
    return tasks.rename_axis("task").reset_index()[
        ["task", "group", *_KEY, "common", "outcome", "share", "n_annotators", "tied", "unweighted"]]


def annotation_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per answer: ``group`` (layer) and ``outcome`` (the annotator saw a common pattern)."""
    return pd.DataFrame({"group": frame["layer"].astype(str), "outcome": frame["common"].eq("yes")})


def pattern_answers(frame: pd.DataFrame, tasks: pd.DataFrame, *, seed: int = 0,
                    weighting: str = "confidence") -> pd.DataFrame:
    """Description and parts of the pairs voted ``yes``, and the spurious flag (module docstring).

    Returns
    -------
    DataFrame
        One row per pair with a common pattern: ``task``, the key, ``description``, ``part_a``,
        ``part_b``, ``spurious`` (bool), ``share``, ``n_annotators``, ``tied`` (the vote on ``common``
        or on a part was decided by the tie break).
    """
    pairs = tasks[tasks["outcome"]].set_index("task")
    said_yes = frame[frame["common"].eq("yes") & frame["task"].isin(pairs.index)]
    said_yes = said_yes.assign(description=normalize_description(said_yes["description"]))
    for field in ("description", "part_a", "part_b"):
        vote = weighted_majority_vote(said_yes, field, seed=seed, weighting=weighting)
        pairs[field] = vote["label"].reindex(pairs.index).fillna("")
        if field != "description":
            pairs["tied"] = pairs["tied"] | vote["tied"].reindex(pairs.index).fillna(False).astype(bool)
    pairs["spurious"] = pairs["part_a"].eq("surroundings") | pairs["part_b"].eq("surroundings")
    return pairs.reset_index()[["task", *_KEY, "description", "part_a", "part_b", "spurious", "share",
                                "n_annotators", "tied"]]


def report_sections(frame: pd.DataFrame, settings: EstimateSettings) -> list[Section]:
    """The study's tables and figures (module docstring), from annotations after quality control."""
    tasks = task_outcomes(frame, seed=settings.seed, weighting=settings.weighting)
    patterns = pattern_answers(frame, tasks, seed=settings.seed, weighting=settings.weighting)
    common = estimate_table(tasks, "outcome", rows=None, columns="group", name="common_pattern",
                            title="Class pairs with a common pattern", settings=settings,
                            note=f"Share of class pairs whose vote is yes. {settings.vote_note}")
    tests = comparison_table(common.data, "group", *COMPARISON, name="common_pattern_dense_vs_sparse",
                             title="Common pattern: sparse vs dense", settings=settings)
    sides = _class_parts(patterns)
    surroundings = estimate_table(sides.assign(outcome=sides["part"].eq("surroundings")), "outcome", rows=None,
                                  columns="group", name="surroundings_share",
                                  title="Patterns in the surroundings (per class of a pair with a pattern)",
                                  settings=settings)
    flagged = patterns[patterns["spurious"]].drop(columns="spurious")
    tables = [common, tests, surroundings, _parts_table(sides),
              Table("spurious_pairs", "Pairs flagged spurious", flagged,
                    note="Flag: the vote is yes and the pattern is in the surroundings for at least one class; "
                         "tied: the vote on common or on a part was decided by the seeded tie break."),
              _descriptions_table(frame, tasks),
              estimate_table(annotation_outcomes(frame), "outcome", rows=None, columns="group",
                             name="annotation_common", title="Individual answers with a common pattern",
                             settings=settings),
              method_table(frame, "common", lambda t: t["label"].eq("yes"), group="layer",
                           name="aggregation_methods", title="Pairs with a common pattern by aggregation method",
                           settings=settings),
              agreement_table(frame, {"common": "nominal", "confidence": "ordinal"}, group="layer",
                              name="agreement", title="Inter-annotator agreement"),
              task_table(tasks, name="task_votes", title="Per-pair votes", settings=settings)]
    figures = [_word_cloud(frame, tasks, layer, settings.seed) for layer in ordered_groups(tasks["group"])]
    return [Section("Spurious correlations (E.2)",
                    f"{len(tasks)} class pairs after quality control, {int(tasks['outcome'].sum())} with a common "
                    f"pattern, {int(patterns['spurious'].sum())} flagged spurious; {int(tasks['tied'].sum())} votes on "
                    f"common decided by a tie break ({int(patterns.loc[patterns['spurious'], 'tied'].sum())} of the "
                    f"flagged pairs had a tied vote), {int(tasks['unweighted'].sum())} by the plain-vote fallback.",
                    tables,
                    [f for f in figures if f is not None])]


def _class_parts(patterns: pd.DataFrame) -> pd.DataFrame:
    """One row per (pair with a pattern, class): ``group``, ``class``, ``part``."""
    sides = [pd.DataFrame({"group": patterns["layer"].astype(str), "task": patterns["task"],
                           "class": patterns[f"class_{s}"], "part": patterns[f"part_{s}"]}) for s in ("a", "b")]
    return pd.concat(sides, ignore_index=True)


def _parts_table(sides: pd.DataFrame) -> Table:
    counts = pd.crosstab([sides["group"], sides["class"]], sides["part"].replace("", "no answer"))
    counts = counts.reindex(columns=[c for c in ("object", "surroundings", "both", "unsure", "no answer")
                                     if c in counts.columns], fill_value=0)
    counts.insert(0, "pairs", counts.sum(axis=1))
    counts["share_surroundings"] = counts.get("surroundings", 0) / counts["pairs"]
    data = counts.reset_index().rename(columns={"group": "layer"})
    data = data.sort_values(["layer", "share_surroundings", "pairs"], ascending=[True, False, False],
                            ignore_index=True)
    return Table("parts_per_class", "Part of object vs surroundings, per class", data)


def _descriptions_table(frame: pd.DataFrame, tasks: pd.DataFrame) -> Table:
    yes_tasks = tasks.loc[tasks["outcome"], "task"]
    said = frame[frame["common"].eq("yes") & frame["task"].isin(yes_tasks)]
    said = said.assign(description=normalize_description(said["description"]), layer=said["layer"].astype(str))
    said = said[said["description"].ne("")]
    counts = said.groupby(["layer", "description"]).agg(answers=("task", "size"), pairs=("task", "nunique"))
    counts = counts.reset_index()
    counts["share"] = counts["answers"] / counts.groupby("layer")["answers"].transform("sum")
    counts = counts.sort_values(["layer", "answers", "description"], ascending=[True, False, True])
    return Table("descriptions", "Most frequent pattern descriptions",
                 counts.groupby("layer").head(TOP_DESCRIPTIONS).reset_index(drop=True),
                 note="Normalized descriptions from annotators who saw a common pattern, in pairs voted yes.")


def _word_cloud(frame: pd.DataFrame, tasks: pd.DataFrame, layer: str, seed: int) -> ReportFigure | None:
    """Fig. 30: word cloud of the descriptions of ``layer``'s pairs with a common pattern (None if no words)."""
    from wordcloud import STOPWORDS, WordCloud

    yes_tasks = tasks.loc[tasks["outcome"] & tasks["group"].eq(layer), "task"]
    said = frame[frame["common"].eq("yes") & frame["task"].isin(yes_tasks)]
    words = pd.Series([w for text in normalize_description(said["description"])
                       for w in re.findall(r"[a-z][a-z'-]*", text) if w not in STOPWORDS and len(w) > 1])
    if words.empty:
        return None
    cloud = WordCloud(width=800, height=400, background_color="white", random_state=seed)
    image = cloud.generate_from_frequencies(words.value_counts().to_dict()).to_array()
    figure = Figure(figsize=(8, 4))
    ax = figure.subplots()
    ax.imshow(np.asarray(image), interpolation="bilinear")
    ax.set_axis_off()
    return ReportFigure(f"fig30_word_cloud_{layer}", f"Fig. 30: pattern descriptions ({layer} decision layer)",
                        figure)
