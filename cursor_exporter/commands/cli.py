"""The ``cursor-exporter`` command: serve (default), demo, check, simulate, backfill and export."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

from pydantic import SecretStr

from cursor_exporter import __version__
from cursor_exporter.config import (
    NOT_A_FLAG_FIELDS,
    ConfigError,
    Settings,
    TeamSource,
    flag_name,
    load_settings,
)

log = logging.getLogger("cursor_exporter")

COMMANDS = ("serve", "demo", "check", "simulate", "backfill", "export")
HISTORY_ARGS = ("range_from", "range_to", "output", "seed_ledger", "export_format", "group_by")
DEMO_SPEED = 60.0
DEMO_INTERVAL_S = 30.0
DEMO_ORG_KEY = "org_demo_key"
DEMO_GROUP_BUDGETS = {"Engineering": Decimal(800), "Data Platform": Decimal(400), "Design": Decimal(200)}


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
    from cursor_exporter.export import GROUPS

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
    history.add_argument("--group-by", dest="group_by", type=group_list, help="export: of day,user,model,kind")
    return parser


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _storage_problem(path: Path) -> str | None:
    """Why the ledger cannot be written under ``path`` (e.g. a read-only filesystem), or None."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        return error.strerror or type(error).__name__
    return None


def _serve(settings: Settings) -> int:
    from cursor_exporter.service import Exporter

    teams = settings.team_sources()
    if teams is None:
        log.info("no CURSOR_API_KEY set: starting the demo with simulated data")
        return _demo(settings)
    problem = _storage_problem(settings.storage_path)
    if problem is not None:
        print(f"cursor-exporter: --storage.path {settings.storage_path} is not writable: {problem}", file=sys.stderr)
        return 2
    try:
        exporter = Exporter(settings, teams)
    except OSError as error:
        print(f"cursor-exporter: cannot listen on {settings.web_listen_address}: {error.strerror}", file=sys.stderr)
        return 1
    exporter.run_until_signalled()
    return 0


def _demo(settings: Settings) -> int:
    from cursor_exporter.service import Exporter
    from cursor_exporter.simulator import SimClock, Simulator, SimulatorConfig

    # Every feature on, so that every dashboard panel has data: Enterprise (groups, AI code tracking),
    # an organization with a pooled budget, a seat price and budgets.
    sim = Simulator(
        SimulatorConfig(seed=42, enterprise=True, org_api_key=DEMO_ORG_KEY), clock=SimClock(speed=DEMO_SPEED)
    )
    server = sim.serve(host="127.0.0.1", port=0)
    storage = Path(tempfile.mkdtemp(prefix="cursor-exporter-demo-"))
    demo_settings = settings.model_copy(
        update={
            "storage_path": storage,
            "sync_usage_interval": DEMO_INTERVAL_S,
            "sync_spend_interval": DEMO_INTERVAL_S,
            "sync_members_interval": DEMO_INTERVAL_S,
            "sync_groups_interval": DEMO_INTERVAL_S,
            "sync_activity_interval": DEMO_INTERVAL_S,
            "sync_ai_code_interval": DEMO_INTERVAL_S,
            "sync_org_interval": DEMO_INTERVAL_S,
            "sync_org_usage_interval": DEMO_INTERVAL_S,
            "org_api_key": SecretStr(DEMO_ORG_KEY),
            "org_id": sim.config.organization_id,
            "billing_seat_price_usd": settings.billing_seat_price_usd or Decimal(40),
            "budget_team_monthly_usd": settings.budget_team_monthly_usd or Decimal(1500),
            "budget_user_default_usd": settings.budget_user_default_usd or Decimal(100),
            "budget_groups": settings.budget_groups or DEMO_GROUP_BUDGETS,
        }
    )
    try:
        exporter = Exporter(
            demo_settings, [TeamSource(None, server.url, sim.config.api_key)], clock_ms=sim.clock.now_ms
        )
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
    org_key = settings.resolve_org_api_key()
    if org_key is None:
        return 0
    org_client = CursorClient(settings.api_url, org_key, timeout=settings.api_timeout, max_retries=1)
    try:
        pool = org_client.pooled_usage(settings.org_id)
    except ApiError as error:
        print(f"cursor-exporter: organization check failed: {error}", file=sys.stderr)
        return 1
    finally:
        org_client.close()
    print(f"ok: organization key accepted for {settings.org_id}; {len(pool.teams)} teams in the pool")
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


def _backfill(settings: Settings, args: dict[str, Any]) -> int:
    from cursor_exporter.backfill import Progress, SeedRefused, backfill
    from cursor_exporter.client import ApiError, CursorClient
    from cursor_exporter.labels import LabelPolicy
    from cursor_exporter.ledger import Ledger
    from cursor_exporter.scan import InconsistentWindow
    from cursor_exporter.store import Store
    from cursor_exporter.sync import wall_clock_ms
    from cursor_exporter.windows import HOUR_MS, floor_hour

    key = settings.resolve_api_key()
    if key is None or "range_from" not in args or "output" not in args:
        print("cursor-exporter: backfill needs CURSOR_API_KEY, --from and --output", file=sys.stderr)
        return 2
    fetched_at = wall_clock_ms() - int(settings.sync_end_delay * 1000)
    start = floor_hour(args["range_from"])
    end = floor_hour(min(args.get("range_to", fetched_at), fetched_at))  # whole, past hours only
    if end <= start:
        print("cursor-exporter: backfill needs --from at least an hour before --to and now", file=sys.stderr)
        return 2
    client = CursorClient(
        settings.api_url,
        key,
        rate_limit_share=settings.api_rate_limit_share,
        timeout=settings.api_timeout,
        max_retries=settings.api_max_retries,
    )
    store = Store(settings.storage_path) if args.get("seed_ledger") else None
    labels = LabelPolicy(settings.metrics_user_label, settings.resolve_user_hash_key(), settings.resolve_model_map())
    try:
        result = backfill(
            client,
            start,
            end,
            args["output"],
            labels,
            Progress(sys.stderr, (end - start) // HOUR_MS),
            seed=None if store is None else Ledger(store),
            fetched_at_ms=fetched_at,
            lookback_ms=int(settings.sync_settle_lookback * 1000),
        )
    except SeedRefused:
        print(
            f"cursor-exporter: --seed-ledger: {store.path} already holds usage; seed only before the exporter's "
            "first start (see README, Backfill)",
            file=sys.stderr,
        )
        return 2
    except (ApiError, InconsistentWindow) as error:
        print(f"cursor-exporter: backfill failed: {error or 'a window kept changing while paged'}", file=sys.stderr)
        return 1
    finally:
        client.close()
        if store is not None:
            store.close()
    print(
        f"wrote {args['output']}: {result.windows} windows, {result.events} events, {result.series} series, "
        f"{result.samples} samples; load it with: promtool tsdb create-blocks-from openmetrics {args['output']} "
        "<prometheus data dir>"
    )
    return 0


def _export(settings: Settings, args: dict[str, Any]) -> int:
    from cursor_exporter.export import usage_rows, write_rows
    from cursor_exporter.ledger import Ledger
    from cursor_exporter.store import DB_FILENAME, Store

    if not (settings.storage_path / DB_FILENAME).is_file():
        print(f"cursor-exporter: export: no ledger in {settings.storage_path} (see --storage.path)", file=sys.stderr)
        return 2
    group_by = args.get("group_by", ("day",))
    store = Store(settings.storage_path)
    try:
        rows = usage_rows(Ledger(store), args.get("range_from", 0), args.get("range_to"), group_by)
    finally:
        store.close()
    output_format = args.get("export_format", "csv")
    if "output" not in args:
        write_rows(rows, group_by, output_format, sys.stdout)
        return 0
    with args["output"].open("w", newline="") as stream:
        write_rows(rows, group_by, output_format, stream)
    return 0


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
        return _simulate(simulator_args)
    if command == "check":
        return _check(settings)
    if command == "demo":
        return _demo(settings)
    if command == "backfill":
        return _backfill(settings, history_args)
    if command == "export":
        return _export(settings, history_args)
    return _serve(settings)


if __name__ == "__main__":
    sys.exit(main())
