"""Per-source exposition parts: a publish after one source's sync against a full publish, same process.

A 2,000-user simulated team is synced once; then the median of 7 publishes is taken after nothing in
particular (every part rendered) and after a members sync and a usage sync (only the parts they affect).
Run: ``.venv/bin/python benchmarks/publish.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cursor_exporter.output.exposition import ExpositionCache
from cursor_exporter.output.publisher import Publisher
from cursor_exporter.simulator import SimClock, Simulator, SimulatorConfig
from cursor_exporter.sources import SWITCHABLE
from cursor_exporter.sources.labels import LabelPolicy
from tests.integration.conftest import ALL_COLLECTORS, build_engine

WEDNESDAY_3PM = 1795014000000
REPS = 7


def median_ms(action) -> float:
    samples = []
    for _ in range(REPS):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> int:
    config = SimulatorConfig(
        users=2000, events_per_user_per_day=4, cycle_start_days_ago=1, enterprise=True, rate_limits=False
    )
    sim = Simulator(config, clock=SimClock(start_ms=WEDNESDAY_3PM, speed=0))
    server = sim.serve()
    engine, closing = build_engine(
        server.url, config.api_key, Path(tempfile.mkdtemp()), ALL_COLLECTORS, sim.clock.now_ms, rate_limit_period=0.01
    )
    try:
        for name in ALL_COLLECTORS:
            assert engine.run(name), name
        publisher = Publisher([(None, engine)], SWITCHABLE, LabelPolicy(), ExpositionCache())
        full = median_ms(publisher.publish)
        series = sum(1 for line in publisher.cache.rendered.text.splitlines() if line and not line.startswith(b"#"))
        print(f"series: {series:,}")
        print(f"baseline: publish every part           {full:8.1f} ms")
        for source in ("members", "usage"):
            partial = median_ms(lambda source=source: publisher.publish(source))
            print(f"after a {source + ' sync:':<31}{partial:8.1f} ms  ratio {partial / full:.2f}")
    finally:
        for closable in closing:
            closable.close()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
