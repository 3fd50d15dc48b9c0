"""Source ``exporter`` (always on): the exporter's own health: per-source success, duration and API
calls, API requests by outcome, rate-limit waits, malformed records by reason, label values cut to length,
windows and plan features."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator

from prometheus_client.core import Metric

from cursor_exporter.api.records import REASONS
from cursor_exporter.sources.base import Snapshot, Source
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.labels import MAX_LABEL_LENGTH, LabelPolicy, truncated_values

REVISION = os.environ.get("CURSOR_EXPORTER_REVISION", "unknown")  # set by the image build

EXPORTER_COLLECTOR_SUCCESS = Family(
    "cursor_exporter_collector_success",
    "gauge",
    ("collector",),
    "1 if the collector's last sync succeeded, 0 if it failed.",
    "the exporter's sync loop",
)

EXPORTER_LAST_SUCCESS_TIMESTAMP_SECONDS = Family(
    "cursor_exporter_last_success_timestamp_seconds",
    "gauge",
    ("collector",),
    "When the collector last synced successfully, Unix seconds.",
    "the exporter's sync loop",
)

EXPORTER_LAST_SYNC_DURATION_SECONDS = Family(
    "cursor_exporter_last_sync_duration_seconds",
    "gauge",
    ("collector",),
    "How long the collector's last sync took, rate-limit waits included.",
    "the exporter's sync loop",
)

EXPORTER_LAST_SYNC_API_REQUESTS = Family(
    "cursor_exporter_last_sync_api_requests",
    "gauge",
    ("collector",),
    "API requests the collector's last sync made (retries included).",
    "the exporter's API client",
)

EXPORTER_API_REQUESTS = Family(
    "cursor_exporter_api_requests_total",
    "counter",
    ("endpoint", "code"),
    "Requests sent to the Cursor API by endpoint and outcome (HTTP status, timeout or network).",
    "the exporter's API client",
)

EXPORTER_RATE_LIMIT_WAIT_SECONDS = Family(
    "cursor_exporter_rate_limit_wait_seconds_total",
    "counter",
    ("endpoint",),
    "Time spent waiting for the client-side rate limiter or a server Retry-After.",
    "the exporter's API client",
)

EXPORTER_MALFORMED_RECORDS = Family(
    "cursor_exporter_malformed_records_total",
    "counter",
    ("endpoint", "reason"),
    f"API records left out, by reason: {', '.join(REASONS)}; they are missing from every other family.",
    "the exporter's API client",
)

EXPORTER_LABEL_VALUES_TRUNCATED = Family(
    "cursor_exporter_label_values_truncated_total",
    "counter",
    (),
    f"Distinct label values longer than {MAX_LABEL_LENGTH} characters, cut to that length (ending in ~ and a hash).",
    "the exporter's rendering",
)

EXPORTER_USAGE_WINDOWS_FETCHED = Family(
    "cursor_exporter_usage_windows_fetched_total",
    "counter",
    (),
    "Usage windows fetched and stored (first fetches and re-fetches), of the team's and the organization's events.",
    "the exporter's usage sync",
)

EXPORTER_USAGE_WINDOWS_INCONSISTENT = Family(
    "cursor_exporter_usage_windows_inconsistent_total",
    "counter",
    (),
    "Usage window scans whose pages disagreed with totalUsageEventsCount; the window was re-fetched.",
    "the exporter's usage sync",
)

EXPORTER_FEATURE_AVAILABLE = Family(
    "cursor_exporter_feature_available",
    "gauge",
    ("feature",),
    "1 if the plan and key give access to the feature, 0 after a 403 (re-checked hourly).",
    "the exporter's sync loop",
)

EXPORTER_BUILD_INFO = Family(
    "cursor_exporter_build_info",
    "gauge",
    ("version", "revision", "python_version", "mode"),
    "Always 1; the exporter's version, source revision, Python version, and mode: live, or demo "
    "(simulated data under the real family names).",
    "the exporter",
)


class ExporterSource(Source):
    """Renders the snapshot's statuses and the API client's tallies; it has no state of its own."""

    name = "exporter"
    order = 1000
    help = "The exporter's own health (always on)."
    switchable = False
    families = (
        EXPORTER_COLLECTOR_SUCCESS,
        EXPORTER_LAST_SUCCESS_TIMESTAMP_SECONDS,
        EXPORTER_LAST_SYNC_DURATION_SECONDS,
        EXPORTER_LAST_SYNC_API_REQUESTS,
        EXPORTER_API_REQUESTS,
        EXPORTER_RATE_LIMIT_WAIT_SECONDS,
        EXPORTER_MALFORMED_RECORDS,
        EXPORTER_LABEL_VALUES_TRUNCATED,
        EXPORTER_USAGE_WINDOWS_FETCHED,
        EXPORTER_USAGE_WINDOWS_INCONSISTENT,
        EXPORTER_FEATURE_AVAILABLE,
        EXPORTER_BUILD_INFO,
    )

    @classmethod
    def render(cls, snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
        success, last_success, duration, requests = (
            EXPORTER_COLLECTOR_SUCCESS.new(),
            EXPORTER_LAST_SUCCESS_TIMESTAMP_SECONDS.new(),
            EXPORTER_LAST_SYNC_DURATION_SECONDS.new(),
            EXPORTER_LAST_SYNC_API_REQUESTS.new(),
        )
        for status in snapshot.statuses:
            if status.success is not None:
                success.add_metric((status.name,), 1 if status.success else 0)
            if status.last_success_s is not None:
                last_success.add_metric((status.name,), status.last_success_s)
            if status.last_duration_s is not None:
                duration.add_metric((status.name,), status.last_duration_s)
            if status.last_api_requests is not None:
                requests.add_metric((status.name,), status.last_api_requests)
        yield from (success, last_success, duration, requests)

        api = EXPORTER_API_REQUESTS.new()
        for (endpoint, code), count in sorted(snapshot.api_requests.items()):
            api.add_metric((endpoint, code), count)
        waits = EXPORTER_RATE_LIMIT_WAIT_SECONDS.new()
        for endpoint, seconds in sorted(snapshot.rate_limit_waits.items()):
            waits.add_metric((endpoint,), seconds)
        malformed = EXPORTER_MALFORMED_RECORDS.new()
        for (endpoint, reason), count in sorted(snapshot.malformed_records.items()):
            malformed.add_metric((endpoint, reason), count)
        truncated = EXPORTER_LABEL_VALUES_TRUNCATED.new()
        truncated.add_metric((), truncated_values())
        fetched = EXPORTER_USAGE_WINDOWS_FETCHED.new()
        fetched.add_metric((), snapshot.windows_fetched)
        inconsistent = EXPORTER_USAGE_WINDOWS_INCONSISTENT.new()
        inconsistent.add_metric((), snapshot.windows_inconsistent)
        features = EXPORTER_FEATURE_AVAILABLE.new()
        for feature, available in sorted(snapshot.features.items()):
            features.add_metric((feature,), 1 if available else 0)
        build = EXPORTER_BUILD_INFO.new()
        build.add_metric((snapshot.version, REVISION, platform.python_version(), snapshot.mode), 1)
        yield from (api, waits, malformed, truncated, fetched, inconsistent, features, build)
