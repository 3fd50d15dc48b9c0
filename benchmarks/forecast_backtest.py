"""Back-test of the cycle-end spend forecast on simulated billing cycles.

For several seeded simulated teams with three complete 30-day cycles each, the forecast of
``cursor_exporter.sources.cost.forecast_cycle_charge`` is taken at the end of every day of every cycle
from the charged money known by then, and compared with the cycle's actual final charged money.
Prints the mean absolute percentage error (MAPE) by day of cycle as a Markdown table, the one in
``docs/forecast.md``.

    python benchmarks/forecast_backtest.py
"""

from __future__ import annotations

import statistics
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cursor_exporter.ledger.tally import HourCharge
from cursor_exporter.simulator import SimClock, Simulator, SimulatorConfig
from cursor_exporter.sources.cost import forecast_cycle_charge
from cursor_exporter.timegrid import DAY_MS

SEEDS = (1, 2, 3, 4)
CYCLES = 3
CYCLE_DAYS = 30
REPORT_DAYS = (3, 7, 10, 14, 21, 25, 28)
CLOCK_START_MS = 1_795_014_000_000  # 2026-11-18T15:00Z


def daily_charges(sim: Simulator, start_ms: int, days: int) -> dict[int, HourCharge]:
    """Charged cents per day (all, on-demand) from the simulator's truth."""
    charges = {}
    for day in range(days):
        begin = start_ms + day * DAY_MS
        rows = sim.truth(begin, begin + DAY_MS - 1)["usage"]
        charges[begin] = HourCharge(
            sum((Decimal(r["chargedCents"]) for r in rows), Decimal(0)),
            sum((Decimal(r["chargedCents"]) for r in rows if r["kind"] == "Usage-based"), Decimal(0)),
        )
    return charges


def errors_by_day() -> dict[str, dict[int, list[float]]]:
    """Absolute percentage errors per charge kind and day of cycle, over every seed and cycle."""
    errors: dict[str, dict[int, list[float]]] = {"all": {}, "on_demand": {}}
    for seed in SEEDS:
        config = SimulatorConfig(seed=seed, users=20, cycle_start_days_ago=CYCLES * CYCLE_DAYS + 2, rate_limits=False)
        sim = Simulator(config, clock=SimClock(start_ms=CLOCK_START_MS, speed=0))
        first_start = sim.first_cycle_start_ms
        for cycle in range(CYCLES):
            start = first_start + cycle * CYCLE_DAYS * DAY_MS
            end = start + CYCLE_DAYS * DAY_MS
            charges = daily_charges(sim, start, CYCLE_DAYS)
            actual = HourCharge(
                sum((c.all for c in charges.values()), Decimal(0)),
                sum((c.on_demand for c in charges.values()), Decimal(0)),
            )
            for day in range(1, CYCLE_DAYS):
                forecast = forecast_cycle_charge(charges, start, end, start + day * DAY_MS)
                for kind in ("all", "on_demand"):
                    truth, guess = getattr(actual, kind), getattr(forecast, kind)
                    errors[kind].setdefault(day, []).append(float(abs(guess - truth) / truth * 100))
    return errors


def main() -> int:
    errors = errors_by_day()
    print(f"| Day of cycle | MAPE, all charged | MAPE, on-demand | ({len(SEEDS)} teams x {CYCLES} cycles)")
    print("|---:|---:|---:|")
    for day in REPORT_DAYS:
        print(
            f"| {day} | {statistics.mean(errors['all'][day]):.1f}% | {statistics.mean(errors['on_demand'][day]):.1f}% |"
        )
    overall_all = statistics.mean(e for day in errors["all"].values() for e in day)
    overall_od = statistics.mean(e for day in errors["on_demand"].values() for e in day)
    print(f"| all days 1-29 | {overall_all:.1f}% | {overall_od:.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
