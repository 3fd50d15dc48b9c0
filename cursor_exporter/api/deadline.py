"""A wall-clock deadline for one HTTP request: connect, headers and the whole body.

httpx's timeouts bound each socket operation, so a server that drips a byte a second (in the headers
or the body) holds a request for ever. :class:`Deadline` watches the socket of the connection the
request opens, through httpcore's ``trace`` extension, and shuts it down when the time is up: whatever
phase the request is in, its next read fails and :attr:`Deadline.expired` says why.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

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
