"""The exporter's own health: per-collector success, API calls, rate-limit waits, malformed data."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from cursor_exporter.labels import LabelPolicy
from cursor_exporter.metrics import BY_NAME
from cursor_exporter.snapshot import Snapshot


def collect(snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
    """Families of the ``exporter`` collector (always on)."""
    success, last_success, duration, requests = (
        BY_NAME[name].new()
        for name in (
            "cursor_exporter_collector_success",
            "cursor_exporter_last_success_timestamp_seconds",
            "cursor_exporter_last_sync_duration_seconds",
            "cursor_exporter_last_sync_api_requests",
        )
    )
    for status in snapshot.collectors:
        if status.success is not None:
            success.add_metric((status.name,), 1 if status.success else 0)
        if status.last_success_s is not None:
            last_success.add_metric((status.name,), status.last_success_s)
        if status.last_duration_s is not None:
            duration.add_metric((status.name,), status.last_duration_s)
        if status.last_api_requests is not None:
            requests.add_metric((status.name,), status.last_api_requests)
    yield from (success, last_success, duration, requests)

    api = BY_NAME["cursor_exporter_api_requests_total"].new()
    for (endpoint, code), count in sorted(snapshot.api_requests.items()):
        api.add_metric((endpoint, code), count)
    waits = BY_NAME["cursor_exporter_rate_limit_wait_seconds_total"].new()
    for endpoint, seconds in sorted(snapshot.rate_limit_waits.items()):
        waits.add_metric((endpoint,), seconds)
    malformed = BY_NAME["cursor_exporter_malformed_records_total"].new()
    for endpoint, count in sorted(snapshot.malformed_records.items()):
        malformed.add_metric((endpoint,), count)
    fetched = BY_NAME["cursor_exporter_usage_windows_fetched_total"].new()
    fetched.add_metric((), snapshot.windows_fetched)
    inconsistent = BY_NAME["cursor_exporter_usage_windows_inconsistent_total"].new()
    inconsistent.add_metric((), snapshot.windows_inconsistent)
    features = BY_NAME["cursor_exporter_feature_available"].new()
    for feature, available in sorted(snapshot.features.items()):
        features.add_metric((feature,), 1 if available else 0)
    build = BY_NAME["cursor_exporter_build_info"].new()
    build.add_metric((snapshot.version,), 1)
    yield from (api, waits, malformed, fetched, inconsistent, features, build)
