import re

import pytest
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult

from cursor_exporter.commands.config import parse_pairs
from cursor_exporter.output.otlp import CUMULATIVE, OtlpPusher, http_metrics_url
from cursor_exporter.output.publisher import with_team_label
from cursor_exporter.sources import FAMILIES
from cursor_exporter.sources import FAMILY_BY_NAME as BY_NAME
from cursor_exporter.sources.base import Snapshot
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.sources.mapping import MappingSource


def test_every_family_has_a_unique_dotted_otlp_name_without_its_unit():
    names = [family.otlp_name for family in FAMILIES]
    assert len(set(names)) == len(names)
    for family in FAMILIES:
        assert re.fullmatch(r"cursor\.[a-z]+(\.[a-z0-9_]+)?", family.otlp_name), family.otlp_name
        assert not family.otlp_name.endswith(("_total", "_usd", "_seconds")), family.otlp_name


def test_units_come_from_the_name_suffix_or_the_counted_noun():
    assert BY_NAME["cursor_usage_charged_usd_total"].otlp_name == "cursor.usage.charged"
    assert BY_NAME["cursor_usage_charged_usd_total"].otlp_unit == "USD"
    assert BY_NAME["cursor_usage_tokens_total"].otlp_unit == "{token}"
    assert BY_NAME["cursor_usage_events_total"].otlp_unit == "{event}"
    assert BY_NAME["cursor_exporter_rate_limit_wait_seconds_total"].otlp_unit == "s"
    assert BY_NAME["cursor_exporter_build_info"].otlp_unit == "1"
    for family in FAMILIES:
        if "_usd" in family.name:
            assert family.otlp_unit == "USD", family.name


def test_genai_attribute_keys_replace_model_and_token_type_and_other_labels_are_namespaced():
    assert BY_NAME["cursor_usage_tokens_total"].otlp_attributes == (
        "gen_ai.request.model",
        "cursor.kind",
        "cursor.max_mode",
        "cursor.source",
        "gen_ai.token.type",
    )
    assert BY_NAME["cursor_user_charged_usd_total"].otlp_attributes == ("cursor.user",)


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://collector:4318", "http://collector:4318/v1/metrics"),
        ("https://otlp.example.com/otlp/", "https://otlp.example.com/otlp/v1/metrics"),
        ("http://collector:4318/v1/metrics", "http://collector:4318/v1/metrics"),
    ],
)
def test_http_endpoint_gets_v1_metrics_appended_once(endpoint, url):
    assert http_metrics_url(endpoint) == url


def test_header_pairs_are_url_decoded_and_malformed_ones_rejected():
    assert parse_pairs("authorization=Basic%20abc, x-scope-orgid=42 ,") == {
        "authorization": "Basic abc",
        "x-scope-orgid": "42",
    }
    with pytest.raises(ValueError, match="not key=value"):
        parse_pairs("just-a-token")


class RecordingExporter(MetricExporter):
    """An OTLP exporter that keeps every pushed data point as (name, attributes, value)."""

    def __init__(self) -> None:
        super().__init__(preferred_temporality=CUMULATIVE)
        self.points: list[tuple[str, dict, float]] = []

    def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs) -> MetricExportResult:
        for resource_metrics in metrics_data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point in metric.data.data_points:
                        self.points.append((metric.name, dict(point.attributes), point.value))
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
        pass


def test_the_mapping_files_columns_and_the_team_label_are_pushed_as_attributes():
    mapping = {"ann@example.com": {"team": "payments", "cost_center": "cc-7"}}
    snapshot = Snapshot(version="1", parts={"mapping": mapping})
    exporter = RecordingExporter()
    pusher = OtlpPusher(exporter, interval_s=3600, instance_id="test")
    try:
        pusher.publish(with_team_label(MappingSource.render(snapshot, LabelPolicy()), "platform"))
        assert pusher.force_flush()
    finally:
        pusher.shutdown()
    # The mapping's own team column wins over the exporter's team label, as in the Prometheus exposition.
    attributes = {"cursor.user": "ann@example.com", "cursor.team": "payments", "cursor.cost_center": "cc-7"}
    assert ("cursor.user.info", attributes, 1) in exporter.points
