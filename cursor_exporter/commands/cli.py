"""The ``cursor-exporter`` command line: parses flags and hands over to one command module each."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from cursor_exporter import __version__
from cursor_exporter.commands.backfill import run_backfill
from cursor_exporter.commands.check import check
from cursor_exporter.commands.config import NOT_A_FLAG_FIELDS, ConfigError, Settings, flag_name, load_settings
from cursor_exporter.commands.demo import demo
from cursor_exporter.commands.export import GROUPS, run_export
from cursor_exporter.commands.serve import serve
from cursor_exporter.commands.simulate import simulate

log = logging.getLogger("cursor_exporter")

COMMANDS = ("serve", "demo", "check", "simulate", "backfill", "export")
HISTORY_ARGS = (
    "range_from",
    "range_to",
    "output",
    "seed_ledger",
    "export_format",
    "group_by",
    "team",
    "organization",
)


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"cursor-exporter: {message} (see --help)\n")


def utc_instant_ms(text: str) -> int:
    """Epoch ms of ``2026-10-01`` (UTC midnight) or an ISO 8601 time such as ``2026-10-01T08:00Z``."""
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use 2026-10-01 or 2026-10-01T08:00Z") from None
    return int((instant if instant.tzinfo else instant.replace(tzinfo=UTC)).timestamp() * 1000)


def group_list(text: str) -> tuple[str, ...]:
    """``day,user`` -> ("day", "user"), each one of the export's groups."""
    groups = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in groups if name not in GROUPS]
    if unknown or len(set(groups)) != len(groups):
        raise argparse.ArgumentTypeError(f"{text!r}: use distinct names of {', '.join(GROUPS)}")
    return groups


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
    history = parser.add_argument_group("backfill and export")
    history.add_argument("--from", dest="range_from", type=utc_instant_ms, metavar="DATE", help="start, UTC, inclusive")
    history.add_argument(
        "--to", dest="range_to", type=utc_instant_ms, metavar="DATE", help="end, UTC, exclusive; default: now"
    )
    history.add_argument("--output", dest="output", type=Path, help="file to write (export: default stdout)")
    history.add_argument(
        "--seed-ledger", dest="seed_ledger", action="store_true", help="backfill: also store history in the ledger"
    )
    history.add_argument("--format", dest="export_format", choices=("csv", "json"), help="export: default csv")
    history.add_argument("--group-by", dest="group_by", type=group_list, help=f"export: of {','.join(GROUPS)}")
    history.add_argument("--team", dest="team", metavar="NAME", help="the [[teams]] ledger to read (several teams)")
    history.add_argument(
        "--org", dest="organization", action="store_true", help="the organization ledger (organization key)"
    )
    return parser


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = vars(_parser().parse_args(argv))
    command = args.pop("command", "serve")
    config_file = args.pop("config_file", None)
    simulator_args = {k: args.pop(k) for k in list(args) if k.startswith("sim_")}
    history_args = {k: args.pop(k) for k in HISTORY_ARGS if k in args}
    try:
        settings = load_settings(args, config_file)
        if command in ("serve", "check"):
            settings.team_sources()
        settings.resolve_user_hash_key()
        settings.resolve_otlp_headers()
    except ConfigError as error:
        print(f"cursor-exporter: {error}", file=sys.stderr)
        return 2
    _setup_logging(settings.log_level)
    if command == "simulate":
        return simulate(simulator_args)
    if command == "check":
        return check(settings)
    if command == "demo":
        return demo(settings)
    if command == "backfill":
        return run_backfill(settings, history_args)
    if command == "export":
        return run_export(settings, history_args)
    teams = settings.team_sources()
    if teams is None:
        log.info("no CURSOR_API_KEY set: starting the demo with simulated data")
        return demo(settings)
    return serve(settings, teams)


if __name__ == "__main__":
    sys.exit(main())
