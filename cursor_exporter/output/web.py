"""The HTTP server: sends bytes the sync already rendered, and nothing else.

``/metrics`` (or ``--web.telemetry-path``) in the text format or OpenMetrics, gzip when asked;
``/`` a landing page; ``/-/healthy``; ``/-/ready`` (503 until the first sync or a state restore).
Without a telemetry path (push-only OTLP use) there is no metrics endpoint; the rest stays.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cursor_exporter.output.exposition import ExpositionCache
from cursor_exporter.sources.base import SourceStatus

log = logging.getLogger(__name__)
DEMO_BANNER = (
    '<p style="background:#fde68a;padding:8px"><strong>Demo mode:</strong> every number here is simulated '
    "(a synthetic Cursor team), not your team's data. Run <code>cursor-exporter serve</code> with "
    "<code>CURSOR_API_KEY</code> set for the real exporter.</p>"
)


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def landing_page(
    version: str, statuses: Iterable[SourceStatus], telemetry_path: str | None, mode: str = "live"
) -> bytes:
    """The ``/`` page: each source's last sync, next sync and last error."""
    rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            html.escape(status.name),
            {None: "pending", True: "ok", False: "failing"}[status.success],
            _when(status.last_success_s),
            _when(status.next_run_s),
            html.escape(status.last_error or ""),
        )
        for status in statuses
    )
    metrics_link = f'<a href="{html.escape(telemetry_path)}">Metrics</a> &middot; ' if telemetry_path else ""
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>cursor-exporter</title></head>
<body><h1>cursor-exporter {html.escape(version)}</h1>{DEMO_BANNER if mode == "demo" else ""}
<p>{metrics_link}<a href="/-/healthy">healthy</a>
&middot; <a href="/-/ready">ready</a></p>
<table border="1" cellpadding="4"><tr><th>collector</th><th>state</th><th>last success</th>
<th>next sync</th><th>last error</th></tr>{rows}</table></body></html>
"""
    return page.encode()


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
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

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class MetricsServer(ThreadingHTTPServer):
    """A threading HTTP server bound at construction, so a taken port fails before any sync."""

    daemon_threads = True

    def __init__(self, host: str, port: int, cache: ExpositionCache, telemetry_path: str | None) -> None:
        self.cache = cache
        self.telemetry_path = telemetry_path
        super().__init__((host, port), _Handler)

    def start(self) -> threading.Thread:
        """Serve in a daemon thread."""
        thread = threading.Thread(target=self.serve_forever, name="web", daemon=True)
        thread.start()
        return thread
