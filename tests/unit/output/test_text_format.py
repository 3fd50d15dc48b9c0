"""Our renderer against prometheus_client's ``generate_latest``, byte for byte, in both formats."""

from __future__ import annotations

import gzip
import importlib.util
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import exposition, openmetrics
from prometheus_client.core import (
    CounterMetricFamily,
    Exemplar,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
    StateSetMetricFamily,
    SummaryMetricFamily,
    UnknownMetricFamily,
)
from prometheus_client.utils import floatToGoString

from cursor_exporter.output import text_format
from cursor_exporter.output.exposition import Part, Rendered, render
from cursor_exporter.output.publisher import RUNTIME
from cursor_exporter.output.text_format import go_float, render_families
from cursor_exporter.sources.exporter import ExporterSource
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.sources.usage import UsageSource

ROOT = Path(__file__).resolve().parents[3]
AWKWARD_VALUES = ["", "a\\b", 'say "hi"', "two\nlines", "trailing\\", "ünïcödé ✓ 漢字 🚀", "{}", "%s {0}", "\\n"]
AWKWARD_FLOATS = [
    0.0, -0.0, 1.0, -1.0, 0.1, 1e-300, 5e-324, 1e21, 1e22, 1.5e16, 123456.0, 1234567.0, 1e6, 999999.0, 2.5e-7,
    -1e21, -1234567.0, 1.7976931348623157e308, math.inf, -math.inf, math.nan, 3, 0, -0, 2**53 + 1, 10**25, True,
]  # fmt: skip


class Families:
    """A registry of the given families, for ``generate_latest``."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> list[Metric]:
        return self.metrics


def reference(metrics: list[Metric]) -> tuple[bytes, bytes]:
    """prometheus_client's text and OpenMetrics renderings, the latter without ``# EOF``."""
    open_text = openmetrics.exposition.generate_latest(Families(metrics))
    assert open_text.endswith(b"# EOF\n")
    return exposition.generate_latest(Families(metrics)), open_text.removesuffix(b"# EOF\n")


@pytest.fixture(autouse=True)
def fallbacks(monkeypatch) -> list[str]:
    """The names of the families left to prometheus_client."""
    names: list[str] = []
    by_prometheus_client = text_format._by_prometheus_client

    def spy(metric: Metric) -> tuple[bytes, bytes]:
        names.append(metric.name)
        return by_prometheus_client(metric)

    monkeypatch.setattr(text_format, "_by_prometheus_client", spy)
    return names


def assert_identical(metrics: list[Metric]) -> None:
    text, open_text = render_families(metrics)
    expected_text, expected_open = reference(metrics)
    assert text.decode() == expected_text.decode()
    assert open_text.decode() == expected_open.decode()
    assert Part.of(metrics) == Part(expected_text, expected_open)


def counter_with_awkward_labels() -> Metric:
    family = CounterMetricFamily("requests", 'Help with \\ backslash, "quotes"\nand a newline.', labels=["b", "a"])
    for i, value in enumerate(AWKWARD_VALUES):
        family.add_metric([value, str(i)], AWKWARD_FLOATS[i])
    return family


def test_counters_gauges_with_awkward_label_values_and_no_labels(fallbacks):
    gauge = GaugeMetricFamily("temperature_celsius", "Gauge.", labels=["zone"])
    for value, number in zip(AWKWARD_VALUES * 3, AWKWARD_FLOATS, strict=False):
        gauge.add_metric([value], number)
    plain = GaugeMetricFamily("up", "No labels.", value=1)
    assert_identical([counter_with_awkward_labels(), gauge, plain])
    assert fallbacks == []


def test_every_float_edge_formats_as_go_does(fallbacks):
    gauge = GaugeMetricFamily("edges", "Float edges.", labels=["i"])
    for i, number in enumerate(AWKWARD_FLOATS):
        gauge.add_metric([str(i)], number)
        assert go_float(number) == floatToGoString(number)
    assert_identical([gauge])
    assert fallbacks == []


def test_families_without_samples_and_with_a_unit(fallbacks):
    empty_counter = CounterMetricFamily("nothing", "No samples.", labels=["a"])
    empty_gauge = GaugeMetricFamily("nothing_either", "No samples.")
    with_unit = GaugeMetricFamily("latency_seconds", "With unit.", unit="seconds", value=0.25)
    assert_identical([empty_counter, empty_gauge, with_unit])
    assert render_families([]) == (b"", b"")
    assert fallbacks == []


def test_counters_with_created_samples_move_them_in_the_text_format_only(fallbacks):
    family = CounterMetricFamily("jobs", "Jobs.", labels=["queue"], created=1_700_000_000.5)
    family.add_metric(["fast"], 3, created=1_700_000_001.25)
    family.add_metric(["slow"], 7, created=1_700_000_002)
    assert_identical([family, CounterMetricFamily("single", "One.", value=2, created=1_600_000_000)])
    assert fallbacks == []


def test_info_stateset_histogram_summary_gaugehistogram_and_unknown(fallbacks):
    info = InfoMetricFamily("build", "Build.", value={"version": "1.2.3", "revision": 'a"b'})
    stateset = StateSetMetricFamily("feature", "States.", value={"on": True, "off": False})
    histogram = HistogramMetricFamily("size_bytes", "Histogram.", labels=["path"])
    histogram.add_metric(["/x"], [("0.5", 1), ("1.0", 4), ("+Inf", 6)], sum_value=3.5)
    histogram_created = HistogramMetricFamily(
        "wait_seconds", "Created.", buckets=[("1", 2), ("+Inf", 3)], sum_value=1.5
    )
    histogram_created.add_sample("wait_seconds_created", {}, 1_700_000_000.0)
    summary = SummaryMetricFamily("rtt_seconds", "Summary.", count_value=10, sum_value=2.5)
    gauge_histogram = GaugeHistogramMetricFamily(
        "queue_depth", "Gauge histogram.", buckets=[("10", 3), ("+Inf", 5)], gsum_value=40.0
    )
    unknown = UnknownMetricFamily("mystery", "Unknown.", value=42)
    assert_identical([info, stateset, histogram, histogram_created, summary, gauge_histogram, unknown])
    shuffled = Metric("pool", "OpenMetrics-only samples out of order.", "gaugehistogram")
    for name, value in [("pool_gsum", 9), ("pool_created", 1e9), ("pool_bucket", 2), ("pool_gcount", 3)]:
        shuffled.add_sample(name, {"le": "+Inf"} if name == "pool_bucket" else {}, value)
    assert_identical([shuffled])
    assert fallbacks == []


def test_samples_whose_label_names_change_within_a_family(fallbacks):
    family = Metric("mixed", "Label sets vary.", "gauge")
    family.add_sample("mixed", {"a": "1", "b": "2"}, 1)
    family.add_sample("mixed", {"b": "3", "a": "4"}, 2)  # same names, other order
    family.add_sample("mixed", {"a": "5", "c": "6"}, 3)  # as many labels, another name
    family.add_sample("mixed", {"a": "7"}, 4)
    family.add_sample("mixed", {}, 5)
    family.add_sample("mixed", {"a": "8", "b": "9"}, 6)
    assert_identical([family])
    assert fallbacks == []


def test_what_the_fast_path_leaves_to_prometheus_client_is_still_identical(fallbacks):
    stamped = GaugeMetricFamily("stamped", "Timestamped.", labels=["a"])
    stamped.add_metric(["x"], 1.5, timestamp=1_700_000_000.123)
    exemplars = Metric("hits", "Exemplar.", "counter")
    exemplars.add_sample("hits_total", {"a": "b"}, 3, exemplar=Exemplar({"trace_id": "abc"}, 1.0, 1_700_000_000))
    dotted = GaugeMetricFamily("http.server.duration", "A UTF-8 name.", labels=["http.method"])
    dotted.add_metric(["GET"], 1)
    colon = GaugeMetricFamily("job:rate5m", "A recording-rule name.", value=2)
    digit = Metric("metric", "A sample name that starts with a digit.", "gauge")
    digit.add_sample("9lives", {}, 1)
    assert_identical([counter_with_awkward_labels(), stamped, exemplars, dotted, colon, digit])
    assert fallbacks == ["stamped", "hits", "http.server.duration", "job:rate5m", "metric"] * 2


def test_what_prometheus_client_refuses_is_refused():
    no_value = Metric("broken", "A sample without a value.", "gauge")
    no_value.add_sample("broken", {}, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        render_families([no_value])
    surrogate = GaugeMetricFamily("lone", "A lone surrogate.", labels=["a"])
    surrogate.add_metric(["\ud800"], 1)
    with pytest.raises(UnicodeEncodeError):
        render_families([surrogate])


def test_our_bounded_families_as_sources_build_them(fallbacks):
    counter = Family("cursor_things_total", "counter", ("user", "model"), "Things.", "the API").new()
    counter.add_metric(["a@example.com", "x" * 300], 1.25)
    gauge = Family("cursor_level", "gauge", (), "Level.", "the API").new()
    gauge.add_metric([], 3)
    assert_identical([counter, gauge])
    assert fallbacks == []


def load_benchmark(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_snapshot_and_the_runtime_families_render_identically(fallbacks):
    snapshot = load_benchmark("scrape").build_snapshot(400)  # every (model, kind, max mode) needs a user of its own
    labels = LabelPolicy()
    metrics = [*UsageSource.render(snapshot, labels), *ExporterSource.render(snapshot, labels)]
    assert sum(len(metric.samples) for metric in metrics) > 3_000
    assert_identical(metrics)
    assert_identical(list(RUNTIME.collect()))
    rendered = render(metrics)
    assert rendered.text == reference(metrics)[0]
    assert rendered.openmetrics == reference(metrics)[1] + b"# EOF\n"
    assert fallbacks == []


def test_an_exposition_of_several_parts_is_served_in_pieces_that_make_up_the_whole_in_every_format():
    snapshot = load_benchmark("scrape").build_snapshot(400)
    labels = LabelPolicy()
    usage, exporter = list(UsageSource.render(snapshot, labels)), list(ExporterSource.render(snapshot, labels))
    rendered = Rendered.join([Part.of(usage), Part.of(exporter)])
    text, open_text = reference([*usage, *exporter])
    assert len(rendered.text_parts) == 2 and rendered.text == text
    assert gzip.decompress(rendered.text_gzip) == text
    assert rendered.openmetrics == open_text + b"# EOF\n" == gzip.decompress(rendered.openmetrics_gzip)
    for accept, encoding, whole in (
        ("text/plain", "identity", text),
        ("application/openmetrics-text; version=1.0.0", "identity", open_text + b"# EOF\n"),
        ("text/plain", "gzip, deflate", text),
        ("application/openmetrics-text; version=1.0.0", "gzip", open_text + b"# EOF\n"),
    ):
        pieces, _, gzipped = rendered.choose(accept, encoding)
        body = b"".join(pieces)
        assert (gzip.decompress(body) if gzipped else body) == whole


any_text = st.characters(blacklist_categories=("Cs",))
label_names = st.one_of(st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,6}", fullmatch=True), st.text(any_text, max_size=4))
label_values = st.text(any_text, max_size=12)
numbers = st.one_of(st.floats(), st.integers(-(10**30), 10**30), st.sampled_from(AWKWARD_FLOATS))
samples = st.lists(st.tuples(st.dictionaries(label_names, label_values, max_size=4), numbers), max_size=8)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["counter", "gauge", "info", "stateset", "unknown", "summary", "histogram"]),
    documentation=st.text(any_text, max_size=20),
    samples=samples,
)
def test_random_label_values_and_numbers_render_identically(kind, documentation, samples):
    family = Metric("family", documentation, kind)
    for i, (labels, number) in enumerate(samples):
        name = "family_total" if kind == "counter" and i % 3 else "family"
        family.add_sample(name, labels, number)
    assert_identical([family])


@settings(max_examples=500, deadline=None)
@given(numbers)
def test_random_numbers_format_as_float_to_go_string(number):
    assert go_float(number) == floatToGoString(number)
