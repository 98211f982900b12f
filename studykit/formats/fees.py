"""MTurk's fee rules, in exact :class:`~decimal.Decimal` dollars: what a batch costs.

The fee is 20% of each reward and bonus, 20% more (40%) for HITs with 10 or more assignments, 5% more
when the HITs require the Masters qualification, and at least $0.01 per assignment or bonus. It is
computed per assignment and rounded up to the cent, so an estimate errs on the high side. Both
``studykit plan`` (:mod:`studykit.analysis.plan`) and ``studykit mturk post`` (:mod:`studykit.mturk.cost`)
quote costs with :func:`batch_cost`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from typing import Protocol

__all__ = ["CostEstimate", "fee_rate", "fee", "batch_cost", "estimate_cost", "bonus_cost", "BASE_FEE_RATE",
           "HIGH_FEE_EXTRA", "MASTERS_FEE_EXTRA", "MINIMUM_FEE", "HIGH_FEE_ASSIGNMENTS"]

BASE_FEE_RATE = Decimal("0.20")
HIGH_FEE_EXTRA = Decimal("0.20")
MASTERS_FEE_EXTRA = Decimal("0.05")
MINIMUM_FEE = Decimal("0.01")
HIGH_FEE_ASSIGNMENTS = 10
CENT = Decimal("0.01")


class _HIT(Protocol):
    max_assignments: int

    @property
    def reward_amount(self) -> Decimal: ...


def fee_rate(max_assignments: int, *, masters: bool = False) -> Decimal:
    """MTurk's fee as a fraction of the reward: 0.20, or 0.40 from 10 assignments per HIT (+0.05 Masters)."""
    rate = BASE_FEE_RATE + (HIGH_FEE_EXTRA if max_assignments >= HIGH_FEE_ASSIGNMENTS else 0)
    return rate + (MASTERS_FEE_EXTRA if masters else 0)


def fee(amount: Decimal, rate: Decimal) -> Decimal:
    """The fee on one payment (an assignment's reward or a bonus): ``amount * rate`` rounded up to
    the cent, at least $0.01."""
    return max(MINIMUM_FEE, (Decimal(amount) * rate).quantize(CENT, rounding=ROUND_UP))


@dataclass(frozen=True)
class CostEstimate:
    """The cost of posting a batch, if every assignment is approved.

    Attributes
    ----------
    n_hits, max_assignments : int
    reward : Decimal
        Per assignment.
    fee_rate : Decimal
    fee_per_assignment : Decimal
    """

    n_hits: int
    max_assignments: int
    reward: Decimal
    fee_rate: Decimal
    fee_per_assignment: Decimal

    @property
    def n_assignments(self) -> int:
        return self.n_hits * self.max_assignments

    @property
    def total_reward(self) -> Decimal:
        """Rewards paid to workers: reward x assignments x HITs."""
        return self.reward * self.n_assignments

    @property
    def total_fee(self) -> Decimal:
        return self.fee_per_assignment * self.n_assignments

    @property
    def total(self) -> Decimal:
        return self.total_reward + self.total_fee

    def describe(self) -> str:
        """The estimate as a few human-readable lines."""
        return (f"{self.n_hits} HITs x {self.max_assignments} assignments x ${self.reward} reward = "
                f"${self.total_reward:.2f}\n"
                f"MTurk fee {self.fee_rate:.0%} (${self.fee_per_assignment} per assignment) = ${self.total_fee:.2f}\n"
                f"total, if every assignment is approved: ${self.total:.2f}")


def batch_cost(reward: Decimal | str, max_assignments: int, n_hits: int, *, masters: bool = False) -> CostEstimate:
    """The cost of ``n_hits`` HITs of ``max_assignments`` assignments at ``reward`` dollars each.

    ``reward`` is a Decimal or a decimal text (``"0.04"``); floats are refused (they are not exact).
    """
    if isinstance(reward, float):
        raise TypeError(f"reward must be a Decimal or a text like '0.04', not the float {reward!r}")
    amount = Decimal(reward)
    rate = fee_rate(max_assignments, masters=masters)
    return CostEstimate(n_hits=n_hits, max_assignments=max_assignments, reward=amount, fee_rate=rate,
                        fee_per_assignment=fee(amount, rate))


def estimate_cost(hit: _HIT, n_hits: int, *, masters: bool = False) -> CostEstimate:
    """The cost of ``n_hits`` HITs of type ``hit`` (a :class:`~studykit.formats.hit.HITSettings`).

    Parameters
    ----------
    hit : HITSettings
    n_hits : int
    masters : bool
        Whether the HITs require the Masters qualification (5% more fee).
    """
    return batch_cost(hit.reward_amount, hit.max_assignments, n_hits, masters=masters)


def bonus_cost(amount: Decimal) -> Decimal:
    """What one bonus of ``amount`` costs: the bonus plus MTurk's 20% fee (at least $0.01)."""
    return Decimal(amount) + fee(Decimal(amount), BASE_FEE_RATE)
