"""The ``backfill`` command: usage history from the Cursor API as OpenMetrics for promtool.

History is fetched in windows of at most 30 days (the longest range /teams/filtered-usage-events
accepts) through the same rate-limited client and consistency-checked scanner as the live sync,
aggregated per hour by the ledger's own :func:`~cursor_exporter.ledger.usage.aggregate`, and rendered
by the live usage source, so the file has exactly the series and labels ``/metrics`` has. ``--org``
reads the organization's events through the organization key into the organization ledger's families.

Continuity rule. A usage counter at instant T is the usage from an origin up to T, plus every
downward revision seen since. The file's origin is ``--from``: it has a sample at every hour
boundary from ``--from`` (all zero) to ``--to``, each the exact sum of the events before it. The
live exporter's origin is its ledger's first hour. ``--seed-ledger`` writes the same windows into
the ledger before the exporter's first start, so both share the origin ``--from`` and the live
counter at T is the file's value at ``--to`` plus the usage in [``--to``, T) plus later downward
revisions: one counter that never decreases. Seeding a ledger that already holds usage is refused:
it would raise counters Prometheus has already recorded, which rate() shows as a false spike.
Without seeding, end ``--to`` at the live ledger's first hour; the live series then starts lower,
which Prometheus reads as a counter reset, so increase() across the boundary stays right.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from prometheus_client.utils import floatToGoString

from cursor_exporter.api.client import ApiError
from cursor_exporter.commands.config import ConfigError, Settings
from cursor_exporter.commands.serve import api_client, storage_problem
from cursor_exporter.ledger.lock import LedgerLock
from cursor_exporter.ledger.rollup import UsageRollup
from cursor_exporter.ledger.scan import InconsistentWindow, WindowScanner
from cursor_exporter.ledger.store import Store
from cursor_exporter.ledger.tally import EMPTY, Tally, UsageKey, WindowAggregate, add, by_hour
from cursor_exporter.ledger.usage import Ledger
from cursor_exporter.ledger.windows import first_unsettled_hour, plan_windows
from cursor_exporter.sources import FAMILY_BY_NAME
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.sources.org_usage import ORG_EVENTS, ORG_FAMILIES
from cursor_exporter.sources.usage import TEAM_EVENTS, TEAM_FAMILIES
from cursor_exporter.sources.usage_ledger import LedgerFamilies, LedgerPart, render_ledger
from cursor_exporter.timegrid import HOUR_MS, floor_hour, wall_clock_ms

MAX_WINDOW_HOURS = 30 * 24
BAR_WIDTH = 30


class SeedRefused(Exception):
    """The ledger already holds usage, so seeding it would make live counters jump."""


@dataclass(frozen=True)
class BackfillResult:
    """What a backfill fetched and wrote."""

    windows: int
    events: int
    series: int
    samples: int


def render_bar(fraction: float, elapsed_s: float, detail: str) -> str:
    """One line of the progress bar: bar, percentage, detail and the estimated time left."""
    filled = int(fraction * BAR_WIDTH)
    eta = _duration(elapsed_s * (1 - fraction) / fraction) if fraction > 0 else "?"
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction:4.0%} {detail} ETA {eta}"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%MZ")


class Progress:
    """A bar with ETA redrawn in place on a terminal; one plain line per window otherwise."""

    def __init__(self, stream: TextIO, total_hours: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._total_hours = total_hours
        self._clock = clock
        self._started = clock()
        self._done_hours = 0

    def page(self, window_hours: int, received: int, total: int) -> None:
        """After each page: redraw the bar (terminal only)."""
        if not self._tty:
            return
        hours = self._done_hours + window_hours * (received / total if total else 1)
        detail = f"{hours:.0f}/{self._total_hours} h, {received}/{total} events of this window"
        self._stream.write("\r" + render_bar(hours / self._total_hours, self._clock() - self._started, detail))
        self._stream.flush()

    def window_done(self, index: int, count: int, start_ms: int, end_ms: int, events: int) -> None:
        """After each window: a plain line (not on a terminal, where the bar says it)."""
        self._done_hours += (end_ms + 1 - start_ms + HOUR_MS - 1) // HOUR_MS
        if not self._tty:
            self._stream.write(f"window {index}/{count} {_utc(start_ms)}..{_utc(end_ms + 1)}: {events} events\n")
        elif index == count:
            self._stream.write("\n")
        self._stream.flush()


def fetch_history(
    scanner: WindowScanner,
    start_ms: int,
    end_ms: int,
    progress: Progress,
    *,
    seed: Ledger | None = None,
    fetched_at_ms: int = 0,
    lookback_ms: int = 0,
    window_hours: int = MAX_WINDOW_HOURS,
    by_team: bool = False,
) -> tuple[dict[int, dict[UsageKey, Tally]], int, int]:
    """Usage per hour in [start_ms, end_ms) (whole hours), the number of windows and of events.

    With ``seed`` every window is also stored in that ledger exactly as the live sync stores it.
    """
    if seed is not None and seed.has_data:
        raise SeedRefused("the ledger already holds usage")
    windows = plan_windows(start_ms, end_ms - 1, {}, lookback_ms, window_hours)
    hours: dict[int, dict[UsageKey, Tally]] = {}
    events_total = 0
    for index, window in enumerate(windows, 1):
        window_hours_count = len(window.hours)
        events = scanner.scan_consistently(
            window,
            seed.new_aggregate if seed is not None else partial(WindowAggregate, by_team),
            on_page=lambda received, total, n=window_hours_count: progress.page(n, received, total),
        )
        for (hour, key), tally in by_hour(events.tallies()).items():
            hours.setdefault(hour, {})[key] = tally
        if seed is not None:
            seed.replace_window(window, events, fetched_at_ms=fetched_at_ms)
        events_total += events.events
        progress.window_done(index, len(windows), window.start_ms, window.end_ms, events.events)
    if seed is not None:
        # The live sync continues from the oldest hour the seed left unsettled (or from --to).
        unsettled = first_unsettled_hour(start_ms, fetched_at_ms, seed.bucket_states(start_ms), lookback_ms)
        seed.set_planning_start(min(hour for hour in (seed.planning_start(), unsettled) if hour is not None))
    return hours, len(windows), events_total


Series = dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], list[float]]]


def cumulative_series(
    hours: dict[int, dict[UsageKey, Tally]],
    start_ms: int,
    end_ms: int,
    labels: LabelPolicy,
    families: LedgerFamilies = TEAM_FAMILIES,
) -> Series:
    """The usage source's counter series with their value at every hour boundary from start_ms to end_ms.

    Keyed by family (its Prometheus name without ``_total``), then by (sample name, label pairs). The
    value at boundary T is the exact cumulative usage of [start_ms, T), converted once.
    """
    running: dict[UsageKey, Tally] = {}
    series: Series = {}
    for index, boundary in enumerate(range(start_ms, end_ms + 1, HOUR_MS)):
        changed = hours.get(boundary - HOUR_MS, {}) if index else {}
        if index == 0 or changed:
            for key, tally in changed.items():
                running[key] = add(running.get(key, EMPTY), tally)
            for metric in render_ledger(LedgerPart(UsageRollup.of_series(running), None, 0), labels, families):
                if metric.type != "counter":
                    continue  # gauges of the current cycle have no history
                family = series.setdefault(metric.name, {})
                for sample in metric.samples:
                    family.setdefault((sample.name, tuple(sample.labels.items())), [0] * index).append(sample.value)
        for family in series.values():
            for points in family.values():
                if len(points) == index:  # no event in the last hour: the counter stands still
                    points.append(points[-1])
    return series


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def write_openmetrics(families: Series, start_ms: int, stream: TextIO) -> int:
    """Write the series as OpenMetrics, one sample per hour boundary in seconds; returns the sample count.

    Written line by line: prometheus_client's renderer needs a minute for a million timestamped samples.
    """
    samples = 0
    for name, series in families.items():
        stream.write(f"# HELP {name} {_escape(FAMILY_BY_NAME[f'{name}_total'].help)}\n# TYPE {name} counter\n")
        for (sample_name, label_pairs), points in sorted(series.items()):
            label_text = ",".join(f'{label}="{_escape(value)}"' for label, value in label_pairs)
            prefix = f"{sample_name}{{{label_text}}} " if label_text else f"{sample_name} "
            stream.writelines(
                f"{prefix}{floatToGoString(value)} {(start_ms + index * HOUR_MS) // 1000}\n"
                for index, value in enumerate(points)
            )
            samples += len(points)
    stream.write("# EOF\n")
    return samples


def backfill(
    scanner: WindowScanner,
    start_ms: int,
    end_ms: int,
    output: Path,
    labels: LabelPolicy,
    progress: Progress,
    families: LedgerFamilies = TEAM_FAMILIES,
    **fetch_options,
) -> BackfillResult:
    """Fetch [start_ms, end_ms) and write it to ``output`` as OpenMetrics with hourly timestamps."""
    hours, windows, events = fetch_history(
        scanner, start_ms, end_ms, progress, by_team=families.by_team, **fetch_options
    )
    series = cumulative_series(hours, start_ms, end_ms, labels, families)
    with output.open("w") as stream:
        samples = write_openmetrics(series, start_ms, stream)
    return BackfillResult(windows, events, sum(len(points) for points in series.values()), samples)


def output_problem(output: Path) -> str | None:
    """Why ``output`` cannot be written, or None; nothing is created."""
    if not output.parent.is_dir():
        return f"--output {output}: no such directory {output.parent}"
    target = output if output.exists() else output.parent
    if output.is_dir() or not os.access(target, os.W_OK):
        return f"--output {output}: not a writable file"
    return None


def run_backfill(settings: Settings, args: dict[str, Any]) -> int:
    """The ``backfill`` command: exit 0 with the file written, 1 when Cursor fails, 2 on bad arguments."""
    organization = bool(args.get("organization"))
    team = args.get("team")
    try:
        directory = settings.ledger_directory(team, organization)
        source = settings.team_source(team)
        key = settings.resolve_org_api_key() if organization else (source.api_key if source else None)
    except ConfigError as error:
        print(f"cursor-exporter: {error}", file=sys.stderr)
        return 2
    if key is None or "range_from" not in args or "output" not in args:
        needs = "an organization key and --org.id" if organization else "CURSOR_API_KEY"
        print(f"cursor-exporter: backfill needs {needs}, --from and --output", file=sys.stderr)
        return 2
    fetched_at = wall_clock_ms() - int(settings.sync_end_delay * 1000)
    start = floor_hour(args["range_from"])
    end = floor_hour(min(args.get("range_to", fetched_at), fetched_at))  # whole, past hours only
    if end <= start:
        print("cursor-exporter: backfill needs --from at least an hour before --to and now", file=sys.stderr)
        return 2
    problem = output_problem(args["output"]) or (storage_problem(directory) if args.get("seed_ledger") else None)
    if problem is not None:  # found before the first request, not after hours of fetching
        print(f"cursor-exporter: {problem}", file=sys.stderr)
        return 2
    lock = LedgerLock(directory) if args.get("seed_ledger") else None  # a LedgerError when serve holds it
    store = None if lock is None else Store(directory)
    client = api_client(settings, source.api_url if source else settings.api_url, key)
    if organization:
        scanner = WindowScanner(client, ORG_EVENTS, {"organizationId": settings.org_id or ""})
    else:
        scanner = WindowScanner(client, TEAM_EVENTS)
    labels = LabelPolicy(settings.metrics_user_label, settings.resolve_user_hash_key(), settings.resolve_model_map())
    try:
        result = backfill(
            scanner,
            start,
            end,
            args["output"],
            labels,
            Progress(sys.stderr, (end - start) // HOUR_MS),
            ORG_FAMILIES if organization else TEAM_FAMILIES,
            seed=None if store is None else Ledger(store, by_team=organization),
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
        if lock is not None:
            lock.release()
    print(
        f"wrote {args['output']}: {result.windows} windows, {result.events} events, {result.series} series, "
        f"{result.samples} samples; load it with: promtool tsdb create-blocks-from openmetrics {args['output']} "
        "<prometheus data dir>"
    )
    return 0
