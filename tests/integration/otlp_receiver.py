"""Real OTLP metric receivers on loopback, over http/protobuf and gRPC, decoding with opentelemetry-proto."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.metrics.v1 import metrics_pb2

CUMULATIVE = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


@dataclass
class Received:
    """Every decoded export request and the headers (lower-case) it came with."""

    url: str = ""
    requests: list[metrics_service_pb2.ExportMetricsServiceRequest] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def add(self, raw: bytes, headers: dict[str, str]) -> None:
        request = metrics_service_pb2.ExportMetricsServiceRequest()
        request.ParseFromString(raw)
        self.requests.append(request)
        self.headers.append(headers)


class _HttpHandler(BaseHTTPRequestHandler):
    server: _HttpReceiver

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        status = 404
        if self.path == "/v1/metrics":
            self.server.received.add(raw, {k.lower(): v for k, v in self.headers.items()})
            status = 200
        body = metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _HttpReceiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, received: Received) -> None:
        self.received = received
        super().__init__(("127.0.0.1", 0), _HttpHandler)


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, received: Received) -> None:
        self.received = received

    def Export(self, request, context):
        self.received.add(request.SerializeToString(), dict(context.invocation_metadata()))
        return metrics_service_pb2.ExportMetricsServiceResponse()


@contextmanager
def otlp_receiver(protocol: str) -> Iterator[Received]:
    """A receiver for ``http/protobuf`` (base URL; the exporter adds /v1/metrics) or ``grpc``."""
    received = Received()
    if protocol == "grpc":
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsService(received), server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        received.url = f"http://127.0.0.1:{port}"
        try:
            yield received
        finally:
            server.stop(grace=None)
        return
    httpd = _HttpReceiver(received)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield received
    finally:
        httpd.shutdown()
        httpd.server_close()


def attribute_value(value) -> object:
    """The Python value of an OTLP ``AnyValue``."""
    return getattr(value, value.WhichOneof("value"))


def data_points(request: metrics_service_pb2.ExportMetricsServiceRequest) -> dict[tuple[str, frozenset], object]:
    """Every number data point, keyed by (metric name, attributes); asserts cumulative monotonic sums."""
    points: dict[tuple[str, frozenset], object] = {}
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                data = getattr(metric, kind)
                if kind == "sum":
                    assert data.is_monotonic and data.aggregation_temporality == CUMULATIVE, metric.name
                else:
                    assert kind == "gauge", metric.name
                for point in data.data_points:
                    attributes = frozenset((kv.key, attribute_value(kv.value)) for kv in point.attributes)
                    key = (metric.name, attributes)
                    assert key not in points, f"duplicate data point {key}"
                    points[key] = getattr(point, point.WhichOneof("value"))
    return points


def units(request: metrics_service_pb2.ExportMetricsServiceRequest) -> dict[str, str]:
    """Unit of every metric in the request."""
    return {
        metric.name: metric.unit
        for resource_metrics in request.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    }


def resource(request: metrics_service_pb2.ExportMetricsServiceRequest) -> dict[str, object]:
    """Resource attributes of the request's (single) resource."""
    (resource_metrics,) = request.resource_metrics
    return {kv.key: attribute_value(kv.value) for kv in resource_metrics.resource.attributes}
