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
    args = parser.parse_args(argv)
    config = SimulatorConfig(
        seed=args.seed,
        users=args.users,
        api_key=args.api_key,
        enterprise=args.enterprise,
        rate_limits=not args.no_rate_limits,
    )
    run_simulator(args.host, args.port, config, SimClock(speed=args.speed))


if __name__ == "__main__":
    main()
