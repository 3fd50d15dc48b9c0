"""HTTP transport for the simulator: threads, sockets, faults that live on the wire."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .api import handle_api
from .config import MISANSWER_KINDS
from .control import handle_control
from .wire import INTERNAL_ERROR, Response, json_response, proxy_error_page
from .wire import rate_limited as rate_limited_response
from .world import World

CONTROL_PREFIX = "/_sim/"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _SimHTTPServer

    def version_string(self) -> str:
        return "cursor-sim"

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: object) -> None:
        pass  # tests and demos read the request log instead

    def _dispatch(self) -> None:
        sim = self.server.simulator
        url = urlsplit(self.path)
        path = url.path
        query = dict(parse_qsl(url.query))
        raw_body = self._read_body()
        if path.startswith(CONTROL_PREFIX):
            self._send(handle_control(sim, self.command, path, query, raw_body))
            return
        fault = sim.faults.take()
        truncate = fault == "truncate"
        # Wait on the shutdown event so stop() never hangs behind a sleeping request.
        if fault == "timeout" and sim.shutdown_event.wait(sim.config.timeout_fault_s):
            self.close_connection = True
            return
        if fault in ("500", "502", "503", "504", "429"):
            response = _fault_response(sim, fault)
        else:
            authorization = self.headers.get("Authorization")
            if_none_match = self.headers.get("If-None-Match")
            response = handle_api(sim, self.command, path, query, authorization, raw_body, if_none_match)
            if fault in MISANSWER_KINDS and response.status == 200 and path.endswith("/filtered-usage-events"):
                response = _misanswer(fault, response)
        sim.record_request(path, response.status)
        self._send(response, truncate=truncate)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, response: Response, truncate: bool = False) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            if truncate:
                self.send_header("Connection", "close")
            self.end_headers()
            if truncate:
                # Full Content-Length, half the body, then hang up: a connection cut mid-response.
                self.wfile.write(response.body[: len(response.body) // 2])
                self.wfile.flush()
                self.close_connection = True
            else:
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _misanswer(fault: str, truth: Response) -> Response:
    """An events answer that is not the truth (see ``MISANSWER_KINDS``)."""
    page = json.loads(truth.body)
    if fault == "envelope":
        return json_response(200, {})
    events = page["usageEvents"]
    kept = events[: len(events) // 2] if fault == "short" else []
    page |= {"totalUsageEventsCount": len(kept), "usageEvents": kept}
    page["pagination"] |= {"numPages": 1 if kept else 0, "hasNextPage": False}
    if fault == "redirect":
        return json_response(302, page, {"Location": "http://198.51.100.7/teams/filtered-usage-events"})
    return json_response(200, page)


def _fault_response(sim: World, fault: str) -> Response:
    if fault == "429":
        return rate_limited_response(sim)
    if fault == "500":
        return json_response(500, INTERNAL_ERROR)
    return proxy_error_page(int(fault))


class _SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: World) -> None:
        self.simulator = simulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up kept-alive connections so a stopped server really stops answering."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class SimServer:
    """A running simulator HTTP server."""

    def __init__(self, simulator: World, httpd: _SimHTTPServer, thread: threading.Thread | None) -> None:
        self.simulator = simulator
        self._httpd = httpd
        self._thread = thread

    @classmethod
    def start(cls, simulator: World, host: str = "127.0.0.1", port: int = 0) -> SimServer:
        """Bind and serve on a daemon thread."""
        simulator.shutdown_event.clear()
        httpd = _SimHTTPServer((host, port), simulator)
        thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="cursor-sim", daemon=True
        )
        thread.start()
        return cls(simulator, httpd, thread)

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving, wake requests stuck in a timeout fault, release the port."""
        self.simulator.shutdown_event.set()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_foreground(simulator: World, host: str, port: int) -> None:
    """Serve in the foreground until interrupted; prints ``{"url", "seed"}`` to stderr first."""
    httpd = _SimHTTPServer((host, port), simulator)
    bound_host, bound_port = httpd.server_address[:2]
    summary = {"url": f"http://{bound_host}:{bound_port}", "seed": simulator.config.seed}
    print(json.dumps(summary), file=sys.stderr, flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        simulator.shutdown_event.set()
        httpd.server_close()
