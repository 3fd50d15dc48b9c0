"""``serve``'s process setup: the cap on glibc malloc arenas, unless the environment sets one."""

from __future__ import annotations

import ctypes
import os

from cursor_exporter.commands import serve


class FakeLibc:
    """Records mallopt() calls instead of making them."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, parameter: int, value: int) -> int:
        self.calls.append((parameter, value))
        return 1


def test_serve_caps_malloc_arenas_unless_the_environment_sets_their_number(monkeypatch):
    libc = FakeLibc()
    monkeypatch.setattr(ctypes, "CDLL", lambda name: libc)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert serve.cap_malloc_arenas()
    assert libc.calls == [(-8, serve.MALLOC_ARENAS)]  # M_ARENA_MAX in glibc's malloc.h

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert not serve.cap_malloc_arenas()
    assert libc.calls == [(-8, serve.MALLOC_ARENAS)]


def test_a_c_library_without_mallopt_is_left_as_it_is(monkeypatch):
    monkeypatch.setattr(ctypes, "CDLL", lambda name: object())  # musl: no mallopt
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert not serve.cap_malloc_arenas()


def test_glibc_takes_the_cap():
    assert serve.cap_malloc_arenas() or "MALLOC_ARENA_MAX" in os.environ  # the machines here run glibc
