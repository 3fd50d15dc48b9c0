"""The ``cursor-exporter`` command: serve (default), demo, check and simulate."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, NoReturn

from cursor_exporter import __version__
from cursor_exporter.config import NOT_A_FLAG_FIELDS, ConfigError, Settings, flag_name, load_settings

log = logging.getLogger("cursor_exporter")

COMMANDS = ("serve", "demo", "check", "simulate")
DEMO_SPEED = 60.0
DEMO_INTERVAL_S = 30.0


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"cursor-exporter: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="cursor-exporter",
        description="Cursor Admin API spend and usage as Prometheus metrics.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("command", nargs="?", choices=COMMANDS, default="serve", help="default: serve")
    parser.add_argument("--version", action="version", version=f"cursor-exporter {__version__}")
    parser.add_argument("--config.file", dest="config_file", type=Path, help="TOML file of settings")
    for name, field in Settings.model_fields.items():
        if name in NOT_A_FLAG_FIELDS:
            continue
        flag = flag_name(name)
        if field.annotation is bool:
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, help=field.description)
        else:
            parser.add_argument(flag, dest=name, metavar="VALUE", help=field.description)
    simulator = parser.add_argument_group("simulate")
    simulator.add_argument("--simulator.port", dest="sim_port", type=int, default=8080)
    simulator.add_argument("--simulator.seed", dest="sim_seed", type=int, default=42)
    simulator.add_argument("--simulator.users", dest="sim_users", type=int, default=25)
    simulator.add_argument("--simulator.speed", dest="sim_speed", type=float, default=1.0)
    simulator.add_argument("--simulator.enterprise", dest="sim_enterprise", action="store_true", default=False)
    return parser


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _serve(settings: Settings) -> int:
    from cursor_exporter.service import Exporter

    key = settings.resolve_api_key()
    if key is None:
        log.info("no CURSOR_API_KEY set: starting the demo with simulated data")
        return _demo(settings)
    try:
        exporter = Exporter(settings, settings.api_url, key)
    except OSError as error:
        print(f"cursor-exporter: cannot listen on {settings.web_listen_address}: {error.strerror}", file=sys.stderr)
        return 1
    exporter.run_until_signalled()
    return 0


def _demo(settings: Settings) -> int:
    from cursor_exporter.service import Exporter
    from cursor_exporter.simulator import SimClock, Simulator, SimulatorConfig

    sim = Simulator(SimulatorConfig(seed=42, enterprise=True), clock=SimClock(speed=DEMO_SPEED))
    server = sim.serve(host="127.0.0.1", port=0)
    storage = Path(tempfile.mkdtemp(prefix="cursor-exporter-demo-"))
    demo_settings = settings.model_copy(
        update={
            "storage_path": storage,
            "sync_usage_interval": DEMO_INTERVAL_S,
            "sync_spend_interval": DEMO_INTERVAL_S,
            "sync_members_interval": DEMO_INTERVAL_S,
            "sync_groups_interval": DEMO_INTERVAL_S,
        }
    )
    try:
        exporter = Exporter(demo_settings, server.url, sim.config.api_key, clock_ms=sim.clock.now_ms)
    except OSError as error:
        server.stop()
        print(f"cursor-exporter: cannot listen on {settings.web_listen_address}: {error.strerror}", file=sys.stderr)
        return 1
    print(
        f"cursor-exporter demo: simulated Cursor team at {server.url} (clock x{DEMO_SPEED:g}); "
        f"metrics at {exporter.url}{settings.web_telemetry_path}; state in {storage}",
        flush=True,
    )
    try:
        exporter.run_until_signalled()
    finally:
        server.stop()
    return 0


def _check(settings: Settings) -> int:
    from cursor_exporter.client import ApiError, CursorClient, FeatureUnavailable

    key = settings.resolve_api_key()
    if key is None:
        print("cursor-exporter: no API key: set CURSOR_API_KEY or CURSOR_API_KEY_FILE", file=sys.stderr)
        return 2
    client = CursorClient(settings.api_url, key, timeout=settings.api_timeout, max_retries=1)
    try:
        members = client.members()
        try:
            client.request("GET", "/teams/groups")
            groups = "available"
        except FeatureUnavailable:
            groups = "not available (needs Enterprise)"
    except ApiError as error:
        print(f"cursor-exporter: check failed: {error}", file=sys.stderr)
        return 1
    finally:
        client.close()
    seats = sum(1 for member in members if not member.is_removed)
    print(f"ok: key accepted by {settings.api_url}; {seats} current members; billing groups: {groups}")
    return 0


def _simulate(args: dict[str, Any]) -> int:
    from cursor_exporter.simulator import SimClock, Simulator, SimulatorConfig

    config = SimulatorConfig(seed=args["sim_seed"], users=args["sim_users"], enterprise=args["sim_enterprise"])
    sim = Simulator(config, clock=SimClock(speed=args["sim_speed"]))
    server = sim.serve(host="127.0.0.1", port=args["sim_port"])
    print(f"simulated Cursor Admin API at {server.url}; API key {config.api_key}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = vars(_parser().parse_args(argv))
    command = args.pop("command", "serve")
    config_file = args.pop("config_file", None)
    simulator_args = {k: args.pop(k) for k in list(args) if k.startswith("sim_")}
    try:
        settings = load_settings(args, config_file)
        if command in ("serve", "check"):
            settings.resolve_api_key()
        settings.resolve_user_hash_key()
    except ConfigError as error:
        print(f"cursor-exporter: {error}", file=sys.stderr)
        return 2
    _setup_logging(settings.log_level)
    if command == "simulate":
        return _simulate(simulator_args)
    if command == "check":
        return _check(settings)
    if command == "demo":
        return _demo(settings)
    return _serve(settings)


if __name__ == "__main__":
    sys.exit(main())
