"""Logging: real logfmt (logfmter) or JSON lines (python-json-logger) on stderr.

Every line carries ``ts`` (RFC 3339, UTC, milliseconds), ``level`` (debug, info, warn, error, as
Prometheus' own tools write it), ``logger`` and ``msg``.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

from logfmter import Logfmter
from pythonjsonlogger.json import JsonFormatter

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}
LEVEL_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn", logging.ERROR: "error"}
QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler")  # their INFO lines repeat what the exporter logs


def rfc3339(created: float) -> str:
    """``2026-12-02T10:15:00.123Z``."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _PrometheusLevels(logging.Filter):
    """Level names as Prometheus' tools write them (``warn``, not ``WARNING``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelname = LEVEL_NAMES.get(record.levelno, "error" if record.levelno > logging.ERROR else "debug")
        return True


class _LogfmtFormatter(Logfmter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return rfc3339(record.created)


class _JsonFormatter(JsonFormatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return rfc3339(record.created)


def configure_logging(level: str, log_format: str) -> None:
    """Send every log line to stderr at ``level`` and above, as ``logfmt`` or ``json``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_PrometheusLevels())
    if log_format == "json":
        formatter: logging.Formatter = _JsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "ts", "levelname": "level", "name": "logger", "message": "msg"},
        )
    else:
        formatter = _LogfmtFormatter(
            keys=["ts", "level", "logger"], mapping={"ts": "asctime", "level": "levelname", "logger": "name"}
        )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level])
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
