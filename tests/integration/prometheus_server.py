"""A real Prometheus on loopback over a TSDB directory, and its HTTP query API."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Prometheus:
    """Instant queries against a running Prometheus."""

    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, promql: str, at_ms: int) -> dict[tuple[str, frozenset], float]:
        """The instant vector of ``promql`` at ``at_ms``, keyed by (metric name, other labels)."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql, "time": at_ms / 1000}, timeout=30)
        body = response.json()
        assert body["status"] == "success", body
        result = {}
        for item in body["data"]["result"]:
            labels = dict(item["metric"])
            name = labels.pop("__name__", "")
            result[(name, frozenset(labels.items()))] = float(item["value"][1])
        return result


@contextmanager
def running_prometheus(
    binary: str, tsdb: Path, workdir: Path, start_timeout_s: float = 300, config_text: str | None = None
) -> Iterator[Prometheus]:
    """Prometheus serving ``tsdb`` until the block exits; it scrapes nothing unless ``config_text`` says so."""
    config = workdir / "prometheus.yml"
    config.write_text(config_text or "global:\n  scrape_interval: 1h\n")
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tsdb}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "prometheus.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            assert process.poll() is None, (workdir / "prometheus.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "prometheus did not become ready"
            time.sleep(0.1)
        yield Prometheus(url)
    finally:
        process.terminate()
        process.wait(timeout=30)
