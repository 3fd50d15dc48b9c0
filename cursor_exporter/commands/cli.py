"""The ``cursor-exporter`` command line: one parser per command, then a hand-over to its module.

Each command takes only the flags it uses; ``--help`` of a command shows each flag's default, allowed
values and environment variable. Flags are never abbreviated, and a key is never taken as a flag.
"""

from __future__ import annotations

import argparse
import logging
import sys
import typing
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from cursor_exporter import __version__
from cursor_exporter.commands.backfill import run_backfill
from cursor_exporter.commands.check import check
from cursor_exporter.commands.config import (
    CURSOR_ENVIRONMENT,
    NOT_A_FLAG_FIELDS,
    ConfigError,
    Settings,
    flag_name,
    load_settings,
)
from cursor_exporter.commands.demo import demo
from cursor_exporter.commands.export import GROUPS, run_export
from cursor_exporter.commands.logs import configure_logging
from cursor_exporter.commands.serve import serve
from cursor_exporter.commands.simulate import simulate
from cursor_exporter.ledger.database import LedgerError
from cursor_exporter.output.webconfig import WebConfigError, load_web_config

log = logging.getLogger("cursor_exporter")

SECRET_FLAGS = {"--api.key": "CURSOR_API_KEY", "--org.api-key": "CURSOR_ORG_API_KEY"}
LOG_SETTINGS = frozenset({"log_level", "log_format"})
# Settings each command reads; None: all of them (serve, demo and check validate what serve would use).
BACKFILL_SETTINGS = LOG_SETTINGS | {
    "api_url",
    "api_key_file",
    "api_rate_limit_share",
    "api_timeout",
    "api_max_response_bytes",
    "api_max_retries",
    "org_api_key_file",
    "org_id",
    "storage_path",
    "sync_end_delay",
    "sync_settle_lookback",
    "metrics_user_label",
    "metrics_user_hash_key_file",
    "metrics_model_map_file",
}
EXPORT_SETTINGS = LOG_SETTINGS | {"storage_path"}


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments: "):
            # Flag names only: a mistyped flag's value may be a secret.
            words = message.removeprefix("unrecognized arguments: ").split()
            message = "unrecognized arguments: " + " ".join(w.split("=", 1)[0] for w in words if w.startswith("-"))
        self.exit(2, f"cursor-exporter: {message} (see {self.prog} --help)\n")


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


def _choices(annotation: Any) -> tuple[str, ...] | None:
    """The allowed values of a ``Literal`` setting (possibly wrapped in ``Annotated``)."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else None


def _flag_help(name: str, field: Any) -> str:
    environment = [env for env, target in CURSOR_ENVIRONMENT.items() if target == name]
    environment.append(f"CURSOR_EXPORTER_{name.upper()}")
    default = "" if field.default is None else f" Default: {field.default}."
    return f"{field.description}{default} Env: {', '.join(environment)}."


def _add_settings(parser: argparse.ArgumentParser, names: Collection[str] | None) -> None:
    parser.add_argument("--config.file", dest="config_file", type=Path, metavar="FILE", help="TOML file of settings.")
    for name, field in Settings.model_fields.items():
        if name in NOT_A_FLAG_FIELDS or (names is not None and name not in names):
            continue
        flag, help_text = flag_name(name), _flag_help(name, field)
        if field.annotation is bool:
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, help=help_text)
        elif choices := _choices(field.annotation):
            parser.add_argument(
                flag, dest=name, choices=choices, type=str.lower, metavar="|".join(choices), help=help_text
            )
        else:
            parser.add_argument(flag, dest=name, metavar="VALUE", help=help_text)


def _add_history(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("--from", dest="range_from", type=utc_instant_ms, metavar="DATE", help="Start, UTC, inclusive.")
    parser.add_argument(
        "--to", dest="range_to", type=utc_instant_ms, metavar="DATE", help="End, UTC, exclusive; default: now."
    )
    parser.add_argument("--team", dest="team", metavar="NAME", help="The [[teams]] entry to read (several teams).")
    parser.add_argument("--org", dest="organization", action="store_true", help="The organization's events and ledger.")
    if command == "backfill":
        parser.add_argument("--output", dest="output", type=Path, required=True, help="OpenMetrics file to write.")
        parser.add_argument(
            "--seed-ledger", dest="seed_ledger", action="store_true", help="Also store the history in the ledger."
        )
    else:
        parser.add_argument("--output", dest="output", type=Path, help="File to write. Default: stdout.")
        parser.add_argument("--format", dest="export_format", choices=("csv", "json"), help="Default: csv.")
        parser.add_argument(
            "--group-by", dest="group_by", type=group_list, help=f"Any of {','.join(GROUPS)}. Default: day."
        )


def _add_simulator(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--simulator.port", dest="sim_port", type=int, default=8080, help="Port to serve on. Default: 8080."
    )
    parser.add_argument(
        "--simulator.seed", dest="sim_seed", type=int, default=42, help="Seed of the synthetic team. Default: 42."
    )
    parser.add_argument("--simulator.users", dest="sim_users", type=int, default=25, help="Team size. Default: 25.")
    parser.add_argument(
        "--simulator.speed",
        dest="sim_speed",
        type=float,
        default=1.0,
        help="Clock speed, 60 = an hour a minute. Default: 1.",
    )
    parser.add_argument(
        "--simulator.enterprise",
        dest="sim_enterprise",
        action="store_true",
        default=False,
        help="Serve Enterprise routes.",
    )


COMMANDS: dict[str, tuple[str, Collection[str] | None, Callable[[argparse.ArgumentParser], None] | None]] = {
    "serve": ("Poll the Cursor Admin API and serve /metrics (the default command; needs a key).", None, None),
    "demo": ("Serve metrics of a simulated Cursor team: no key, no real data.", None, None),
    "check": ("Validate the configuration and the keys, and list the plan's features.", None, None),
    "simulate": ("Run the Cursor Admin API simulator on its own.", LOG_SETTINGS, _add_simulator),
    "backfill": (
        "Write usage history as OpenMetrics for promtool.",
        BACKFILL_SETTINGS,
        lambda p: _add_history(p, "backfill"),
    ),
    "export": ("Write the ledger's usage as CSV or JSON.", EXPORT_SETTINGS, lambda p: _add_history(p, "export")),
}


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="cursor-exporter",
        description="Cursor Admin API spend and usage as Prometheus metrics. Without a command: serve.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"cursor-exporter {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)
    for name, (summary, settings, extra) in COMMANDS.items():
        sub = commands.add_parser(
            name, help=summary, description=summary, allow_abbrev=False, argument_default=argparse.SUPPRESS
        )
        _add_settings(sub, settings)
        if extra is not None:
            extra(sub)
    return parser


def _secret_flag(argv: list[str]) -> str | None:
    """The one-line refusal of a key given as a flag, or None."""
    for word in argv:
        flag = word.split("=", 1)[0]
        if flag in SECRET_FLAGS:
            env = SECRET_FLAGS[flag]
            return f"{flag}: keys are not taken as flags (they end up in shell history and ps); set {env} or {env}_FILE"
    return None


def _validate(settings: Settings, command: str) -> None:
    """Every setting ``command`` uses, read and checked now, so that a mistake is one line and exit 2."""
    if command in ("serve", "check", "demo", "backfill"):
        settings.resolve_user_hash_key()
        settings.resolve_model_map()
        settings.resolve_org_api_key()
    if command in ("serve", "check", "demo"):
        settings.resolve_user_mapping()
        settings.resolve_otlp_headers()
        if settings.web_config_file is not None:
            try:
                load_web_config(settings.web_config_file)
            except WebConfigError as error:
                raise ConfigError(str(error)) from None
    if command in ("serve", "check") and settings.team_sources() is None:
        raise ConfigError(
            "no API key: set CURSOR_API_KEY or CURSOR_API_KEY_FILE (or [[teams]] in --config.file); "
            "`cursor-exporter demo` serves simulated data instead"
        )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    refusal = _secret_flag(argv)
    if refusal is not None:
        print(f"cursor-exporter: {refusal}", file=sys.stderr)
        return 2
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["serve", *argv]
    args = vars(_parser().parse_args(argv))
    command = args.pop("command")
    config_file = args.pop("config_file", None)
    simulator_args = {k: args.pop(k) for k in list(args) if k.startswith("sim_")}
    history_args = {k: args.pop(k) for k in list(args) if k not in Settings.model_fields}
    try:
        settings = load_settings(args, config_file)
        _validate(settings, command)
    except ConfigError as error:
        print(f"cursor-exporter: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        return _run(command, settings, simulator_args, history_args)
    except LedgerError as error:  # a ledger in use or unusable: one line, whichever command opened it
        print(f"cursor-exporter: {error}", file=sys.stderr)
        return 2


def _run(command: str, settings: Settings, simulator_args: dict[str, Any], history_args: dict[str, Any]) -> int:
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
    return serve(settings, settings.team_sources())


if __name__ == "__main__":
    sys.exit(main())
