"""Response bodies as compact JSON, with arrays of already encoded items spliced in as they are.

An events page is mostly its events; each one's JSON can be encoded once and reused, so the
page body is a join of cached bytes around a small envelope instead of a fresh ``json.dumps``.
"""

from __future__ import annotations

import json

_ENCODER = json.JSONEncoder(separators=(",", ":"))  # what json.dumps(value, separators=(",", ":")) uses


def encode(value: object) -> bytes:
    """``value`` as compact JSON bytes: ``json.dumps(value, separators=(",", ":")).encode()``."""
    return _ENCODER.encode(value).encode()


class EncodedArray:
    """A JSON array whose items are already encoded; ``encode_body`` writes them out verbatim."""

    __slots__ = ("items",)

    def __init__(self, items: list[bytes]) -> None:
        self.items = items

    def __bytes__(self) -> bytes:
        return b"[" + b",".join(self.items) + b"]"


def encode_body(payload: object) -> bytes:
    """``payload`` as compact JSON; ``EncodedArray`` values of a top-level dict (string keys) are spliced
    in, so the body is byte for byte what ``encode`` gives for the same dict with decoded items."""
    if not isinstance(payload, dict) or not any(isinstance(value, EncodedArray) for value in payload.values()):
        return encode(payload)
    members = (
        encode(key) + b":" + (bytes(value) if isinstance(value, EncodedArray) else encode(value))
        for key, value in payload.items()
    )
    return b"{" + b",".join(members) + b"}"
