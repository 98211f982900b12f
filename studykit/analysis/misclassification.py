"""Misclassification study (appendix G.1): which deep feature do annotators see in a misclassified image?

Each task shows a misclassified image and two feature visualizations, options A and B. In condition
``fp_fl`` they are f_p (the feature pushing most towards the predicted class) and f_l (most towards
the true class); in ``fl_fr`` f_l and a random feature f_r, the control. The answer key maps the
roles to options (``option_fp``, ``option_fl``, ``option_fr``). Annotators tick the patterns that match
(``match``: A, B, both, or ``none``) and, when they tick both, the ``best`` one.

Aggregation, per task and feature: the confidence-weighted vote on "ticked" (yes/no) among the
task's annotators; per task, the same vote on the best match, where an annotator's best match is the
one pattern ticked, the ``best`` answer when both are ticked, and ``none`` when none is.

Results: how often f_p, f_l and f_r match (per condition), how often each is the best match, the
tests f_p vs f_r (two-proportion z-test; independent tasks) and f_p vs f_l (McNemar; the same tasks),
plus individual answers, agreement and the vote compared with a plain vote and Dawid-Skene.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .aggregate import weighted_majority_vote
from .report import ReportFigure, Section, Table, format_interval, format_p, format_percent
from .stats import compare_proportions, mcnemar_test
from .summaries import EstimateSettings, agreement_table, estimate_table, method_table, ordered_groups, task_table

__all__ = ["role_answers", "task_outcomes", "annotation_outcomes", "report_sections", "COMPARISON", "ROLES"]

#: The groups the study compares for planning: f_p's match rate against the control f_r's.
COMPARISON = ("fr", "fp")
ROLES = ("fp", "fl", "fr")


def _conditions(frame: pd.DataFrame) -> pd.Series:
    """The condition of each row, prefixed by the layer when the results hold several layers."""
    condition = frame["condition"].astype(str)
    return frame["layer"].astype(str) + ":" + condition if frame["layer"].nunique() > 1 else condition


def role_answers(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per answer and feature shown: ``task``, ``worker``, ``confidence``, ``condition``, ``role``,
    ``matched`` (``yes``/``no``), and the annotator's ``best`` role (``none`` when nothing was ticked)."""
    condition = _conditions(frame)
    ticked = frame["match"].str.split("|")
    letters = {role: frame[f"option_{role}"].astype(str).str.strip() for role in ROLES}
    single = ticked.map(lambda t: t[0] if len(t) == 1 and t[0] in ("A", "B") else None)
    best_letter = single.where(single.notna(), frame["best"].where(ticked.map(len).eq(2)))
    best = pd.Series("", index=frame.index, dtype=object)
    for role in ROLES:
        best[letters[role].eq(best_letter)] = role
    best[frame["match"].eq("none")] = "none"
    rows = []
    for role in ROLES:
        shown = letters[role].isin(["A", "B"])
        matched = [letter in parts for letter, parts in zip(letters[role][shown], ticked[shown])]
        rows.append(pd.DataFrame({"task": frame.loc[shown, "task"], "worker": frame.loc[shown, "worker"],
                                  "confidence": frame.loc[shown, "confidence"], "condition": condition[shown],
                                  "role": role, "matched": np.where(matched, "yes", "no"), "best": best[shown]}))
    return pd.concat(rows, ignore_index=True)


def task_outcomes(frame: pd.DataFrame, *, seed: int = 0, weighting: str = "confidence") -> pd.DataFrame:
    """One row per task and feature shown: ``task``, ``group`` (role), ``condition``, ``role``, ``outcome``
    (the vote says the feature matches), ``best`` (the voted best-match role of the task), ``tied`` (the
    match vote or the task's best-match vote was decided by the tie break), ``unweighted`` (the match
    vote's weights were all 0)."""
    answers = role_answers(frame)
    answers["unit"] = answers["task"] + "/" + answers["role"]
    matched = weighted_majority_vote(answers, "matched", task="unit", seed=seed, weighting=weighting)
    best = weighted_majority_vote(answers.drop_duplicates(["task", "worker"]), "best", seed=seed, weighting=weighting)
    units = answers.drop_duplicates("unit").set_index("unit")[["task", "condition", "role"]]
    units["outcome"] = matched["label"].reindex(units.index).eq("yes")
    units["best"] = best["label"].reindex(units["task"]).fillna("").to_numpy()
    units["tied"] = (matched["tied"].reindex(units.index).fillna(False).astype(bool).to_numpy()
                     | best["tied"].reindex(units["task"]).fillna(False).astype(bool).to_numpy())
    units["unweighted"] = matched["unweighted"].reindex(units.index).fillna(False).astype(bool)
    units["group"] = units["role"]
    return units.reset_index(drop=True)[["task", "group", "condition", "role", "outcome", "best", "tied",
                                         "unweighted"]]


def annotation_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per answer and feature shown: ``group`` (role) and ``outcome`` (the annotator ticked it)."""
    answers = role_answers(frame)
    return pd.DataFrame({"group": answers["role"], "outcome": answers["matched"].eq("yes")})


def report_sections(frame: pd.DataFrame, settings: EstimateSettings) -> list[Section]:
    """The study's tables and figures (module docstring), from annotations after quality control."""
    units = task_outcomes(frame, seed=settings.seed, weighting=settings.weighting)
    match = estimate_table(units, "outcome", rows="role", columns="condition", name="match_rates",
                           title="Features that match the image", settings=settings,
                           note=f"Share of tasks whose vote ticks the feature. {settings.vote_note}")
    best = estimate_table(units.assign(outcome=units["best"].eq(units["role"])), "outcome", rows="role",
                          columns="condition", name="best_match", title="Feature that matches best",
                          settings=settings)
    first = frame.drop_duplicates("task").assign(condition=_conditions(frame.drop_duplicates("task")))
    per_answer = role_answers(frame).drop_duplicates(["task", "worker"])
    tables = [match, best, _tests(units, settings),
              estimate_table(annotation_outcomes(frame), "outcome", rows=None, columns="group",
                             name="annotation_match", title="Individual answers ticking each feature",
                             settings=settings),
              method_table(per_answer.rename(columns={"best": "best_role"}), "best_role", lambda t: t["label"].eq("fl"),
                           group="condition", name="aggregation_methods",
                           title="Tasks whose best match is f_l, by aggregation method", settings=settings),
              agreement_table(frame.assign(condition=_conditions(frame)), {"match": "nominal", "confidence": "ordinal"},
                              group="condition", name="agreement", title="Inter-annotator agreement"),
              task_table(units, name="task_votes", title="Per-task votes (one row per feature shown)",
                         settings=settings)]
    return [Section("Misclassifications (G.1)",
                    f"{first['task'].nunique()} tasks after quality control "
                    f"({', '.join(f'{c}: {n}' for c, n in first['condition'].value_counts().items())}); "
                    f"{units.loc[units['tied'], 'task'].nunique()} tasks with a vote decided by a tie break.",
                    tables, [_match_figure(match.data)])]


def _tests(units: pd.DataFrame, settings: EstimateSettings) -> Table:
    """f_p vs the control f_r (independent tasks) and f_p vs f_l (the same tasks)."""
    fp, fr = units[units["role"] == "fp"], units[units["role"] == "fr"]
    control = compare_proportions(fr["outcome"].sum(), len(fr), fp["outcome"].sum(), len(fp),
                                  confidence=settings.confidence)
    paired = units[units["role"].isin(["fp", "fl"])].pivot_table(index="task", columns="role", values="outcome",
                                                                  aggfunc="first").dropna()
    same = mcnemar_test(paired.get("fl", pd.Series(dtype=bool)), paired.get("fp", pd.Series(dtype=bool)))
    data = pd.DataFrame([{"comparison": "f_p vs f_r (control)", "test": "two-proportion z-test",
                          "n_tasks": len(fp) + len(fr), **control},
                         {"comparison": "f_p vs f_l (same tasks)", "test": "McNemar exact", "n_tasks": same["n"],
                          "difference": same["difference"], "ci_low": np.nan, "ci_high": np.nan, "z": np.nan,
                          "p_value": same["p_value"]}])
    display = pd.DataFrame({"comparison": data["comparison"], "test": data["test"], "tasks": data["n_tasks"],
                            "difference (points)": data["difference"].map(format_percent),
                            f"{settings.confidence:.0%} CI": [format_interval(lo, hi) for lo, hi
                                                              in zip(data["ci_low"], data["ci_high"])],
                            "p": data["p_value"].map(format_p)})
    return Table("match_tests", "Tests on the match rates", data, display,
                 "Difference: match rate of f_p minus that of f_r, or of f_l.")


def _match_figure(match: pd.DataFrame) -> ReportFigure:
    figure = Figure(figsize=(5, 3.2))
    ax = figure.subplots()
    conditions = ordered_groups(match["condition"])
    width = 0.8 / max(len(conditions), 1)
    for i, condition in enumerate(conditions):
        part = match[match["condition"] == condition].set_index("role").reindex(list(ROLES))
        x = np.arange(len(ROLES)) + (i - (len(conditions) - 1) / 2) * width
        errors = np.vstack([part["mean"] - part["ci_low"], part["ci_high"] - part["mean"]]) * 100
        ax.bar(x, 100 * part["mean"], width, yerr=errors, capsize=3, label=condition)
    ax.set(xticks=np.arange(len(ROLES)), xticklabels=["f_p", "f_l", "f_r"], ylabel="tasks where it matches (%)",
           ylim=(0, 100))
    ax.legend(title="condition")
    return ReportFigure("match_rates", "Match rates of f_p, f_l and f_r (95% intervals)", figure)
