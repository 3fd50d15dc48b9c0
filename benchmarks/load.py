"""The exporter's HTTP server under load and abuse: many scrapers, slow half-open connections, a busy sync.

The server runs in a child process, as in production: ``MetricsServer`` over an ``ExpositionCache`` of
synthetic series (per-user token and charge counters, 100,000 series by default), with a thread that
renders them again and again and publishes the result, as a long sync does, so the GIL is contended
all the time. The parent process, on the same machine, holds ``--slow`` half-open connections (each
sends half a request head, then a header line every couple of seconds, and reconnects when the server
closes it), probes ``/-/healthy`` and ``/-/ready`` on fresh connections every 0.2 s, and runs two phases
of ``--scrapers`` concurrent scrapers for ``--duration`` seconds each: one connection per scrape, then
keep-alive connections. Scrapers send Prometheus's own ``Accept`` and ``Accept-Encoding: gzip``, so
they get gzipped OpenMetrics. It prints p50, p99 and max latency and errors per phase and for the probes,
and the server's largest thread count and resident memory, sampled from ``/proc``.

Run ``python benchmarks/load.py`` (about two and a half minutes) or ``--quick`` (seconds; CI checks
that the script runs). It exits 1 when a scrape or a probe fails or a probe takes ``PROBE_LIMIT_S``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, Metric

# Benchmark the checkout this script belongs to, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cursor_exporter.output.exposition import ExpositionCache, render
from cursor_exporter.output.web import MetricsServer

PROBE_LIMIT_S = 10.0
PROBE_EVERY_S = 0.2
TRICKLE_EVERY_S = 2.0
SAMPLE_EVERY_S = 0.25
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
TOKEN_TYPES = ("input", "output", "cache_write", "cache_read")
SLOW_HEAD = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def families(series: int) -> list[Metric]:
    """Per-user counters, four token types and one charge per user: ``series`` samples in all."""
    rng = random.Random(series)
    tokens = CounterMetricFamily("cursor_user_tokens", "Tokens used, by user and token type.", labels=["user", "type"])
    charged = CounterMetricFamily("cursor_user_charged_usd", "Money charged, by user.", labels=["user"])
    for user in range(series // (len(TOKEN_TYPES) + 1)):
        email = f"user.{user}@example.com"
        for token_type in TOKEN_TYPES:
            tokens.add_metric([email, token_type], rng.randrange(10**9))
        charged.add_metric([email], rng.randrange(10**7) / 100)
    return [tokens, charged]


def serve(series: int) -> None:
    """The child: serve the series, re-render them continuously, stop when stdin closes."""
    metrics = families(series)
    cache = ExpositionCache()
    cache.publish(render(metrics), b"<html>load</html>", ready=True)
    server = MetricsServer("127.0.0.1", 0, cache, "/metrics")
    server.start()
    rendered = cache.rendered
    print(server.server_address[1], len(rendered.text), len(rendered.openmetrics_gzip), flush=True)
    stopping = threading.Event()
    renders = [0]

    def sync() -> None:
        while not stopping.is_set():
            cache.publish(render(metrics), b"<html>load</html>", ready=True)
            renders[0] += 1

    renderer = threading.Thread(target=sync, name="render", daemon=True)
    renderer.start()
    sys.stdin.read()
    stopping.set()
    renderer.join()
    server.shutdown()
    server.server_close()
    print(renders[0], flush=True)


@dataclass
class Tally:
    """Latencies of the answers that came, and the count of those that did not."""

    seconds: list[float] = field(default_factory=list)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float | None) -> None:
        with self.lock:
            if seconds is None:
                self.errors += 1
            else:
                self.seconds.append(seconds)

    def row(self, name: str, duration_s: float) -> str:
        ordered = sorted(self.seconds) or [float("nan")]

        def ms(quantile: float) -> float:
            return ordered[round(quantile * (len(ordered) - 1))] * 1000

        rate = len(self.seconds) / duration_s
        return (
            f"{name:<12}{len(self.seconds):>9,}{rate:>9.1f}{ms(0.5):>10.1f}{ms(0.99):>10.1f}{ms(1):>10.1f}"
            f"{self.errors:>8}"
        )


def get(connection: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> bool:
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    return response.status == 200 and len(body) == int(response.getheader("Content-Length", "-1"))


def scraper(port: int, keep_alive: bool, until: float, tally: Tally) -> None:
    headers = {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}
    connection = None
    while time.monotonic() < until:
        start = time.perf_counter()
        try:
            connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            ok = get(connection, "/metrics", headers)
        except OSError:  # includes timeouts; http.client's own errors below
            ok = False
        except http.client.HTTPException:
            ok = False
        tally.add(time.perf_counter() - start if ok else None)
        if not (keep_alive and ok):
            connection.close()
            connection = None
    if connection is not None:
        connection.close()


def prober(port: int, stopping: threading.Event, tally: Tally) -> None:
    paths = ("/-/healthy", "/-/ready")
    count = 0
    while not stopping.wait(PROBE_EVERY_S):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_LIMIT_S)
        start = time.perf_counter()
        try:
            ok = get(connection, paths[count % 2], {})
        except (OSError, http.client.HTTPException):
            ok = False
        finally:
            connection.close()
        elapsed = time.perf_counter() - start
        tally.add(elapsed if ok and elapsed < PROBE_LIMIT_S else None)
        count += 1


class SlowConnections:
    """Half-open connections that trickle a header line now and then and come back when closed."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.selector = selectors.DefaultSelector()
        self.reopened = 0
        self.connect_errors = 0
        for _ in range(count):
            self._open()

    def _open(self) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=PROBE_LIMIT_S)
            sock.sendall(SLOW_HEAD)
        except OSError:
            self.connect_errors += 1
            return
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ)

    @property
    def held(self) -> int:
        return len(self.selector.get_map())

    def run(self, stopping: threading.Event, target: int) -> None:
        next_trickle = time.monotonic() + TRICKLE_EVERY_S
        while not stopping.is_set():
            for key, _ in self.selector.select(timeout=0.5):
                self.selector.unregister(key.fileobj)
                key.fileobj.close()  # the server closed it, or answered its head timeout
                self.reopened += 1
            while self.held < target and not stopping.is_set():
                self._open()
            if time.monotonic() >= next_trickle:
                next_trickle += TRICKLE_EVERY_S
                for key in list(self.selector.get_map().values()):
                    with contextlib.suppress(OSError):  # a closed one is seen on the next select
                        key.fileobj.send(b"X-Slow: 1\r\n")
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()


def sample_server(pid: int, stopping: threading.Event, peaks: dict[str, int]) -> None:
    while not stopping.wait(SAMPLE_EVERY_S):
        try:
            peaks["threads"] = max(peaks["threads"], len(os.listdir(f"/proc/{pid}/task")))
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        rss_kb = int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])
        peaks["rss_mb"] = max(peaks["rss_mb"], rss_kb // 1024)


def background(target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def run_phase(port: int, scrapers: int, duration_s: float, keep_alive: bool) -> Tally:
    tally = Tally()
    until = time.monotonic() + duration_s
    threads = [background(scraper, port, keep_alive, until, tally) for _ in range(scrapers)]
    for thread in threads:
        thread.join()
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, small figures: checks the script runs")
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--scrapers", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per phase")
    parser.add_argument("--slow", type=int, default=1_000, help="slow half-open connections held")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.series, args.scrapers, args.duration, args.slow = 5_000, 8, 2.0, 100
    if args.serve:
        serve(args.series)
        return 0

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    wanted = 4 * (args.slow + args.scrapers) + 1024  # both ends of every connection, and the child inherits it
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", f"--series={args.series}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    port, text_bytes, gzip_bytes = (int(word) for word in child.stdout.readline().split())
    stopping = threading.Event()
    peaks = {"threads": 0, "rss_mb": 0}
    probes = Tally()
    samplers = [background(sample_server, child.pid, stopping, peaks), background(prober, port, stopping, probes)]
    slow = SlowConnections(port, args.slow)
    samplers.append(background(slow.run, stopping, args.slow))
    fresh = run_phase(port, args.scrapers, args.duration, keep_alive=False)
    kept = run_phase(port, args.scrapers, args.duration, keep_alive=True)
    held_at_end = slow.held
    stopping.set()
    for thread in samplers:
        thread.join()
    child.stdin.close()
    renders = int(child.stdout.readline() or 0)
    child.wait()

    print(f"server: {args.series:,} series, {text_bytes:,} bytes as text, {gzip_bytes:,} as gzipped OpenMetrics;")
    print(f"        a sync thread re-rendered them {renders} times meanwhile")
    print(
        f"slow half-open connections: {args.slow:,} ({held_at_end:,} open at the end), re-opened {slow.reopened:,}"
        f" times after the server closed them, {slow.connect_errors} connect errors"
    )
    print(f"{args.scrapers} scrapers, {args.duration:g} s per phase\n")
    print(f"{'':<12}{'requests':>9}{'per s':>9}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'errors':>8}")
    print(fresh.row("fresh", args.duration))
    print(kept.row("keep-alive", args.duration))
    print(probes.row("probes", 2 * args.duration))
    print(f"\nserver threads: at most {peaks['threads']}; resident memory: at most {peaks['rss_mb']} MB")
    failed = fresh.errors + kept.errors + probes.errors
    if failed or not probes.seconds:
        print(f"FAIL: {failed} failed requests (a probe fails when it takes {PROBE_LIMIT_S:g} s)", file=sys.stderr)
        return 1
    print(f"OK: every scrape answered, every probe within {PROBE_LIMIT_S:g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
