"""What a batch costs, and the account balance to pay it from.

The fee rules live in :mod:`studykit.formats.fees` (shared with ``studykit plan``); this module adds
the one thing that needs the API: the requester account's balance.
"""

from __future__ import annotations

from decimal import Decimal

from studykit.formats.fees import (HIGH_FEE_ASSIGNMENTS, CostEstimate, bonus_cost, estimate_cost, fee,
                                   fee_rate)

__all__ = ["CostEstimate", "fee_rate", "fee", "estimate_cost", "bonus_cost", "account_balance",
           "HIGH_FEE_ASSIGNMENTS"]


def account_balance(client) -> Decimal:
    """The requester account's available balance (GetAccountBalance); the sandbox always says $10,000."""
    return Decimal(client.get_account_balance()["AvailableBalance"])
