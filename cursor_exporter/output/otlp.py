"""OTLP push: the families ``/metrics`` serves, sent to an OpenTelemetry collector or vendor.

Every family of the source registry (:data:`cursor_exporter.sources.FAMILIES`) is one observable instrument (a counter
for ``*_total``, a gauge otherwise) named and labelled by the family's ``otlp_*`` mapping. The
instruments observe the metric families the last sync rendered for ``/metrics``, so a push and a
scrape of the same snapshot carry the same values. Temporality is cumulative, like Prometheus.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider, ObservableCounter, ObservableGauge
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from prometheus_client.core import Metric

from cursor_exporter import __version__
from cursor_exporter.sources import FAMILIES
from cursor_exporter.sources.families import Family, otlp_attribute

SERVICE_NAME = "cursor-exporter"
HTTP_METRICS_PATH = "/v1/metrics"
EXPORT_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 1.5  # the last push must not hold up a shutdown in Kubernetes' grace period
# The SDK folds attribute sets beyond its default limit of 2000 into one overflow point; a push
# must carry every series /metrics has (--metrics.top-users is the cardinality control).
CARDINALITY_LIMIT = 1_000_000
# Explicit, so OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta cannot turn counters into deltas.
CUMULATIVE = dict.fromkeys((ObservableCounter, ObservableGauge), AggregationTemporality.CUMULATIVE)


def http_metrics_url(endpoint: str) -> str:
    """The collector's base URL with ``/v1/metrics`` appended to its path, unless already there."""
    parts = urlsplit(endpoint)
    path = parts.path.rstrip("/")
    if not path.endswith(HTTP_METRICS_PATH):
        path += HTTP_METRICS_PATH
    return urlunsplit(parts._replace(path=path))


def metric_exporter(protocol: str, endpoint: str, headers: Mapping[str, str]) -> MetricExporter:
    """An OTLP exporter for ``http/protobuf`` or ``grpc``, asking for cumulative temporality."""
    # Imported here: each transport pulls in its own stack (grpc is heavy); load only the one in use.
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcExporter

        parts = urlsplit(endpoint)
        return GrpcExporter(
            endpoint=parts.netloc or endpoint,
            insecure=parts.scheme == "http",
            headers=dict(headers),
            timeout=EXPORT_TIMEOUT_S,
            preferred_temporality=CUMULATIVE,
        )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpExporter

    return HttpExporter(
        endpoint=http_metrics_url(endpoint),
        headers=dict(headers),
        timeout=EXPORT_TIMEOUT_S,
        preferred_temporality=CUMULATIVE,
    )


class OtlpPusher:
    """Pushes the latest published families every ``interval_s`` seconds until :meth:`shutdown`."""

    def __init__(
        self,
        exporter: MetricExporter,
        *,
        interval_s: float,
        instance_id: str,
        resource_attributes: Mapping[str, str] | None = None,
    ) -> None:
        self.instance_id = instance_id
        reader = PeriodicExportingMetricReader(
            exporter,
            export_interval_millis=interval_s * 1000,
            export_timeout_millis=EXPORT_TIMEOUT_S * 1000,
            cardinality_limits={ObservableCounter: CARDINALITY_LIMIT, ObservableGauge: CARDINALITY_LIMIT},
        )
        resource = Resource.create(
            {
                "service.name": SERVICE_NAME,
                "service.version": __version__,
                "service.instance.id": instance_id,
                **(resource_attributes or {}),
            }
        )
        self._provider = MeterProvider(metric_readers=[reader], resource=resource, shutdown_on_exit=False)
        meter = self._provider.get_meter("cursor_exporter", __version__)
        self._samples: Mapping[str, tuple] = {}
        for family in FAMILIES:
            create = meter.create_observable_counter if family.type == "counter" else meter.create_observable_gauge
            create(
                family.otlp_name,
                callbacks=[partial(self._observe, family)],
                unit=family.otlp_unit,
                description=family.help,
            )

    def publish(self, metrics: Iterable[Metric]) -> None:
        """Hand over the families of a new snapshot; the next push sends them."""
        self._samples = {
            metric.name: tuple(
                sample for sample in metric.samples if sample.name in (metric.name, f"{metric.name}_total")
            )
            for metric in metrics
        }

    def _observe(self, family: Family, options: CallbackOptions) -> Iterable[Observation]:
        # Every label of the sample, not only the declared ones: the team label of several teams and the
        # mapping file's columns on cursor_user_info are added at run time.
        for sample in self._samples.get(family.name.removesuffix("_total"), ()):
            attributes = {otlp_attribute(label): value for label, value in sample.labels.items()}
            yield Observation(sample.value, attributes)

    def force_flush(self) -> bool:
        """Push now; True when the collector accepted it."""
        return self._provider.force_flush()

    def shutdown(self) -> None:
        """Push once more (for at most ``SHUTDOWN_TIMEOUT_S``) and stop the push thread."""
        self._provider.shutdown(timeout_millis=SHUTDOWN_TIMEOUT_S * 1000)
