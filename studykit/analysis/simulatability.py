"""Simulatability study (appendix D.4): can annotators pick the image the model scores highest?

Each task shows five features of a target class and three candidate images; the answer key names the
``correct_choice`` (the candidate with the highest target-class probability under the task's decision
``layer``), whether that image is ``top_is_target`` (from the target class), and each candidate's
target probability ``prob_A``, ``prob_B``, ``prob_C``. Per task, the confidence-weighted vote over
annotators gives the selected image; the task is right when it is the correct choice.

Results: Table 25 (accuracy overall, when the correct image is from the target class, when it is from
another class; dense vs sparse with a two-proportion test), Fig. 24a (target probability of the
candidates), Fig. 24b (model rank of the selected image), Fig. 24c (per-class accuracy), plus
annotation-level accuracy, agreement and the vote compared with a plain vote and Dawid-Skene.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .aggregate import weighted_majority_vote
from .report import ReportFigure, Section, Table
from .summaries import (EstimateSettings, agreement_table, comparison_table, estimate_table, method_table,
                        ordered_groups, task_table)

__all__ = ["task_outcomes", "annotation_outcomes", "first_exposure", "report_sections", "COMPARISON", "SUBSETS"]

#: The groups the study compares (baseline first).
COMPARISON = ("dense", "sparse")
#: Rows of Table 25 -> which tasks they hold.
SUBSETS = {"Overall": None, "From target class": True, "From another class": False}
_OPTIONS = ("A", "B", "C")


def _as_bool(values: pd.Series) -> pd.Series:
    return values.astype(str).str.strip().str.lower().isin(["true", "1", "yes"])


def task_outcomes(frame: pd.DataFrame, *, seed: int = 0, weighting: str = "confidence") -> pd.DataFrame:
    """One row per task: the voted ``choice``, whether it is ``correct``, and the model ``rank`` of it.

    Parameters
    ----------
    frame : DataFrame
        Annotations after quality control, with the answer key joined.
    seed : int
        Seed of the vote's tie break.
    weighting : str
        The vote's weighting (:func:`~studykit.analysis.aggregate.weighted_majority_vote`).

    Returns
    -------
    DataFrame
        ``task``, ``group`` (the layer), ``layer``, ``target_class``, ``top_is_target``, ``choice``,
        ``correct_choice``, ``outcome`` (= correct, bool), ``rank`` (1 = the model's top candidate),
        ``n_annotators``, ``tied``, ``unweighted``.
    """
    vote = weighted_majority_vote(frame, "choice", seed=seed, weighting=weighting)
    key = frame.groupby("task", sort=False)[["layer", "target_class", "top_is_target", "correct_choice",
                                             "prob_A", "prob_B", "prob_C"]].first()
    tasks = vote[["label", "n_annotators", "tied", "unweighted"]].rename(columns={"label": "choice"}).join(key)
    probs = tasks[[f"prob_{o}" for o in _OPTIONS]].apply(pd.to_numeric, errors="coerce").to_numpy()
    chosen = probs[np.arange(len(tasks)), tasks["choice"].map(_OPTIONS.index).to_numpy()]
    tasks["rank"] = 1 + (probs > chosen[:, None]).sum(axis=1)
    tasks["outcome"] = tasks["choice"].eq(tasks["correct_choice"])
    tasks["top_is_target"] = _as_bool(tasks["top_is_target"])
    tasks["group"] = tasks["layer"].astype(str)
    return tasks.rename_axis("task").reset_index()[
        ["task", "group", "layer", "target_class", "top_is_target", "choice", "correct_choice", "outcome", "rank",
         "n_annotators", "tied", "unweighted"]]


def annotation_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per answer: ``group`` (layer) and ``outcome`` (the annotator picked the correct image)."""
    return pd.DataFrame({"group": frame["layer"].astype(str), "outcome": frame["choice"].eq(frame["correct_choice"])})


def report_sections(frame: pd.DataFrame, settings: EstimateSettings) -> list[Section]:
    """The study's tables and figures (module docstring), from annotations after quality control."""
    tasks = task_outcomes(frame, seed=settings.seed, weighting=settings.weighting)
    subsets = pd.concat([tasks.assign(subset=name) if flag is None else
                         tasks[tasks["top_is_target"] == flag].assign(subset=name)
                         for name, flag in SUBSETS.items()], ignore_index=True)
    table25 = estimate_table(subsets, "outcome", rows="subset", columns="group", name="table25",
                             title="Table 25: accuracy of annotators at simulating the model", settings=settings,
                             note=f"Accuracy over tasks. {settings.vote_note}")
    tests = comparison_table(table25.data, "group", *COMPARISON, by=["subset"], name="table25_dense_vs_sparse",
                             title="Table 25: sparse vs dense", settings=settings)
    per_class = estimate_table(tasks, "outcome", rows="target_class", columns="group", name="per_class_accuracy",
                               title="Per-class accuracy (Fig. 24c)", settings=settings)
    annotations = estimate_table(annotation_outcomes(frame), "outcome", rows=None, columns="group",
                                 name="annotation_accuracy", title="Accuracy of individual answers (before the vote)",
                                 settings=settings)
    methods = method_table(frame, "choice", lambda t: t["label"].eq(t["correct_choice"]), group="layer",
                           key=["correct_choice"], name="aggregation_methods", title="Accuracy by aggregation method",
                           settings=settings)
    agreement = agreement_table(frame, {"choice": "nominal", "confidence": "ordinal"}, group="layer",
                                name="agreement", title="Inter-annotator agreement")
    ranks = _rank_table(tasks)
    first = first_exposure_table(frame, tasks, settings)
    votes = task_table(tasks, name="task_votes", title="Per-task votes", settings=settings)
    figures = [_candidate_probabilities(frame), _rank_figure(ranks.data), _per_class_figure(per_class.data)]
    return [Section("Simulatability (Table 25, Fig. 24)",
                    f"{len(tasks)} tasks after quality control; chance accuracy is 1/3; {int(tasks['tied'].sum())} "
                    f"tasks decided by a tie break, {int(tasks['unweighted'].sum())} by the plain-vote fallback.",
                    [table25, tests, first, ranks, per_class, annotations, methods, agreement, votes], figures)]


def first_exposure(frame: pd.DataFrame) -> pd.DataFrame:
    """Each worker's answers to the first task they did of each (target class, layer), by ``SubmitTime``
    (then ``AcceptTime``): the answers no earlier task of the same class and layer could have taught."""
    order = [c for c in ("submit_time", "accept_time") if c in frame.columns]
    sorted_frame = frame.sort_values(order, kind="stable") if order else frame
    return sorted_frame.drop_duplicates(["worker", "target_class", "layer"], keep="first")


def first_exposure_table(frame: pd.DataFrame, tasks: pd.DataFrame, settings: EstimateSettings) -> Table:
    """Accuracy of individual answers, all of them vs each worker's first exposure to a (class, layer)."""
    first = first_exposure(frame)
    both = pd.concat([annotation_outcomes(frame).assign(answers="all answers"),
                      annotation_outcomes(first).assign(answers="first exposure")], ignore_index=True)
    return estimate_table(both, "outcome", rows="answers", columns="group", name="first_exposure_accuracy",
                          title="Accuracy of individual answers: all vs each worker's first task of a class and layer",
                          settings=settings,
                          note="A worker who did several tasks of one class and layer may have learnt its answer "
                               "(the correct image can repeat across them); first exposure counts only the first, "
                               "by submit time.")


def _rank_table(tasks: pd.DataFrame) -> Table:
    counts = tasks.groupby(["group", "rank"]).size().rename("tasks").reset_index()
    counts["share"] = counts["tasks"] / counts.groupby("group")["tasks"].transform("sum")
    return Table("selected_rank", "Model rank of the selected image (Fig. 24b)", counts)


def _candidate_probabilities(frame: pd.DataFrame) -> ReportFigure:
    key = frame.groupby("task", sort=False)[["layer", "prob_A", "prob_B", "prob_C"]].first()
    figure = Figure(figsize=(5, 3.2))
    ax = figure.subplots()
    bins = np.linspace(0, 1, 21)
    for layer in ordered_groups(key["layer"]):
        probs = key.loc[key["layer"] == layer, ["prob_A", "prob_B", "prob_C"]].apply(pd.to_numeric, errors="coerce")
        ax.hist(probs.to_numpy().ravel(), bins=bins, alpha=0.6, label=layer, density=True)
    ax.set(xlabel="target-class probability of a candidate image", ylabel="density")
    ax.legend(title="decision layer")
    return ReportFigure("fig24a_candidate_probabilities", "Fig. 24a: target probability of the candidate images",
                        figure)


def _rank_figure(ranks: pd.DataFrame) -> ReportFigure:
    figure = Figure(figsize=(5, 3.2))
    ax = figure.subplots()
    groups = ordered_groups(ranks["group"])
    width = 0.8 / max(len(groups), 1)
    for i, group in enumerate(groups):
        share = ranks.loc[ranks["group"] == group].set_index("rank")["share"].reindex([1, 2, 3], fill_value=0.0)
        ax.bar(np.arange(1, 4) + (i - (len(groups) - 1) / 2) * width, 100 * share.to_numpy(), width, label=group)
    ax.axhline(100 / 3, color="gray", linestyle="--", linewidth=1, label="chance")
    ax.set(xlabel="rank of the selected image (1 = highest target probability)", ylabel="tasks (%)",
           xticks=[1, 2, 3])
    ax.legend(title="decision layer")
    return ReportFigure("fig24b_selected_rank", "Fig. 24b: rank of the selected image", figure)


def _per_class_figure(per_class: pd.DataFrame) -> ReportFigure:
    figure = Figure(figsize=(5, 3.2))
    ax = figure.subplots()
    bins = np.linspace(0, 1, 11)
    for group in ordered_groups(per_class["group"]):
        ax.hist(per_class.loc[per_class["group"] == group, "mean"], bins=bins, alpha=0.6, label=group)
    ax.set(xlabel="per-class accuracy", ylabel="classes")
    ax.legend(title="decision layer")
    return ReportFigure("fig24c_per_class_accuracy", "Fig. 24c: per-class accuracy", figure)
