"""Source ``exporter``: the exporter's own health from the snapshot's statuses and client tallies."""

import platform
from types import MappingProxyType

from cursor_exporter.sources import labels as labels_module
from cursor_exporter.sources.base import SourceStatus
from cursor_exporter.sources.exporter import (
    EXPORTER_API_REQUESTS,
    EXPORTER_BUILD_INFO,
    EXPORTER_COLLECTOR_SUCCESS,
    EXPORTER_FEATURE_AVAILABLE,
    EXPORTER_LABEL_VALUES_TRUNCATED,
    EXPORTER_LAST_SUCCESS_TIMESTAMP_SECONDS,
    EXPORTER_LAST_SYNC_API_REQUESTS,
    EXPORTER_LAST_SYNC_DURATION_SECONDS,
    EXPORTER_MALFORMED_RECORDS,
    EXPORTER_RATE_LIMIT_WAIT_SECONDS,
    EXPORTER_USAGE_WINDOWS_FETCHED,
    EXPORTER_USAGE_WINDOWS_INCONSISTENT,
    ExporterSource,
)
from cursor_exporter.sources.labels import LabelPolicy
from tests.unit.sources.helpers import expose, head, snapshot

EVENTS = "/teams/filtered-usage-events"


def build_info(mode: str) -> str:
    """The build_info sample; the text format writes labels in alphabetical order."""
    labels = f'mode="{mode}",python_version="{platform.python_version()}",revision="unknown",version="1.2.3"'
    return f"cursor_exporter_build_info{{{labels}}} 1.0\n"


def test_a_fresh_snapshot_renders_every_family_with_zero_windows_and_the_build_info():
    assert expose(ExporterSource, snapshot()) == (
        head(EXPORTER_COLLECTOR_SUCCESS)
        + head(EXPORTER_LAST_SUCCESS_TIMESTAMP_SECONDS)
        + head(EXPORTER_LAST_SYNC_DURATION_SECONDS)
        + head(EXPORTER_LAST_SYNC_API_REQUESTS)
        + head(EXPORTER_API_REQUESTS)
        + head(EXPORTER_RATE_LIMIT_WAIT_SECONDS)
        + head(EXPORTER_MALFORMED_RECORDS)
        + head(EXPORTER_LABEL_VALUES_TRUNCATED)
        + "cursor_exporter_label_values_truncated_total 0.0\n"
        + head(EXPORTER_USAGE_WINDOWS_FETCHED)
        + "cursor_exporter_usage_windows_fetched_total 0.0\n"
        + head(EXPORTER_USAGE_WINDOWS_INCONSISTENT)
        + "cursor_exporter_usage_windows_inconsistent_total 0.0\n"
        + head(EXPORTER_FEATURE_AVAILABLE)
        + head(EXPORTER_BUILD_INFO)
        + build_info("live")
    )


def test_statuses_in_order_requests_sorted_malformed_by_reason_cut_labels_and_features_as_one_or_zero():
    labels_module.bounded("v" * 300)  # a label value cut while another source rendered
    snap = snapshot(
        statuses=(
            SourceStatus(
                "usage", success=True, last_success_s=1_700_000_000.5, last_duration_s=2.25, last_api_requests=12
            ),
            SourceStatus("spend", success=False, last_error="boom", last_duration_s=0.5, last_api_requests=3),
            SourceStatus("groups"),  # never synced: no series at all
        ),
        api_requests=MappingProxyType({("/teams/spend", "200"): 7, (EVENTS, "429"): 2, (EVENTS, "200"): 40}),
        rate_limit_waits=MappingProxyType({EVENTS: 1.5}),
        malformed_records=MappingProxyType(
            {("/teams/members", "bad_text"): 1, (EVENTS, "out_of_range"): 3, (EVENTS, "missing_field"): 2}
        ),
        windows_fetched=9,
        mode="demo",
        windows_inconsistent=1,
        features=MappingProxyType({"billing_groups": False, "ai_code_tracking": True}),
    )
    assert expose(ExporterSource, snap, LabelPolicy(user_mode="none")) == (
        head(EXPORTER_COLLECTOR_SUCCESS)
        + 'cursor_exporter_collector_success{collector="usage"} 1.0\n'
        + 'cursor_exporter_collector_success{collector="spend"} 0.0\n'
        + head(EXPORTER_LAST_SUCCESS_TIMESTAMP_SECONDS)
        + 'cursor_exporter_last_success_timestamp_seconds{collector="usage"} 1.7000000005e+09\n'
        + head(EXPORTER_LAST_SYNC_DURATION_SECONDS)
        + 'cursor_exporter_last_sync_duration_seconds{collector="usage"} 2.25\n'
        + 'cursor_exporter_last_sync_duration_seconds{collector="spend"} 0.5\n'
        + head(EXPORTER_LAST_SYNC_API_REQUESTS)
        + 'cursor_exporter_last_sync_api_requests{collector="usage"} 12.0\n'
        + 'cursor_exporter_last_sync_api_requests{collector="spend"} 3.0\n'
        + head(EXPORTER_API_REQUESTS)
        + 'cursor_exporter_api_requests_total{code="200",endpoint="/teams/filtered-usage-events"} 40.0\n'
        + 'cursor_exporter_api_requests_total{code="429",endpoint="/teams/filtered-usage-events"} 2.0\n'
        + 'cursor_exporter_api_requests_total{code="200",endpoint="/teams/spend"} 7.0\n'
        + head(EXPORTER_RATE_LIMIT_WAIT_SECONDS)
        + 'cursor_exporter_rate_limit_wait_seconds_total{endpoint="/teams/filtered-usage-events"} 1.5\n'
        + head(EXPORTER_MALFORMED_RECORDS)
        + f'cursor_exporter_malformed_records_total{{endpoint="{EVENTS}",reason="missing_field"}} 2.0\n'
        + f'cursor_exporter_malformed_records_total{{endpoint="{EVENTS}",reason="out_of_range"}} 3.0\n'
        + 'cursor_exporter_malformed_records_total{endpoint="/teams/members",reason="bad_text"} 1.0\n'
        + head(EXPORTER_LABEL_VALUES_TRUNCATED)
        + "cursor_exporter_label_values_truncated_total 1.0\n"
        + head(EXPORTER_USAGE_WINDOWS_FETCHED)
        + "cursor_exporter_usage_windows_fetched_total 9.0\n"
        + head(EXPORTER_USAGE_WINDOWS_INCONSISTENT)
        + "cursor_exporter_usage_windows_inconsistent_total 1.0\n"
        + head(EXPORTER_FEATURE_AVAILABLE)
        + 'cursor_exporter_feature_available{feature="ai_code_tracking"} 1.0\n'
        + 'cursor_exporter_feature_available{feature="billing_groups"} 0.0\n'
        + head(EXPORTER_BUILD_INFO)
        + build_info("demo")
    )
