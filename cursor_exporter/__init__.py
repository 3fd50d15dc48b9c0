"""cursor-exporter: Cursor Admin API spend and usage as Prometheus metrics."""

__version__ = "0.1.0"
