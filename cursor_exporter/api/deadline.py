"""Wall-clock deadlines: of one HTTP request (connect, headers and the whole body), and of a sync.

httpx's timeouts bound each socket operation, so a server that drips a byte a second (in the headers
or the body) holds a request for ever. :class:`Deadline` watches the socket of the connection the
request opens, through httpcore's ``trace`` extension, and shuts it down when the time is up: whatever
phase the request is in, its next read fails and :attr:`Deadline.expired` says why.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
Limit = tuple[float | None, float | None]
"""A sync's deadline on the monotonic clock and its length in seconds; (None, None) for none."""

CONNECTED = "connection.connect_tcp.complete"


class Deadline:
    """Cuts one request ``seconds`` after :meth:`__enter__`; pass :meth:`trace` as the request's trace hook.

    The request must open its own connection (no keep-alive): a reused one is never announced to the trace.
    """

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self.expired = False

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        with self._lock:
            for watched in self._sockets:
                watched.close()
            self._sockets.clear()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: watch the socket of each connection the request opens."""
        if event != CONNECTED:
            return
        opened = info["return_value"].get_extra_info("socket")
        # A duplicate descriptor of the same socket: TLS detaches the original object, and shutting
        # the duplicate down still ends the connection, from any thread.
        watched = socket.fromfd(opened.fileno(), opened.family, opened.type)
        with self._lock:
            self._sockets.append(watched)
            if self.expired:
                _shut(watched)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for watched in self._sockets:
                _shut(watched)


def _shut(watched: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the peer may have closed it already
        watched.shutdown(socket.SHUT_RDWR)


class SyncDeadlines:
    """The deadline of the sync each thread runs, if any: no request of that sync starts, or retries, after
    it, so an endless answer (a next page for ever, a billion pages) fails its sync, not the exporter."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._local = threading.local()

    def within(self, seconds: float | None) -> AbstractContextManager[None]:
        """A block in which this thread's requests start at most ``seconds`` after it began (None: no limit)."""
        return self._limited((None if seconds is None else self._monotonic() + seconds, seconds))

    def carried(self, call: Callable[..., T]) -> Callable[..., T]:
        """``call``, to run on another thread under the deadline this thread runs under: pages fetched
        ahead by a worker stop with the sync that asked for them."""
        limit = self._limit()

        def under_this_deadline(*args: Any) -> T:
            with self._limited(limit):
                return call(*args)

        return under_this_deadline

    def overrun(self) -> str | None:
        """Why this thread may start no more requests (its sync ran out of time), or None."""
        deadline, seconds = self._limit()
        if deadline is not None and self._monotonic() >= deadline:
            return f"sync ran out of its {seconds:.0f}s; the rest waits for the next sync"
        return None

    def _limit(self) -> Limit:
        return getattr(self._local, "limit", (None, None))

    @contextmanager
    def _limited(self, limit: Limit) -> Iterator[None]:
        outer, self._local.limit = self._limit(), limit
        try:
            yield
        finally:  # a needed source's sync nests inside the sync that needed it
            self._local.limit = outer
