"""Rendering a snapshot to exposition bytes, once per sync, so a scrape only sends bytes."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import exposition, openmetrics
from prometheus_client.core import Metric

TEXT_CONTENT_TYPE = exposition.CONTENT_TYPE_LATEST
OPENMETRICS_CONTENT_TYPE = openmetrics.exposition.CONTENT_TYPE_LATEST


class _Families:
    """The minimal registry interface ``generate_latest`` needs."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterable[Metric]:
        return self._metrics


@dataclass(frozen=True)
class Rendered:
    """One snapshot in every format a scraper may ask for."""

    text: bytes
    text_gzip: bytes
    openmetrics: bytes
    openmetrics_gzip: bytes

    def choose(self, accept: str, accept_encoding: str) -> tuple[bytes, str, bool]:
        """(body, content type, gzipped) for a request's Accept and Accept-Encoding headers."""
        wants_gzip = "gzip" in accept_encoding.lower()
        if "application/openmetrics-text" in accept:
            body = self.openmetrics_gzip if wants_gzip else self.openmetrics
            return body, OPENMETRICS_CONTENT_TYPE, wants_gzip
        return (self.text_gzip if wants_gzip else self.text), TEXT_CONTENT_TYPE, wants_gzip


def render(metrics: Iterable[Metric]) -> Rendered:
    """Render families in both formats, plain and gzipped."""
    families = _Families(metrics)
    text = exposition.generate_latest(families)
    open_text = openmetrics.exposition.generate_latest(families)
    return Rendered(text, gzip.compress(text, 6), open_text, gzip.compress(open_text, 6))


class ExpositionCache:
    """Holds the latest rendered exposition and landing page; swapped atomically by the sync thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rendered = render(())
        self._landing = b""
        self.ready = False

    def publish(self, rendered: Rendered, landing_page: bytes, ready: bool) -> None:
        with self._lock:
            self._rendered, self._landing, self.ready = rendered, landing_page, ready

    @property
    def rendered(self) -> Rendered:
        with self._lock:
            return self._rendered

    @property
    def landing_page(self) -> bytes:
        with self._lock:
            return self._landing
