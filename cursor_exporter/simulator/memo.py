"""Thread-safe memo for the deterministic generators (hours of events, member-days, audit days)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """``generate(key)`` computed once per key; concurrent misses may both generate (same result,
    deterministic), the first stored wins, so every caller sees one value."""

    def __init__(self, generate: Callable[[K], V]) -> None:
        self._generate = generate
        self._values: dict[K, V] = {}
        self._lock = threading.Lock()

    def __call__(self, key: K) -> V:
        with self._lock:
            cached = self._values.get(key)
        if cached is None:
            cached = self._generate(key)
            with self._lock:
                cached = self._values.setdefault(key, cached)
        return cached
