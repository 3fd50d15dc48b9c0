"""Rendering to exposition bytes, once per sync and one part per source, so a scrape only sends bytes.

Each source's families are rendered into a :class:`Part` of their own; a sync re-renders only the
parts it changed, and the exposition is the parts joined in registry order. The bytes are what
prometheus_client's ``generate_latest`` writes, from a renderer of our own (:mod:`.text_format`).
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import exposition, openmetrics
from prometheus_client.core import Metric

from cursor_exporter.output.text_format import OPENMETRICS_EOF, render_families

TEXT_CONTENT_TYPE = exposition.CONTENT_TYPE_LATEST
OPENMETRICS_CONTENT_TYPE = openmetrics.exposition.CONTENT_TYPE_LATEST
GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib writes a gzip header and trailer


@dataclass(frozen=True)
class Part:
    """Some families rendered in both formats; OpenMetrics without its closing ``# EOF``."""

    text: bytes
    openmetrics: bytes

    @classmethod
    def of(cls, metrics: Iterable[Metric]) -> Part:
        """Render the families."""
        return cls(*render_families(metrics))


@dataclass(frozen=True)
class Rendered:
    """One exposition in every format a scraper may ask for. The plain formats stay their parts' bytes in
    order, sent one after another: joined, they would be a second copy of every part (18 MB at 100,000
    series, and twice that while a new exposition replaces the old)."""

    text_parts: tuple[bytes, ...]
    openmetrics_parts: tuple[bytes, ...]  # the parts, then ``# EOF``
    text_gzip: bytes
    openmetrics_gzip: bytes

    @classmethod
    def join(cls, parts: Iterable[Part]) -> Rendered:
        """The exposition of the parts, in order, plain and gzipped."""
        parts = list(parts)
        text = tuple(part.text for part in parts)
        open_text = (*(part.openmetrics for part in parts), OPENMETRICS_EOF)
        return cls(text, open_text, gzipped(text), gzipped(open_text))

    @property
    def text(self) -> bytes:
        """The text format as one bytes object (a copy)."""
        return b"".join(self.text_parts)

    @property
    def openmetrics(self) -> bytes:
        """OpenMetrics as one bytes object (a copy)."""
        return b"".join(self.openmetrics_parts)

    def choose(self, accept: str, accept_encoding: str) -> tuple[tuple[bytes, ...], str, bool]:
        """(body in pieces, content type, gzipped) for a request's Accept and Accept-Encoding headers."""
        wants_gzip = "gzip" in accept_encoding.lower()
        if "application/openmetrics-text" in accept:
            body = (self.openmetrics_gzip,) if wants_gzip else self.openmetrics_parts
            return body, OPENMETRICS_CONTENT_TYPE, wants_gzip
        return ((self.text_gzip,) if wants_gzip else self.text_parts), TEXT_CONTENT_TYPE, wants_gzip


def gzipped(pieces: Iterable[bytes]) -> bytes:
    """The pieces, one after another, as one gzip member, compressed without joining them first."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, GZIP_WBITS)
    return b"".join([*(compressor.compress(piece) for piece in pieces), compressor.flush()])


def render(metrics: Iterable[Metric]) -> Rendered:
    """Render families in both formats, plain and gzipped."""
    return Rendered.join([Part.of(metrics)])


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
