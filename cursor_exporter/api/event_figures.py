"""Usage-event pages read straight into plain tuples: the hot path of the usage ledger's ingest.

A page of 1,000 events is decoded by orjson and each row read field by field into :data:`Figures`,
about ten times faster than ``json.loads`` with Decimal and a pydantic model per event. The fast path
only takes what is certainly well-formed; a row with any doubt (a missing or unusual field, non-ASCII
text, a value out of range, a number given as a string) goes to :class:`~cursor_exporter.api.records.UsageEvent`,
which decides as it always did. A test holds the two to the same answer.

Money stays exact. orjson reads a fraction as a binary float, and ``Decimal(repr(x))`` gives back the
value of the text it came from whenever that text is a double's shortest form (JavaScript writes every
number so, float noise such as ``40.16699999999999`` included) or has at most 15 significant digits. Every
longer number in the body is checked to be a shortest form; if one is not, or orjson refuses the body
(NaN, a lone surrogate), it is decoded by ``json.loads`` with Decimal, so nothing is read differently.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from cursor_exporter.api.records import (
    MAX_EPOCH_MS,
    MAX_EVENT_CENTS,
    MAX_PERCENT,
    MAX_REQUEST_UNITS,
    MAX_TEXT,
    MAX_TOKENS,
    Figures,
    TokenUsage,
    UsageEvent,
    charged_cents,
    usage_source,
)
from cursor_exporter.money import ZERO

# Number characters masked to "0" and every other byte to "x": a run of 17 is a number (or a piece of
# text) long enough to hold 16 significant digits, more than every double has a shortest form for.
_NUMBER_MASK = bytes(ord("0") if byte in b"0123456789.eE+-" else ord("x") for byte in range(256))
_LONG_RUN = b"0" * 17
# Field names a row could also be populated by (the model allows it); a row using one takes the slow path.
_PYTHON_NAMES = frozenset(
    name
    for model in (UsageEvent, TokenUsage)
    for name, field in model.model_fields.items()
    if field.alias is not None and field.alias != name
)
_TOKEN_FIELDS = ("inputTokens", "outputTokens", "cacheWriteTokens", "cacheReadTokens")


def _floats_exact(content: bytes | bytearray) -> bool:
    """True when every number of 17 or more characters in ``content`` is its double's shortest form."""
    masked = content.translate(_NUMBER_MASK)
    start = masked.find(_LONG_RUN)
    while start != -1:
        end = masked.find(b"x", start)
        text = content[start : None if end == -1 else end].decode("ascii")
        try:
            if Decimal(text) != Decimal(repr(float(text))):
                return False
        except (InvalidOperation, ValueError):
            pass  # not a number: a piece of text
        if end == -1:
            break
        start = masked.find(_LONG_RUN, end)
    return True


def decode_page(content: bytes | bytearray) -> Any:
    """A JSON body decoded with every number's exact value: by orjson when that is certain, else by
    ``json.loads`` with Decimal."""
    if _floats_exact(content):
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass
    return json.loads(content, parse_float=Decimal)


class _Doubt(Exception):
    """This row needs the full model."""


def _text(value: Any) -> str:
    if type(value) is not str or len(value) > MAX_TEXT or not value.isascii() or "\x00" in value:
        raise _Doubt
    return value


def _number(value: Any, limit: int) -> float | int | Decimal:
    """A number in [0, limit), as decoded. A float's range is that of its shortest form, which rounds to it."""
    kind = type(value)
    if not (kind is float or kind is int or (kind is Decimal and value.is_finite())) or not 0 <= value < limit:
        raise _Doubt
    return value


def _exact(value: float | int | Decimal) -> Decimal:
    """The exact value of a decoded number: for a float, that of its shortest form."""
    if type(value) is float:
        return Decimal(orjson.dumps(value).decode())  # orjson's shortest form (Ryu) is repr's, three times faster
    return Decimal(value)


def _optional_cents(row: dict, key: str) -> Decimal | None:
    value = row.get(key)
    return None if value is None else _exact(_number(value, MAX_EVENT_CENTS))


def _flag(row: dict, key: str) -> bool:
    value = row.get(key, False)
    if value is not True and value is not False:
        raise _Doubt
    return value


def _opaque_id(row: dict, key: str) -> str | None:
    value = row.get(key)
    if value is None:
        return None
    return str(value) if type(value) is int else _text(value)


def _token_figures(usage: Any) -> tuple[int, int, int, int, Any, Any]:
    """Input, output, cache-write and cache-read tokens, total cents and discount of ``tokenUsage`` (the
    last two as decoded: only an event without ``chargedCents`` needs their exact values)."""
    if usage is None:
        return 0, 0, 0, 0, None, 0
    if type(usage) is not dict or not usage.keys().isdisjoint(_PYTHON_NAMES):
        raise _Doubt
    tokens = [usage.get(key, 0) for key in _TOKEN_FIELDS]
    for count in tokens:
        if type(count) is not int or not 0 <= count < MAX_TOKENS:
            raise _Doubt
    total = _number(usage.get("totalCents", 0), MAX_EVENT_CENTS)
    discount = _number(usage.get("discountPercentOff", 0), MAX_PERCENT + 1)
    if discount > MAX_PERCENT:
        raise _Doubt
    return *tokens, total, discount


def _timestamp(value: Any) -> int:
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 16:
        value = int(value)
    elif type(value) is not int:
        raise _Doubt
    if not 0 <= value <= MAX_EPOCH_MS:
        raise _Doubt
    return value


def read_figures(row: Any) -> Figures | None:
    """The figures of a row that is certainly well-formed, or None when :class:`UsageEvent` must decide."""
    if type(row) is not dict or not row.keys().isdisjoint(_PYTHON_NAMES):
        return None
    try:
        stamp = _timestamp(row["timestamp"])
        email = row["userEmail"]
        user = _text(email.strip().lower() if type(email) is str else email)
        model = _text(row.get("model", "unknown"))
        kind = _text(row.get("kind", "unknown"))
        max_mode = _flag(row, "maxMode")
        _flag(row, "isTokenBasedCall")
        if row.get("isChargeable") is not None:
            _flag(row, "isChargeable")
        source = usage_source(
            _opaque_id(row, "serviceAccountId"),
            _opaque_id(row, "cloudAgentId"),
            _opaque_id(row, "automationId"),
            _flag(row, "isHeadless"),
        )
        team = _opaque_id(row, "teamId")
        units = _exact(_number(row.get("requestsCosts", 0), MAX_REQUEST_UNITS))
        charged = _optional_cents(row, "chargedCents")
        fee = _optional_cents(row, "cursorTokenFee")
        inputs, outputs, cache_writes, cache_reads, total, discount = _token_figures(row.get("tokenUsage"))
    except (_Doubt, KeyError):
        return None
    if charged is None:
        charged = charged_cents(None, fee, None if total is None else _exact(total), _exact(discount))
    return (
        stamp, user, model, kind, max_mode, source, team, inputs, outputs, cache_writes, cache_reads,
        charged, fee or ZERO, units,
    )  # fmt: skip
