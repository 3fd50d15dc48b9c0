"""``python -m cursor_exporter.simulator``: serve the fake Cursor Admin API in the foreground."""

from __future__ import annotations

import argparse

from .clock import SimClock
from .config import SimulatorConfig
from .simulator import run_simulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--users", type=int, default=25)
    parser.add_argument("--api-key", default="crsr_test_key")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--enterprise", action="store_true")
    parser.add_argument("--no-rate-limits", action="store_true")
    parser.add_argument("--events-per-user-per-day", type=float, default=40.0)
    parser.add_argument("--cycle-start-days-ago", type=int, default=10)
    parser.add_argument(
        "--rate-limit-period", type=float, default=60.0, help="seconds over which the per-minute limits count"
    )
    args = parser.parse_args(argv)
    config = SimulatorConfig(
        seed=args.seed,
        users=args.users,
        api_key=args.api_key,
        enterprise=args.enterprise,
        rate_limits=not args.no_rate_limits,
        events_per_user_per_day=args.events_per_user_per_day,
        cycle_start_days_ago=args.cycle_start_days_ago,
        rate_limit_period_s=args.rate_limit_period,
    )
    run_simulator(args.host, args.port, config, SimClock(speed=args.speed))


if __name__ == "__main__":
    main()
