"""The HTTP server: sends bytes the sync already rendered, and nothing else.

``/metrics`` (or ``--web.telemetry-path``) in the text format or OpenMetrics, gzip when asked; ``/`` the
landing page; ``/-/healthy``; ``/-/ready`` (503 until the first sync or a state restore). Without a
telemetry path (push-only OTLP use) there is no metrics endpoint; the rest stays. ``--web.config.file``
adds TLS, basic auth and headers to all of them.
"""

from __future__ import annotations

import base64
import binascii
import logging
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cursor_exporter.output.exposition import ExpositionCache
from cursor_exporter.output.webconfig import WebConfigWatcher

log = logging.getLogger(__name__)
REALM = 'Basic realm="cursor-exporter"'
HANDSHAKE_TIMEOUT_S = 30.0


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._config = self.server.web_config.current
        if self._config.users and not self._authorized():
            self._send(401, b"Unauthorized\n", "text/plain; charset=utf-8", {"WWW-Authenticate": REALM})
            return
        cache = self.server.cache
        path = self.path.split("?", 1)[0]
        if path == self.server.telemetry_path:
            body, content_type, gzipped = cache.rendered.choose(
                self.headers.get("Accept", ""), self.headers.get("Accept-Encoding", "")
            )
            self._send(200, body, content_type, {"Content-Encoding": "gzip"} if gzipped else {})
        elif path == "/":
            self._send(200, cache.landing_page, "text/html; charset=utf-8")
        elif path == "/-/healthy":
            self._send(200, b"Healthy\n", "text/plain; charset=utf-8")
        elif path == "/-/ready":
            ready = cache.ready
            self._send(200 if ready else 503, b"Ready\n" if ready else b"Not ready\n", "text/plain; charset=utf-8")
        else:
            self._send(404, b"Not found\n", "text/plain; charset=utf-8")

    def _authorized(self) -> bool:
        scheme, _, credentials = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return self.server.web_config.authorized(self._config, user, password)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**self._config.headers, **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class MetricsServer(ThreadingHTTPServer):
    """A threading HTTP server bound at construction, so a taken port fails before any sync."""

    daemon_threads = True

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
        super().__init__((host, port), _Handler)

    def finish_request(self, request, client_address) -> None:
        """Serve one connection, over TLS when the web config asks for it (the handshake in this thread)."""
        tls = self.web_config.current.tls
        if tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            secure = tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as error:  # plain HTTP, a bad client certificate, a port scan
            log.debug("TLS handshake with %s failed: %s", client_address[0], error)
            return
        try:
            super().finish_request(secure, client_address)
        finally:
            secure.close()

    def start(self) -> threading.Thread:
        """Serve in a daemon thread."""
        thread = threading.Thread(target=self.serve_forever, name="web", daemon=True)
        thread.start()
        return thread
