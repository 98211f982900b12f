"""Who may work on a batch: qualification requirements built from a few researcher-level settings.

MTurk's system qualification types have the same ids in the sandbox and production, except Masters.
Sandbox worker accounts have no work history (no approval rate, no approved HITs), so by default the
requirements are applied in production only; ``apply_in_sandbox=True`` applies them in the sandbox too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "PERCENT_APPROVED", "NUMBER_HITS_APPROVED", "LOCALE", "MASTERS_PRODUCTION", "MASTERS_SANDBOX",
    "Qualifications",
]

#: Worker_PercentAssignmentsApproved (integer 0-100).
PERCENT_APPROVED = "000000000000000000L0"
#: Worker_NumberHITsApproved (integer).
NUMBER_HITS_APPROVED = "00000000000000000040"
#: Worker_Locale (ISO 3166 country codes).
LOCALE = "00000000000000000071"
#: Masters, whose id differs between the two environments.
MASTERS_PRODUCTION = "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH"
MASTERS_SANDBOX = "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6"
MAX_LOCALES = 30
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class Qualifications:
    """The qualification requirements of a batch's HIT type.

    Parameters
    ----------
    min_approval_rate : int or None
        Lowest lifetime approval rate in percent (``GreaterThanOrEqualTo``); None for no requirement.
    min_approved_hits : int or None
        Fewest approved HITs; None for no requirement.
    countries : tuple of str
        ISO 3166-1 alpha-2 codes of the worker locales allowed (at most 30); empty for anywhere.
    masters : bool
        Require the Masters qualification (MTurk adds 5% to its fee).
    apply_in_sandbox : bool
        Also require these in the sandbox, where worker accounts have no history to meet them.

    Raises
    ------
    ValueError
        Naming the first value MTurk would not accept.
    """

    min_approval_rate: int | None = 95
    min_approved_hits: int | None = 1000
    countries: tuple = ("US",)
    masters: bool = False
    apply_in_sandbox: bool = False

    def __post_init__(self):
        rate = self.min_approval_rate
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or not 0 <= rate <= 100):
            raise ValueError(f"min_approval_rate must be an integer percentage in [0, 100], got {rate!r}")
        hits = self.min_approved_hits
        if hits is not None and (isinstance(hits, bool) or not isinstance(hits, int) or hits < 0):
            raise ValueError(f"min_approved_hits must be a non-negative integer, got {hits!r}")
        object.__setattr__(self, "countries", tuple(self.countries))
        for country in self.countries:
            if not isinstance(country, str) or not _COUNTRY.match(country):
                raise ValueError(f"countries must be ISO 3166 alpha-2 codes like 'US', got {country!r}")
        if len(self.countries) > MAX_LOCALES:
            raise ValueError(f"at most {MAX_LOCALES} countries are allowed, got {len(self.countries)}")

    def uses_masters(self, production: bool) -> bool:
        """Whether HITs posted to this environment require Masters (and so pay its extra fee)."""
        return self.masters and (production or self.apply_in_sandbox)

    def requirements(self, production: bool) -> list[dict]:
        """The ``QualificationRequirements`` list for CreateHITType in the given environment."""
        if not production and not self.apply_in_sandbox:
            return []
        requirements = []
        if self.min_approval_rate is not None:
            requirements.append({"QualificationTypeId": PERCENT_APPROVED, "Comparator": "GreaterThanOrEqualTo",
                                 "IntegerValues": [self.min_approval_rate], "ActionsGuarded": "Accept"})
        if self.min_approved_hits is not None:
            requirements.append({"QualificationTypeId": NUMBER_HITS_APPROVED, "Comparator": "GreaterThanOrEqualTo",
                                 "IntegerValues": [self.min_approved_hits], "ActionsGuarded": "Accept"})
        if self.countries:
            requirements.append({"QualificationTypeId": LOCALE, "Comparator": "In",
                                 "LocaleValues": [{"Country": c} for c in self.countries],
                                 "ActionsGuarded": "Accept"})
        if self.masters:
            requirements.append({"QualificationTypeId": MASTERS_PRODUCTION if production else MASTERS_SANDBOX,
                                 "Comparator": "Exists", "ActionsGuarded": "Accept"})
        return requirements

    def describe(self, production: bool) -> str:
        """One line saying who may work on the HITs in this environment."""
        if not production and not self.apply_in_sandbox:
            return "qualifications: none in the sandbox (production: " + self._summary() + ")"
        return "qualifications: " + self._summary()

    def _summary(self) -> str:
        parts = []
        if self.min_approval_rate is not None:
            parts.append(f"approval rate >= {self.min_approval_rate}%")
        if self.min_approved_hits is not None:
            parts.append(f"approved HITs >= {self.min_approved_hits}")
        if self.countries:
            parts.append("locale in " + "/".join(self.countries))
        if self.masters:
            parts.append("Masters")
        return ", ".join(parts) or "anyone"
