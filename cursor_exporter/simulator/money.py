"""How served numbers read: the exact decimal of a served float, and how sums are served.

Money is summed as ``sum(Decimal(repr(x)))`` over the exact floats the API serialises
(``json.dumps`` writes ``repr``) and reported as decimal strings, so an exporter that
parses JSON numbers exactly can match the truth digit for digit.
"""

from __future__ import annotations

from decimal import Decimal


def exact(value: float | int) -> Decimal:
    """The exact decimal a JSON reader sees for a served number."""
    return Decimal(repr(value))


def decimal_string(value: Decimal) -> str:
    """Plain (non-scientific) decimal string."""
    return format(value, "f")


def served_number(value: Decimal) -> float | int:
    """A decimal sum as the API serves it: 0 stays an int, anything else the nearest float."""
    return 0 if value == 0 else float(value)
