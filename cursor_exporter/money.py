"""Money on the ground floor: exact decimal cents inside, dollars only at the very end.

Cursor reports money in cents (``chargedCents``, ``spendCents``, ``usedCents``), sometimes with
fractions. Every sum stays a :class:`~decimal.Decimal` of cents; :func:`dollars` converts once, when a
sample is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

ZERO = Decimal(0)
ON_DEMAND_KIND = "Usage-based"
"""The ``kind`` of usage Cursor invoices on top of the plan (on-demand); every other kind is included."""


def dollars(cents: Decimal) -> float:
    """Exact cents to the nearest float of dollars: one rounding, at the very end."""
    return float(cents / 100)


def is_on_demand(kind: str) -> bool:
    """True for usage billed on demand (invoiced beyond the plan)."""
    return kind == ON_DEMAND_KIND


def sum_cents(amounts: Iterable[Decimal]) -> Decimal:
    """Exact sum of cents (0 for none)."""
    return sum(amounts, ZERO)


def cents_by_user(pairs: Iterable[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """Exact cents per user from (user, cents) pairs."""
    sums: dict[str, Decimal] = {}
    for user, cents in pairs:
        sums[user] = sums.get(user, ZERO) + cents
    return sums
