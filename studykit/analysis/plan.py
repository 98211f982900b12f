"""Planning a study before paying for it: cost, interval width and power as tasks and assignments vary.

Cost (what the Requester website charges): ``reward x assignments x HITs`` plus MTurk's fee, with the
rules of :mod:`studykit.formats.fees` (20 % of each reward, 40 % for HITs with 10 or more assignments,
at least $0.01 per assignment), the very estimate ``studykit mturk post`` quotes.

Interval width and power, for the study's comparison (simulatability and spurious: sparse vs dense;
misclassification: f_p against the control f_r), by simulation and formula:

1. For each number of assignments, simulate ``n_simulated`` tasks per condition with the annotator
   model (:mod:`studykit.analysis.simulate`), apply quality control and the confidence-weighted vote,
   and measure per group the task-level outcome rate p (e.g. accuracy of the vote) and the share of
   tasks that survive quality control.
2. For each number of tasks per condition n, the expected number of kept tasks is n times that share;
   the interval half-width is Wilson's at p, and the power of the two-sided two-proportion z-test at
   level ``significance`` is the normal approximation

   .. math:: \\Phi\\left(\\frac{|p_b - p_a| - z_{1-\\alpha/2}\\, s_0}{s_1}\\right)
             + \\Phi\\left(\\frac{-|p_b - p_a| - z_{1-\\alpha/2}\\, s_0}{s_1}\\right),

   with :math:`s_0^2 = \\bar p (1 - \\bar p)(1/n_a + 1/n_b)` (pooled) and
   :math:`s_1^2 = p_a(1 - p_a)/n_a + p_b(1 - p_b)/n_b`.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import numpy as np
import pandas as pd
from scipy import stats

from studykit.formats.fees import batch_cost, fee_rate
from studykit.formats.hit import parse_reward
from studykit.formats.studies import STUDIES, study_schema

from .pipeline import STUDY_RESULTS
from .qc import QCConfig, apply_qc
from .simulate import AnnotatorModel, simulated_annotations
from .stats import wilson_interval, z_critical

__all__ = ["PlanConfig", "plan_study", "format_plan", "study_cost", "mturk_fee_rate", "synthetic_answer_key",
           "PAPER_REWARD"]

#: The paper's reward per assignment (US dollars) for each study, from the study registry.
PAPER_REWARD = {name: float(entry.reward) for name, entry in STUDIES.items()}


def mturk_fee_rate(assignments: int) -> float:
    """MTurk's fee rate (:func:`studykit.formats.fees.fee_rate`): 0.20, or 0.40 from 10 assignments per HIT."""
    return float(fee_rate(assignments))


def study_cost(reward: float | str | Decimal, assignments: int, n_hits: int) -> dict[str, float]:
    """``rewards`` (reward x assignments x HITs), ``fees`` (MTurk's fee on them, at least $0.01 per
    assignment) and ``total`` in US dollars: :func:`studykit.formats.fees.batch_cost`, as floats."""
    estimate = batch_cost(Decimal(parse_reward(reward)), assignments, n_hits)
    return {"rewards": float(estimate.total_reward), "fees": float(estimate.total_fee), "total": float(estimate.total)}


@dataclasses.dataclass(frozen=True)
class PlanConfig:
    """What to plan.

    Parameters
    ----------
    study : str
    tasks : tuple of int
        Tasks (HITs) per condition to consider.
    assignments : tuple of int
        Assignments per task to consider.
    reward : float
        US dollars per assignment (at least 0.01, at most two decimals, as MTurk requires).
    confidence : float
        Interval coverage.
    significance : float
        Level of the two-sided test.
    n_simulated : int
        Tasks per condition simulated for each number of assignments.
    seed : int
    """

    study: str
    tasks: tuple[int, ...] = (250, 500, 1000)
    assignments: tuple[int, ...] = (3, 5, 7)
    reward: float = 0.04
    confidence: float = 0.95
    significance: float = 0.05
    n_simulated: int = 2000
    seed: int = 0

    def __post_init__(self):
        study_schema(self.study)
        for name in ("tasks", "assignments"):
            values = getattr(self, name)
            if not values or any(int(v) != v or v < 1 for v in values):
                raise ValueError(f"{name} must be positive integers, got {values!r}")
        try:
            parse_reward(self.reward)
        except ValueError:
            raise ValueError(f"reward must be US dollars with at most two decimals, at least 0.01 (MTurk's "
                             f"minimum), got {self.reward!r}") from None
        for name in ("confidence", "significance"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in (0, 1), got {getattr(self, name)!r}")
        if self.n_simulated < 10:
            raise ValueError(f"n_simulated must be >= 10, got {self.n_simulated!r}")


def synthetic_answer_key(study: str, tasks_per_condition: int, *, seed: int = 0) -> pd.DataFrame:
    """An answer key with ``tasks_per_condition`` tasks per condition and random answers, for simulation."""
    rng = np.random.default_rng(seed)
    name = study_schema(study).name
    n = tasks_per_condition
    if name == "misclassification":
        condition = np.repeat(["fp_fl", "fl_fr"], n)
        first = np.where(rng.random(2 * n) < 0.5, "A", "B")
        second = np.where(first == "A", "B", "A")
        key = pd.DataFrame({"layer": "sparse", "condition": condition,
                            "option_fp": np.where(condition == "fp_fl", first, ""),
                            "option_fl": np.where(condition == "fp_fl", second, first),
                            "option_fr": np.where(condition == "fl_fr", second, "")})
    elif name == "spurious":
        key = pd.DataFrame({"layer": np.repeat(["dense", "sparse"], n), "class_a": [f"class{i % 10}" for i in range(2 * n)],
                            "class_b": [f"class{10 + i % 10}" for i in range(2 * n)], "feature": np.arange(2 * n)})
    else:
        correct = rng.integers(0, 3, 2 * n)
        probs = np.tile([0.2, 0.5], (2 * n, 1))
        probs = np.insert(probs, 0, 0.9, axis=1)[np.arange(2 * n)[:, None], (np.arange(3) - correct[:, None]) % 3]
        key = pd.DataFrame({"layer": np.repeat(["dense", "sparse"], n), "target_class": [f"class{i % 10}" for i in
                                                                                          range(2 * n)],
                            "correct_choice": np.array(["A", "B", "C"])[correct],
                            "top_is_target": rng.random(2 * n) < 0.5,
                            **{f"prob_{o}": probs[:, k] for k, o in enumerate("ABC")},
                            **{f"label_{o}": "" for o in "ABC"}})
    key.insert(0, "task_id", [f"t{i:06d}" for i in range(len(key))])
    return key


def plan_study(config: PlanConfig, model: AnnotatorModel, qc: QCConfig | None = None) -> pd.DataFrame:
    """Cost, expected interval half-widths and power for every (tasks, assignments) of ``config``.

    Returns
    -------
    DataFrame
        One row per (assignments, tasks): ``tasks_per_condition``, ``assignments``, ``n_hits``,
        ``rewards``, ``fees``, ``total`` (US dollars), then for the two compared groups a and b
        (``group_a``, ``group_b``): ``rate_*`` (expected task-level rate), ``kept_*`` (expected tasks left
        by quality control), ``half_width_*`` (of the interval), and ``difference`` and ``power``.
    """
    schema = study_schema(config.study)
    qc = qc or QCConfig.for_study(schema)
    group_a, group_b = STUDY_RESULTS[schema.name].COMPARISON
    key = synthetic_answer_key(schema.name, config.n_simulated, seed=config.seed)
    rows = []
    for assignments in config.assignments:
        rates = _simulated_rates(key, schema.name, model, qc, assignments, config.seed)
        for tasks in config.tasks:
            row = {"tasks_per_condition": tasks, "assignments": assignments, "n_hits": 2 * tasks,
                   **study_cost(config.reward, assignments, 2 * tasks), "group_a": group_a, "group_b": group_b}
            for side, group in (("a", group_a), ("b", group_b)):
                p, share = rates.get(group, (np.nan, 0.0))
                low, high = wilson_interval(p * tasks * share, tasks * share, config.confidence)
                row.update({f"rate_{side}": p, f"kept_{side}": tasks * share, f"half_width_{side}": (high - low) / 2})
            row["difference"] = row["rate_b"] - row["rate_a"]
            row["power"] = _power(row["rate_a"], row["kept_a"], row["rate_b"], row["kept_b"], config.significance)
            rows.append(row)
    return pd.DataFrame(rows)


def _simulated_rates(key: pd.DataFrame, study: str, model: AnnotatorModel, qc: QCConfig, assignments: int,
                     seed: int) -> dict[str, tuple[float, float]]:
    """Per group: the task-level outcome rate after QC and the vote, and the share of units kept by QC."""
    simulated = simulated_annotations(key, study, model, assignments=assignments, seed=seed)
    frame = simulated.frame
    kept = apply_qc(simulated, qc).annotations.frame
    module = STUDY_RESULTS[study]
    everything = module.task_outcomes(frame[frame[study_schema(study).selection].ne("")], seed=seed)
    outcomes = module.task_outcomes(kept, seed=seed) if len(kept) else everything.iloc[:0]
    totals = everything.groupby("group").size()
    return {group: (float(part["outcome"].mean()), len(part) / totals[group])
            for group, part in outcomes.groupby("group")}


def _power(p_a: float, n_a: float, p_b: float, n_b: float, significance: float) -> float:
    """Power of the two-sided pooled two-proportion z-test (normal approximation; NaN without data)."""
    if not (n_a > 0 and n_b > 0) or np.isnan(p_a) or np.isnan(p_b):
        return np.nan
    z = z_critical(1 - significance)
    pooled = (p_a * n_a + p_b * n_b) / (n_a + n_b)
    s0 = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    s1 = np.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    if s1 == 0:
        return float(p_a != p_b)
    gap = abs(p_b - p_a)
    return float(stats.norm.cdf((gap - z * s0) / s1) + stats.norm.cdf((-gap - z * s0) / s1))


def format_plan(plan: pd.DataFrame) -> pd.DataFrame:
    """A display frame of :func:`plan_study`'s table: dollars, percentages, rounded counts."""
    a, b = (plan["group_a"].iloc[0], plan["group_b"].iloc[0]) if len(plan) else ("a", "b")
    return pd.DataFrame({
        "tasks/condition": plan["tasks_per_condition"], "assignments": plan["assignments"], "HITs": plan["n_hits"],
        "cost ($)": plan["total"].map(lambda v: f"{v:,.2f}"),
        f"{a} rate (%)": (100 * plan["rate_a"]).map(lambda v: f"{v:.1f}"),
        f"{b} rate (%)": (100 * plan["rate_b"]).map(lambda v: f"{v:.1f}"),
        f"{a} kept": plan["kept_a"].map(lambda v: f"{v:.0f}"), f"{b} kept": plan["kept_b"].map(lambda v: f"{v:.0f}"),
        "± half-width (points)": [f"{100 * x:.1f} / {100 * y:.1f}" for x, y in zip(plan["half_width_a"],
                                                                                   plan["half_width_b"])],
        "power": plan["power"].map(lambda v: f"{v:.2f}")})

