"""The HIT settings of a batch (the manifest's ``hit`` block) and MTurk's limits on them.

:class:`HITSettings` is the one validator: ``studykit tasks build`` checks a spec's ``[hit]`` table with
it, and ``studykit mturk`` checks the manifest with it again before any call, so a batch that builds
is a batch that posts. Limits (``/work/shared/reference/mturk.md`` section 1.3): title <= 128
characters, description <= 2,000, keywords <= 1,000; reward a CurrencyAmount of at least $0.01;
1 <= MaxAssignments <= 1,000,000; assignment duration and lifetime 30 s to one year; auto-approval
delay 0 to 30 days.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from ._checks import check, is_int
from .studies import study_schema

__all__ = ["HITSettings", "parse_reward", "REWARD_PATTERN", "MAX_ASSIGNMENTS", "MAX_SECONDS",
           "MAX_AUTO_APPROVAL_SECONDS", "MIN_REWARD"]

#: MTurk's CurrencyAmount, written the way studykit stores it: dollars and exactly two cents digits.
REWARD_PATTERN = re.compile(r"^\d+\.\d{2}$")
MIN_REWARD = Decimal("0.01")
MAX_ASSIGNMENTS = 1_000_000
MIN_SECONDS = 30
MAX_SECONDS = 31_536_000               # one year: LifetimeInSeconds and AssignmentDurationInSeconds
MAX_AUTO_APPROVAL_SECONDS = 2_592_000  # 30 days
TEXT_LIMITS = {"title": 128, "description": 2000, "keywords": 1000}


@dataclasses.dataclass(frozen=True)
class HITSettings:
    """The HIT type and per-HIT settings (the manifest's ``hit`` block).

    Parameters
    ----------
    title, description, keywords : str
        Shown to workers (at most 128, 2,000 and 1,000 characters; keywords may be empty).
    reward : str
        US dollars per assignment with exactly two decimals, like ``"0.04"``, at least ``"0.01"``
        (:func:`parse_reward` turns ``0.04`` or ``"0.5"`` into this form).
    max_assignments : int
        Distinct workers per HIT, 1 to 1,000,000 (the paper: 5). Nine or fewer avoids MTurk's extra
        fee; more must be accepted explicitly when posting.
    assignment_duration_seconds, lifetime_seconds : int
        Time for one assignment, and time the HIT stays listed: 30 s to one year.
    auto_approval_delay_seconds : int
        Time after submission until MTurk approves on its own: 0 to 30 days.

    Raises
    ------
    ValueError
        ``hit.<field>=<value> is invalid: expected ...`` for the first field outside MTurk's limits.
    """

    title: str
    description: str
    reward: str
    keywords: str = "images, survey"
    max_assignments: int = 5
    assignment_duration_seconds: int = 1800
    lifetime_seconds: int = 604800
    auto_approval_delay_seconds: int = 259200

    def __post_init__(self):
        for name, limit in TEXT_LIMITS.items():
            value = getattr(self, name)
            check(isinstance(value, str) and (bool(value.strip()) or name == "keywords") and len(value) <= limit,
                  f"hit.{name}", value, f"a non-empty text of at most {limit} characters")
        check(isinstance(self.reward, str) and bool(REWARD_PATTERN.match(self.reward))
              and Decimal(self.reward) >= MIN_REWARD, "hit.reward", self.reward,
              'a text of US dollars with two decimals, at least "0.01" (like "0.04")')
        check(is_int(self.max_assignments, 1, MAX_ASSIGNMENTS), "hit.max_assignments", self.max_assignments,
              f"an integer in [1, {MAX_ASSIGNMENTS}]")
        for name, low, high in (("assignment_duration_seconds", MIN_SECONDS, MAX_SECONDS),
                                ("lifetime_seconds", MIN_SECONDS, MAX_SECONDS),
                                ("auto_approval_delay_seconds", 0, MAX_AUTO_APPROVAL_SECONDS)):
            check(is_int(getattr(self, name), low, high), f"hit.{name}", getattr(self, name),
                  f"an integer in [{low}, {high}]")

    @property
    def reward_amount(self) -> Decimal:
        """The reward as an exact decimal amount of dollars."""
        return Decimal(self.reward)

    def to_dict(self) -> dict[str, Any]:
        """The manifest's ``hit`` block."""
        return dataclasses.asdict(self)

    @classmethod
    def for_study(cls, study: str, **changes) -> "HITSettings":
        """The paper's settings of ``study`` (title, description and reward from the study registry) with
        ``changes`` applied; a ``reward`` given as a number or with one decimal is normalized
        (``0.5`` -> ``"0.50"``, :func:`parse_reward`)."""
        entry = study_schema(study)
        if "reward" in changes:
            changes["reward"] = parse_reward(changes["reward"])
        return cls(**{"title": entry.title, "description": entry.description, "reward": entry.reward, **changes})

    @classmethod
    def from_manifest(cls, block: Any, *, where: str = "manifest.json") -> "HITSettings":
        """The ``hit`` block of a manifest, every field required (a manifest spells its settings out).

        Raises
        ------
        ValueError
            When the block is not an object, misses or adds a field, or a value is out of limits;
            the message starts with ``where``.
        """
        if not isinstance(block, Mapping):
            raise ValueError(f"{where}: no 'hit' block (an object of HIT settings)")
        names = [f.name for f in dataclasses.fields(cls)]
        missing, unknown = sorted(set(names) - set(block)), sorted(set(block) - set(names))
        if missing or unknown:
            raise ValueError(f"{where}: malformed 'hit' block (missing: {', '.join(missing) or '-'}; "
                             f"unknown: {', '.join(unknown) or '-'})")
        try:
            return cls(**block)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None


def parse_reward(value: Any) -> str:
    """A reward as written by a user (``0.04``, ``"0.04"``, ``"0.5"``) -> ``"0.04"``, ``"0.50"``.

    Raises ``ValueError`` naming ``hit.reward`` for anything with more than two decimals, below $0.01,
    or not a number.
    """
    try:
        amount = Decimal(str(value)) if isinstance(value, (str, int, float)) and not isinstance(value, bool) \
            else None
    except InvalidOperation:
        amount = None
    text = None if amount is None or not amount.is_finite() else f"{amount:.2f}"
    check(text is not None and Decimal(text) == amount and Decimal(text) >= MIN_REWARD
          and bool(REWARD_PATTERN.match(text)),
          "hit.reward", value, 'US dollars with at most two decimals, at least 0.01 (like "0.04")')
    return text
