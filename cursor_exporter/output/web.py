"""The HTTP server: sends bytes the sync already rendered, and nothing else.

``/metrics`` (or ``--web.telemetry-path``) in the text format or OpenMetrics, gzip when asked; ``/`` the
landing page; ``/-/healthy``; ``/-/ready`` (503 until the first sync or a state restore). Without a
telemetry path (push-only OTLP use) there is no metrics endpoint; the rest stays. ``--web.config.file``
adds TLS, basic auth and headers to all of them.

Why one asyncio event loop and no thread per connection: every answer is bytes already rendered, so
serving a request is reading a head and copying bytes to a socket, which one loop does for thousands of
connections. A thread per connection let 1,286 half-open connections make 1,283 threads; a worker pool
behind a selector would still need the selector to read heads and run TLS handshakes, which is this
loop with a hand-off added. So the loop accepts, runs TLS handshakes (non-blocking, under a timeout),
reads request heads under a deadline and sends the cached bytes a chunk at a time; the only blocking
work, bcrypt for a credential pair not yet verified, goes to a fixed pool of ``AUTH_WORKERS`` threads.
The process gains at most ``1 + AUTH_WORKERS`` threads, however many clients connect.

Under load and abuse: the listen backlog is ``BACKLOG``, so connections that arrive while a render
holds the GIL wait in the kernel instead of being dropped, and the interpreter's switch interval is
shortened to ``SWITCH_INTERVAL_S``, and to ``ANSWERING_SWITCH_INTERVAL_S`` while a connection is being
answered, so the loop waits less for the GIL. A connection must send a complete
request head within ``HEAD_TIMEOUT_S``, and a keep-alive connection its next request within
``IDLE_TIMEOUT_S``. At the connection limit (from the open-files limit, raised as Go programs raise it)
the connection idle the longest is closed to admit a new one. A client that goes away mid-request or
mid-response costs one debug line, never a traceback.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import resource
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus

from cursor_exporter.output.exposition import ExpositionCache
from cursor_exporter.output.webconfig import WebConfig, WebConfigWatcher

log = logging.getLogger(__name__)
REALM = 'Basic realm="cursor-exporter"'
TEXT = "text/plain; charset=utf-8"
BACKLOG = 1024
HANDSHAKE_TIMEOUT_S = 10.0
HEAD_TIMEOUT_S = 10.0  # a new connection's first request head, and any head once its first byte came
IDLE_TIMEOUT_S = 120.0  # a keep-alive connection between requests: longer than common scrape intervals
SEND_TIMEOUT_S = 120.0
SHUTDOWN_TIMEOUT_S = 10.0
MAX_HEAD_BYTES = 32 * 1024
CHUNK_BYTES = 256 * 1024  # a slow reader holds this much of a response in its buffer, not a copy of all of it
AUTH_WORKERS = 4
MAX_CONNECTIONS = 10_000
FD_RESERVE = 256  # open files kept for the ledgers, the API client and the log
# The loop gives up the GIL at every socket call and waits up to the switch interval to get it back from a
# render: 1 ms instead of Python's 5 ms doubled scrapes per second under a continuous render, and 50 us
# while a connection is being answered took a scrape's p99 under a render from 7.6x its idle p99 to about
# 2.6x at 100k series (docs/reliability.md). The short interval costs threads that contend for the GIL
# about an eighth more CPU, so it lasts only while some connection is handshaking or being answered.
SWITCH_INTERVAL_S = 0.001
ANSWERING_SWITCH_INTERVAL_S = 0.00005
HEAD_END = b"\r\n\r\n"
_INTERPRETER_SWITCH_INTERVAL_S = sys.getswitchinterval()  # before any server shortened it


class BadRequest(ValueError):
    """A request head that is not HTTP/1.x."""


@dataclass(frozen=True)
class Request:
    """A parsed request head: header names in lower case, the first value of each."""

    method: str
    path: str
    version: str
    headers: Mapping[str, str]

    @property
    def keep_alive(self) -> bool:
        """Whether the connection stays open after the answer (never after a request with a body)."""
        if "content-length" in self.headers and self.headers["content-length"] != "0":
            return False
        if "transfer-encoding" in self.headers:
            return False
        connection = self.headers.get("connection", "").lower()
        return "keep-alive" in connection if self.version == "HTTP/1.0" else "close" not in connection


def parse_request(head: bytes) -> Request:
    """Parse a request head (request line and headers up to the blank line); raises :class:`BadRequest`."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1]:
        raise BadRequest(lines[0][:80])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest(line[:80])
        headers.setdefault(name.lower(), value.strip())
    method, target, version = parts
    return Request(method, target.split("?", 1)[0], version, headers)


def pieces_of(body: bytes | tuple[bytes, ...]) -> tuple[bytes, ...]:
    """A response body whole or in pieces, as pieces."""
    return (body,) if isinstance(body, bytes) else body


def response_head(status: int, content_type: str, length: int, headers: Mapping[str, str], keep_alive: bool) -> bytes:
    """The status line and headers of an answer."""
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        f"Date: {formatdate(usegmt=True)}",
        f"Content-Type: {content_type}",
        f"Content-Length: {length}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def connection_limit() -> int:
    """How many connections to hold: the open-files limit, raised toward what they need, less a reserve."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_CONNECTIONS + FD_RESERVE
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    if soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):  # a container that forbids it keeps fewer connections
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return min(MAX_CONNECTIONS, max(soft // 2, soft - FD_RESERVE))


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """One line for a socket error the loop meets outside a connection (accept out of files); bugs in full."""
    error = context.get("exception")
    if isinstance(error, OSError):
        log.warning("%s: %s", context["message"], error)
    else:
        loop.default_exception_handler(context)


class Hurry:
    """The interpreter's switch interval: ``ANSWERING_SWITCH_INTERVAL_S`` while any connection wants the loop
    to get the GIL back soon (see :meth:`claim`), ``resting_s`` otherwise. Used by the loop's thread only."""

    def __init__(self, resting_s: float) -> None:
        self.resting_s = resting_s
        self._wanting = 0

    @contextlib.contextmanager
    def claim(self) -> Iterator[Callable[[bool], None]]:
        """A connection's claim, wanted from the start; the block gets a switch to say whether it is wanted
        now (a kept-alive connection waiting for its next request does not), and the end drops it."""
        wanted = False

        def want(now: bool) -> None:
            nonlocal wanted
            if now != wanted:
                wanted = now
                self._wanting += 1 if now else -1
                if self._wanting == int(now):  # the first claim, or the last one gone
                    sys.setswitchinterval(ANSWERING_SWITCH_INTERVAL_S if now else self.resting_s)

        want(True)
        try:
            yield want
        finally:
            want(False)


class MetricsServer:
    """An HTTP server bound at construction, so a taken port fails before any sync; serves from :meth:`start`."""

    def __init__(
        self,
        host: str,
        port: int,
        cache: ExpositionCache,
        telemetry_path: str | None,
        web_config: WebConfigWatcher | None = None,
    ) -> None:
        self.cache = cache
        self.telemetry_path = telemetry_path
        self.web_config = web_config or WebConfigWatcher(None)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.create_server((host, port), family=family, backlog=BACKLOG)
        self.server_address = self.socket.getsockname()
        self._auth = ThreadPoolExecutor(AUTH_WORKERS, thread_name_prefix="web-auth")
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._idle: dict[asyncio.StreamWriter, None] = {}  # waiting for a request, the longest-waiting first
        self._max_connections = MAX_CONNECTIONS
        self._hurry = Hurry(min(_INTERPRETER_SWITCH_INTERVAL_S, SWITCH_INTERVAL_S))

    def start(self) -> threading.Thread:
        """Serve in a daemon thread that runs the event loop."""
        self._max_connections = connection_limit()
        sys.setswitchinterval(self._hurry.resting_s)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="web", daemon=True)
        self._thread.start()
        return self._thread

    def shutdown(self) -> None:
        """Stop accepting, close every connection and end the loop's thread."""
        if self._thread is None:
            return
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(SHUTDOWN_TIMEOUT_S)

    def server_close(self) -> None:
        """Close the listening socket and the authentication pool."""
        self.socket.close()
        self._auth.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        with asyncio.Runner(loop_factory=lambda: self._loop) as runner:
            runner.run(self._serve())

    async def _serve(self) -> None:
        asyncio.get_running_loop().set_exception_handler(_log_loop_error)
        server = await asyncio.start_server(self._connection, sock=self.socket, backlog=BACKLOG, limit=MAX_HEAD_BYTES)
        await self._stop.wait()
        server.close()
        for writer in list(self._connections):
            writer.transport.abort()

    def _admit(self, writer: asyncio.StreamWriter) -> bool:
        """Track a new connection; at the limit, make room by closing the one idle the longest."""
        if len(self._connections) >= self._max_connections:
            if not self._idle:
                log.debug("%d connections busy: refusing a new one", len(self._connections))
                return False
            log.debug("%d connections open: closing the one idle the longest", len(self._connections))
            next(iter(self._idle)).transport.abort()
        self._connections.add(writer)
        self._idle[writer] = None
        return True

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = (writer.get_extra_info("peername") or ("unknown",))[0]
        if not self._admit(writer):
            writer.transport.abort()
            return
        try:
            with self._hurry.claim() as hurry:  # from the accept: the handshake and the first request
                tls = self.web_config.current.tls
                if tls is not None:
                    await writer.start_tls(tls, ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S)
                wait_s = HEAD_TIMEOUT_S
                while (request := await self._read_request(reader, writer, wait_s, hurry)) is not None:
                    del self._idle[writer]
                    if not await self._respond(request, writer, peer):
                        break
                    hurry(False)  # until the next request's first byte
                    self._idle[writer] = None
                    wait_s = IDLE_TIMEOUT_S
        except (OSError, EOFError) as error:  # reset, broken pipe, TLS failure, timeout: the client's doing
            log.debug("connection from %s closed: %s", peer, error or type(error).__name__)
        finally:
            self._connections.discard(writer)
            self._idle.pop(writer, None)
            writer.close()

    async def _read_request(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        wait_s: float,
        hurry: Callable[[bool], None],
    ) -> Request | None:
        """The next request; None when the client closed the connection or sent no HTTP."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(wait_s) as deadline:
                first = await reader.read(1)
                if not first:
                    return None
                hurry(True)
                deadline.reschedule(min(deadline.when(), loop.time() + HEAD_TIMEOUT_S))
                return parse_request(first + await reader.readuntil(HEAD_END))
        except asyncio.LimitOverrunError:
            await self._send(writer, 431, b"Request header fields too large\n", TEXT, {}, keep_alive=False)
        except BadRequest as error:
            log.debug("bad request: %s", error)
            await self._send(writer, 400, b"Bad request\n", TEXT, {}, keep_alive=False)
        return None

    async def _respond(self, request: Request, writer: asyncio.StreamWriter, peer: str) -> bool:
        """Answer one request; True when the connection stays open for the next."""
        config = self.web_config.current
        keep_alive = request.keep_alive
        if request.method not in ("GET", "HEAD"):
            status, body, content_type, extra = 405, b"Method not allowed\n", TEXT, {"Allow": "GET, HEAD"}
        elif config.users and not await self._authorized(config, request.headers.get("authorization", "")):
            status, body, content_type, extra = 401, b"Unauthorized\n", TEXT, {"WWW-Authenticate": REALM}
        else:
            status, body, content_type, extra = self._route(request)
        headers = {**config.headers, **extra}
        await self._send(writer, status, body, content_type, headers, keep_alive, request.method == "GET")
        size = sum(map(len, pieces_of(body)))
        log.debug('%s "%s %s %s" %d %d', peer, request.method, request.path, request.version, status, size)
        return keep_alive

    def _route(self, request: Request) -> tuple[int, bytes | tuple[bytes, ...], str, dict[str, str]]:
        cache = self.cache
        if request.path == self.telemetry_path:
            body, content_type, gzipped = cache.rendered.choose(
                request.headers.get("accept", ""), request.headers.get("accept-encoding", "")
            )
            return 200, body, content_type, {"Content-Encoding": "gzip"} if gzipped else {}
        if request.path == "/":
            return 200, cache.landing_page, "text/html; charset=utf-8", {}
        if request.path == "/-/healthy":
            return 200, b"Healthy\n", TEXT, {}
        if request.path == "/-/ready":
            ready = cache.ready
            return (200, b"Ready\n", TEXT, {}) if ready else (503, b"Not ready\n", TEXT, {})
        return 404, b"Not found\n", TEXT, {}

    async def _authorized(self, config: WebConfig, authorization: str) -> bool:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._auth, self.web_config.authorized, config, user, password)

    @staticmethod
    async def _send(
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes | tuple[bytes, ...],
        content_type: str,
        headers: Mapping[str, str],
        keep_alive: bool,
        with_body: bool = True,
    ) -> None:
        """Write an answer (``body`` whole or in pieces) a chunk at a time, each once the client has taken
        most of the one before."""
        pieces = pieces_of(body)
        head = response_head(status, content_type, sum(map(len, pieces)), headers, keep_alive)
        chunks = (
            view[start : start + CHUNK_BYTES]
            for view in map(memoryview, pieces if with_body else ())
            for start in range(0, len(view), CHUNK_BYTES)
        )
        async with asyncio.timeout(SEND_TIMEOUT_S):
            writer.write(head + next(chunks, b""))
            for chunk in chunks:
                # drain() returns at once while a transport is not paused, also once its peer has gone:
                # yielding lets other connections run and a lost connection be noticed before more is written.
                await asyncio.sleep(0)
                await writer.drain()
                writer.write(chunk)
            await writer.drain()
