"""Scrape cost of cursor_exporter versus a conventional exporter, on the same ~100,000 series.

What it measures, all in one process:

* **baseline**: ``prometheus_client.generate_latest(registry)`` where ``registry`` is a
  ``CollectorRegistry`` holding a custom collector that yields the very metric families the exporter
  serves. This is what a conventional exporter does on every scrape. The families are built once and
  reused, so the baseline does not even pay for building them: it is the cheapest conventional scrape.
* **scrape**: a full scrape of ``MetricsServer`` (the exporter's own HTTP server) over real loopback
  HTTP with ``http.client``: GET /metrics in the text format without gzip, read the whole body. The
  headline figure opens a fresh TCP connection per scrape (connect, server handler thread, request,
  response, close); a keep-alive figure, which is how Prometheus scrapes, is printed as well.
* **render once**: the sources' ``render`` (snapshot to families) and ``render`` (text and OpenMetrics, each
  plain and gzipped). The exporter pays this once per sync, never per scrape.

The snapshot is synthetic but shaped like a large team's ledger: 13,800 users, each with a handful of
(model, kind, max_mode, source) usage keys, Decimal cents, some downward revisions and a current
billing cycle. Per-user families dominate the series count, as they do in production. Every figure is
the median of several ``time.perf_counter`` repetitions after a warm-up.

Run ``python benchmarks/scrape.py``. It exits 1 unless the scrape median is below 1/20 of the
baseline median, so the README's claim stays checkable.
"""

from __future__ import annotations

import http.client
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

# Benchmark the checkout this script belongs to, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cursor_exporter.ledger.rollup import UsageRollup
from cursor_exporter.ledger.tally import EMPTY, Tally, UsageKey, add
from cursor_exporter.output.exposition import ExpositionCache, render
from cursor_exporter.output.landing import landing_page
from cursor_exporter.output.web import MetricsServer
from cursor_exporter.sources.base import Snapshot, SourceStatus, TeamOverview
from cursor_exporter.sources.exporter import ExporterSource
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.sources.usage import UsageSource
from cursor_exporter.sources.usage_ledger import LedgerPart

SEED = 20240601
USERS = 13_800
KEYS_PER_USER = (4, 12)  # each user has between 4 and 12 usage keys
BASELINE_REPS = 7
SCRAPE_REPS = 25
WARMUP = 2
REQUIRED_RATIO = 1 / 20

MODEL_FAMILIES = (
    "claude-4.5-sonnet",
    "claude-4.1-opus",
    "claude-4.5-haiku",
    "gpt-5",
    "gpt-5-codex",
    "gpt-5-mini",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "o3",
    "grok-code-fast-1",
    "composer-1",
    "default",
)
MODELS = tuple(f"{m}{v}" for m in MODEL_FAMILIES for v in ("", "-thinking", "-high"))
KINDS = ("Included in Business", "Usage-based", "Errored, Not Charged", "Aborted, Not Charged", "User API Key")
NOT_CHARGED = frozenset({"Errored, Not Charged", "Aborted, Not Charged", "User API Key"})
SOURCES = ("ide", "ide", "ide", "ide", "headless", "cloud_agent", "automation", "service_account")
FIRST = ("alex", "sam", "priya", "jonas", "mei", "carlos", "fatima", "noah", "ingrid", "kenji", "lucia", "omar")
LAST = ("keller", "okafor", "nguyen", "schmidt", "rossi", "tanaka", "haddad", "larsen", "patel", "moreau")


def _cents(rng: random.Random, high: int) -> Decimal:
    """Fractional cents, as Cursor reports them (four decimal places)."""
    return Decimal(rng.randrange(high * 10_000)).scaleb(-4)


def _tally(rng: random.Random, kind: str, scale: int) -> Tally:
    events = rng.randint(1, 40 * scale)
    tokens = [rng.randint(0, 60_000 * events) for _ in range(4)]
    charged = Decimal(0) if kind in NOT_CHARGED else _cents(rng, 30 * events)
    fee = Decimal(0) if kind in NOT_CHARGED else _cents(rng, events)
    units = Decimal(rng.randint(0, 2 * events)).scaleb(-1)
    return Tally(events, *tokens, charged, fee, units)


def build_snapshot(users_count: int = USERS) -> Snapshot:
    """A deterministic snapshot of a large team: ~100,000 series once rendered for the default 13,800 users."""
    rng = random.Random(SEED)
    model_weights = [1 / (i + 1) for i in range(len(MODELS))]
    counters: dict[UsageKey, Tally] = {}
    revised: dict[UsageKey, Tally] = {}
    cycle: dict[UsageKey, Tally] = {}
    users = [f"{FIRST[u % len(FIRST)]}.{LAST[u // len(FIRST) % len(LAST)]}.{u}@example.com" for u in range(users_count)]
    for user in users:
        for _ in range(rng.randint(*KEYS_PER_USER)):
            model = rng.choices(MODELS, model_weights)[0]
            key = UsageKey(user, model, rng.choice(KINDS), rng.random() < 0.15, rng.choice(SOURCES))
            total = _tally(rng, key.kind, scale=30)
            down = EMPTY
            if rng.random() < 0.03 and total.charged_cents:
                down = Tally(charged_cents=_cents(rng, 50))
            counters[key] = add(total, down)
            revised[key] = down
            if rng.random() < 0.85:
                cycle[key] = _tally(rng, key.kind, scale=5)
    # Every (model, kind, max_mode) combination appears team-wide, as it would in a big team.
    for i, (model, kind, max_mode) in enumerate((m, k, x) for m in MODELS for k in KINDS for x in (False, True)):
        key = UsageKey(users[i], model, kind, max_mode, "ide")
        counters.setdefault(key, _tally(rng, kind, scale=1))
        revised.setdefault(key, EMPTY)
    now = time.time()
    statuses = tuple(
        SourceStatus(name, True, now - 30, now - 30, None, 1.5, 12, now + 570) for name in ("usage", "spend")
    )
    return Snapshot(
        version="bench",
        parts={
            "usage": LedgerPart(
                UsageRollup.of_series(counters, revised, cycle, int(now * 1000) - 12 * 86_400_000), None, 0
            )
        },
        statuses=statuses,
        api_requests={("/teams/filtered-usage-events", "200"): 1234, ("/teams/spend", "200"): 56},
        rate_limit_waits={"/teams/filtered-usage-events": 3.25},
        malformed_records={("/teams/filtered-usage-events", "wrong_type"): 0},
        windows_fetched=800,
    )


class SnapshotCollector:
    """What a conventional exporter registers: a collector yielding families on every scrape."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterable[Metric]:
        yield from self._metrics


def median_seconds(action: Callable[[], object], reps: int) -> float:
    for _ in range(WARMUP):
        action()
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _timed(action: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def series_count(text: bytes) -> int:
    return sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))


def scrape_fresh(host: str, port: int, size: int) -> bytes:
    """GET /metrics on a fresh connection, reading the whole body; fails unless it is ``size`` bytes."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200 or len(body) != size:
        raise RuntimeError(f"bad scrape: {response.status}, {len(body)} bytes")
    return body


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:10.2f} ms"


def main() -> int:
    snapshot = build_snapshot()
    labels = LabelPolicy()
    metrics, collect_s = _timed(
        lambda: [*UsageSource.render(snapshot, labels), *ExporterSource.render(snapshot, labels)]
    )
    rendered, render_s = _timed(lambda: render(metrics))

    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(metrics))
    if generate_latest(registry) != rendered.text:
        print("baseline and rendered exposition differ; not the same series", file=sys.stderr)
        return 2
    series = series_count(rendered.text)
    print(
        f"series: {series:,} (sample lines in the text exposition), "
        f"{len(snapshot.part('usage').view.user_counters):,} users"
    )
    print(f"bytes:  {len(rendered.text):,} text, {len(rendered.text_gzip):,} gzipped")

    baseline = median_seconds(lambda: generate_latest(registry), BASELINE_REPS)

    cache = ExpositionCache()
    cache.publish(
        rendered,
        landing_page(snapshot.version, [(TeamOverview(None, "http://bench", "/tmp"), snapshot)], "/metrics"),
        ready=True,
    )
    server = MetricsServer("127.0.0.1", 0, cache, "/metrics")
    server.start()
    host, port = server.server_address[:2]

    def fresh_scrape() -> bytes:
        return scrape_fresh(host, port, len(rendered.text))

    kept = http.client.HTTPConnection(host, port, timeout=30)

    def keepalive_scrape() -> bytes:
        kept.request("GET", "/metrics")
        response = kept.getresponse()
        body = response.read()
        if response.status != 200 or len(body) != len(rendered.text):
            raise RuntimeError(f"bad scrape: {response.status}, {len(body)} bytes")
        return body

    try:
        if fresh_scrape() != rendered.text:
            print("scraped body differs from the rendered exposition", file=sys.stderr)
            return 2
        scrape = median_seconds(fresh_scrape, SCRAPE_REPS)
        scrape_keepalive = median_seconds(keepalive_scrape, SCRAPE_REPS)
    finally:
        kept.close()
        server.shutdown()
        server.server_close()

    ratio = scrape / baseline
    print()
    print(f"{'baseline: generate_latest(registry), per scrape':<58}{_ms(baseline)}  (median of {BASELINE_REPS})")
    print(f"{'scrape: HTTP GET /metrics, fresh connection':<58}{_ms(scrape)}  (median of {SCRAPE_REPS})")
    print(f"{'scrape: HTTP GET /metrics, keep-alive connection':<58}{_ms(scrape_keepalive)}  (median of {SCRAPE_REPS})")
    print(f"{'ratio scrape / baseline (fresh connection)':<58}{ratio:10.4f}     = 1/{baseline / scrape:.0f}")
    print(f"{'render once per sync: sources render':<58}{_ms(collect_s)}")
    print(f"{'render once per sync: render (text+OpenMetrics, gzip)':<58}{_ms(render_s)}")
    if ratio >= REQUIRED_RATIO:
        print(f"FAIL: ratio {ratio:.4f} is not below 1/20", file=sys.stderr)
        return 1
    print("OK: ratio below 1/20")
    return 0


if __name__ == "__main__":
    sys.exit(main())
