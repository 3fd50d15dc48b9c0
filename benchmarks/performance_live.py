"""The performance table's live rows: processes as in production, measured from outside.

* **Cold start and peak RSS**: a simulator process (``python -m cursor_exporter.simulator``) and the
  ``cursor-exporter serve`` command in a process of its own, default settings, an empty ledger. Wall time
  from the exporter's start until its first usage sync succeeded (the backfill is caught up), against
  the rate-limit bound: the slowest endpoint's fewest pages over its allowed rate. Cursor's limits are
  per minute, which would make a 10k-seat backfill take hours, so both sides count them on a clock
  ``Sizes.rate_speedup`` times faster: the simulator with ``--rate-limit-period``, the exporter with
  the ``Exporter``'s ``rate_limit_period`` (the one change to ``serve``, made in its process by
  :func:`serve_child`). The simulator generates every event the exporter will read (the cycle's, and
  the 28 days activity reaches back) before the exporter starts, so the row times the exporter and the
  simulator's serving, not its generator. Peak RSS is the exporter's
  ``VmHWM`` in ``/proc``. A missed goal is profiled with py-spy attached to both processes, a missed
  RSS goal with tracemalloc in a second exporter against the same simulator.
* **Scrape p99 while a sync renders**: ``benchmarks/load.py``'s scrapers against a child process serving
  its 100k series, once idle and once while a thread renders them again and again.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from load import families, run_phase
from performance_table import Result, Sizes

from cursor_exporter.ledger.scan import EVENTS_PAGE_SIZE
from cursor_exporter.ledger.windows import plan_windows
from cursor_exporter.output.exposition import ExpositionCache, render
from cursor_exporter.output.web import MetricsServer
from cursor_exporter.sources.activity import ACTIVE_WINDOWS_DAYS
from cursor_exporter.sources.spend import SPEND_PAGE_SIZE, TEAM_SPEND
from cursor_exporter.sources.usage import TEAM_EVENTS
from cursor_exporter.timegrid import DAY_MS, HOUR_MS, floor_hour

API_KEY = "crsr_test_key"
RSS_GOAL_MB = 150
SERVING_GOAL_MB = 1024
DEFAULT_SHARE = 0.5  # --api.rate-limit-share's default
DEFAULT_LOOKBACK_MS = 48 * HOUR_MS
DEFAULT_END_DELAY_MS = 60_000
HANG_GUARD_S = 3600
PY_SPY = Path(sys.executable).with_name("py-spy")
TRACE_MEMORY_TO = "CURSOR_EXPORTER_TRACE_MEMORY_TO"  # the benchmark's own switch, read by serve_child


def _status_kb(pid: int, field: str) -> int:
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith(field))
    return int(line.split()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_child(rate_limit_period: float, argv: list[str]) -> int:
    """``cursor-exporter serve`` with every rate limit counted over ``rate_limit_period`` seconds; with
    ``TRACE_MEMORY_TO`` in the environment, also :func:`trace_memory` into that file."""
    from cursor_exporter.commands import cli, serve

    if os.environ.get(TRACE_MEMORY_TO):
        trace_memory(Path(os.environ[TRACE_MEMORY_TO]))

    build = serve.build_exporter
    serve.build_exporter = lambda settings, teams, **options: build(
        settings, teams, rate_limit_period=rate_limit_period, **options
    )
    return cli.main(argv)


def trace_memory(output: Path, count: int = 8) -> None:
    """Trace this process's allocations and write where the memory was near its traced peak: the lines that
    allocated the most of what was held then, one per line of ``output``, rewritten at each new largest
    snapshot and at exit."""
    tracemalloc.start(1)
    largest: list = [0, None]

    def write() -> None:
        _, peak = tracemalloc.get_traced_memory()
        size, snapshot = largest
        lines = [f"traced peak {peak / 2**20:.0f} MB; held at the largest snapshot ({size / 2**20:.0f} MB):"]
        for stat in snapshot.statistics("lineno")[:count] if snapshot is not None else ():
            frame = stat.traceback[0]
            lines.append(f"{Path(frame.filename).name}:{frame.lineno}: {stat.size / 2**20:.1f} MB")
        output.write_text("\n".join(lines))

    def watch() -> None:  # a snapshot whenever the traced memory grew by a tenth: the last is near the peak
        while True:
            current, _ = tracemalloc.get_traced_memory()
            if current > largest[0] * 1.1:
                largest[:] = [current, tracemalloc.take_snapshot()]
                write()  # now, not only at exit: a stop with a sync in flight leaves through os._exit
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    atexit.register(write)


def _serve(sim_url: str, period: float, storage: Path, port: int, env: dict | None = None) -> subprocess.Popen:
    """An exporter process with default settings against the simulator, its log in ``storage``."""
    return subprocess.Popen(
        [sys.executable, __file__, "--exporter-child", str(period), "serve", f"--api.url={sim_url}",
         f"--storage.path={storage}", f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        env={**os.environ, "CURSOR_API_KEY": API_KEY, **(env or {})}, stderr=(storage / "exporter.log").open("w"),
    )  # fmt: skip


def _memory_profile(sim_url: str, period: float, sizes: Sizes) -> list[str]:
    """Where the exporter's memory goes: a second cold start against the same simulator, traced (tracemalloc
    slows it several times over), stopped once caught up or after ``sizes.memory_profile_s``."""
    storage = Path(tempfile.mkdtemp(prefix="cursor-exporter-perf-traced-"))
    port = _free_port()
    exporter = _serve(sim_url, period, storage, port, {TRACE_MEMORY_TO: str(storage / "memory.txt")})
    deadline = time.monotonic() + sizes.memory_profile_s
    try:
        while time.monotonic() < deadline and exporter.poll() is None and not _usage_synced(f"http://127.0.0.1:{port}"):
            time.sleep(1.0)
    finally:
        exporter.terminate()
        exporter.wait(timeout=HANG_GUARD_S)  # it writes the profile on its way out
    profile = storage / "memory.txt"
    traced = f"tracemalloc on a second exporter, same team, for up to {sizes.memory_profile_s:.0f} s"
    return [traced, *profile.read_text().splitlines()] if profile.exists() else [f"{traced}: no profile written"]


_LAST_SUCCESS = b"\ncursor_exporter_last_success_timestamp_seconds{"


def _usage_synced(url: str) -> bool:
    """True once the exporter reports a usage sync's success. The exposition is searched as bytes: at
    10,000 seats it is 9 MB, and splitting it into lines every half second took a third of a core from the
    two processes the row times."""
    try:
        content = httpx.get(f"{url}/metrics", timeout=30).content
    except httpx.HTTPError:
        return False
    start = content.find(_LAST_SUCCESS)
    while start != -1:
        line = content[start : content.find(b"\n", start + 1)]
        if b'"usage"' in line:
            return float(line.rsplit(b" ", 1)[1]) > 0
        start = content.find(_LAST_SUCCESS, start + 1)
    return False


def _bound_s(sim_url: str, started_ms: int, users: int, days: int, period_s: float) -> tuple[float, str]:
    """The fewest seconds the rate limits allow for the backfill, and which endpoint sets them."""
    cycle_start = started_ms // DAY_MS * DAY_MS - days * DAY_MS
    sync_end = started_ms - DEFAULT_END_DELAY_MS
    pages = 0
    for window in plan_windows(floor_hour(cycle_start), sync_end, {}, DEFAULT_LOOKBACK_MS):
        query = {"startDate": window.start_ms, "endDate": window.end_ms}
        usage = httpx.get(f"{sim_url}/_sim/truth", params=query, timeout=600).json()["usage"]
        pages += max(1, math.ceil(sum(row["events"] for row in usage) / EVENTS_PAGE_SIZE))
    bounds = {
        TEAM_EVENTS.path: (pages, math.floor(TEAM_EVENTS.per_minute * DEFAULT_SHARE)),
        TEAM_SPEND.path: (math.ceil(users / SPEND_PAGE_SIZE), math.floor(TEAM_SPEND.per_minute * DEFAULT_SHARE)),
    }
    path, (count, per_period) = max(bounds.items(), key=lambda item: item[1][0] / item[1][1])
    return count / per_period * period_s, f"{count:,} pages of {path} at {per_period} per {period_s:g} s"


def _py_spy(pid: int, output: Path) -> subprocess.Popen:
    command = [str(PY_SPY), "record", "--pid", str(pid), "--nonblocking", "-r", "50", "-f", "raw", "-o", str(output)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def top_own_frames(raw: Path, count: int = 8) -> list[str]:
    """The functions py-spy most often found running (own samples), from its ``raw`` (collapsed) output."""
    own: Counter[str] = Counter()
    for line in raw.read_text().splitlines() if raw.exists() else []:
        stack, _, samples = line.rpartition(" ")
        leaf = stack.rsplit(";", 1)[-1]
        name, _, where = leaf.partition(" (")
        own[f"{name} ({where.split(':')[0].rsplit('/', 1)[-1]})"] += int(samples)
    total = sum(own.values()) or 1
    return [f"{frame}: {samples / total:.0%} of samples" for frame, samples in own.most_common(count)]


def cold_start_rows(sizes: Sizes) -> list[Result]:
    """Cold start against its rate-limit bound and the exporter's peak RSS, for every team size."""
    return [row for users in sizes.cold_users for row in _cold_start(sizes, users)]


def _cold_start(sizes: Sizes, users: int) -> list[Result]:
    """Cold start against its rate-limit bound, and the exporter's peak RSS, from one live backfill."""
    period = 60 / sizes.rate_speedup
    storage = Path(tempfile.mkdtemp(prefix="cursor-exporter-perf-"))
    sim = subprocess.Popen(
        [sys.executable, "-m", "cursor_exporter.simulator", "--port", "0", "--users", str(users),
         "--events-per-user-per-day", str(sizes.cold_events_per_day), "--cycle-start-days-ago", str(sizes.cold_days),
         "--rate-limit-period", str(period)],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    processes = [sim]
    try:
        sim_url = json.loads(sim.stderr.readline())["url"]
        # Every event the exporter will read generated before the clock starts: the row times the exporter and
        # the simulator's serving, not its generator. Activity reaches back 28 days, before the cycle's start.
        httpx.get(f"{sim_url}/_sim/truth", timeout=HANG_GUARD_S).raise_for_status()
        now_ms = httpx.get(f"{sim_url}/_sim/clock").json()["now"]
        activity_start = now_ms // DAY_MS * DAY_MS - (max(ACTIVE_WINDOWS_DAYS) - 1) * DAY_MS
        daily = httpx.get(f"{sim_url}/_sim/truth/daily", params={"startDate": activity_start}, timeout=HANG_GUARD_S)
        daily.raise_for_status()
        port = _free_port()
        started = time.monotonic()
        started_ms = httpx.get(f"{sim_url}/_sim/clock").json()["now"]
        sim_cpu_before = _cpu_seconds(sim.pid)  # the generation above is not the cold start's
        exporter = _serve(sim_url, period, storage, port)
        processes.append(exporter)
        time.sleep(1.0)
        idle_mb = _status_kb(exporter.pid, "VmRSS:") / 1024
        spies = {} if sizes.quick_run else {p.pid: (_py_spy(p.pid, storage / f"{p.pid}.txt")) for p in processes}
        while not _usage_synced(f"http://127.0.0.1:{port}"):
            if exporter.poll() is not None or time.monotonic() - started > HANG_GUARD_S:
                log = (storage / "exporter.log").read_text()[-2000:]
                raise RuntimeError(f"the exporter stopped, or never caught up; its log ends:\n{log}")
            time.sleep(0.5)
        cold_s = time.monotonic() - started
        peak_mb = _status_kb(exporter.pid, "VmHWM:") / 1024
        cpu = {"exporter": _cpu_seconds(exporter.pid), "simulator": _cpu_seconds(sim.pid) - sim_cpu_before}
        for spy in spies.values():
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=120)
        bound_s, bound_text = _bound_s(sim_url, started_ms, users, sizes.cold_days, period)
        exporter.terminate()
        exporter.wait(timeout=30)
        memory = [] if peak_mb < RSS_GOAL_MB or sizes.quick_run else _memory_profile(sim_url, period, sizes)
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=30)
    ratio = cold_s / bound_s
    team = f"{users:,} seats x {sizes.cold_events_per_day} events/seat/day over a {sizes.cold_days}-day cycle"
    cpu_text = f"CPU meanwhile: exporter {cpu['exporter']:.0f} s, simulator {cpu['simulator']:.0f} s"
    profile = [
        f"{name}: {frame}"
        for name, process in (("exporter", exporter), ("simulator", sim))
        for frame in top_own_frames(storage / f"{process.pid}.txt", 6)
    ]
    cold = Result(
        f"Cold start vs the rate-limit bound, {users:,} seats",
        f"bound {bound_s:.0f} s ({bound_text})",
        f"{cold_s:.0f} s = {ratio:.2f}x",
        "<= 1.1x",
        ratio <= 1.1,
        f"{team}; rate limits {sizes.rate_speedup:g}x faster on both sides (Cursor's own pace is 1x); wall time"
        f" from the exporter's start to its first usage sync's success; {cpu_text}; at this CPU the exporter"
        f" would keep pace with limits up to {sizes.rate_speedup * bound_s / cpu['exporter']:.0f}x faster",
        [cpu_text, *profile],
        gap=None
        if ratio <= 1.1
        else f"{ratio:.2f}x the bound instead of 1.1x: {cold_s - 1.1 * bound_s:.0f} s too long",
    )
    rss = Result(
        f"Peak RSS, {users:,} seats, default settings",
        f"{idle_mb:.0f} MB a second after start",
        f"{peak_mb:.0f} MB",
        f"< {RSS_GOAL_MB} MB",
        peak_mb < RSS_GOAL_MB,
        "VmHWM of the exporter at the end of the cold start above, same team",
        memory,
        gap=None if peak_mb < RSS_GOAL_MB else f"{peak_mb - RSS_GOAL_MB:.0f} MB over",
    )
    return [cold, rss]


def serving_rss_rows(sizes: Sizes) -> list[Result]:
    """Peak RSS of a process that builds, renders and serves ``series`` series (``load.py``'s families)."""
    rows = []
    for series in sizes.rss_series:
        child = subprocess.Popen(
            [sys.executable, __file__, "--load-child", str(series)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            port = int(child.stdout.readline())  # the series are built, rendered and served
            for encoding in ("identity", "gzip"):
                headers = {"Accept-Encoding": encoding}
                httpx.get(f"http://127.0.0.1:{port}/metrics", headers=headers, timeout=HANG_GUARD_S)
            peak_mb = _status_kb(child.pid, "VmHWM:") / 1024
        finally:
            child.stdin.close()
            child.wait(timeout=60)
        rows.append(
            Result(
                f"Peak RSS serving {series:,} series",
                "-",
                f"{peak_mb:.0f} MB",
                f"< {SERVING_GOAL_MB:,} MB",
                peak_mb < SERVING_GOAL_MB,
                "VmHWM of a process holding the families, their rendered bytes in both formats (plain and"
                " gzipped) and serving them (benchmarks/load.py's per-user families)",
                gap=None if peak_mb < SERVING_GOAL_MB else f"{peak_mb - SERVING_GOAL_MB:.0f} MB over",
            )
        )
    return rows


def load_child(series: int) -> None:
    """Serve ``series`` (``load.py``'s families); ``render`` and ``idle`` on stdin start and stop a sync's
    renders, the end of stdin stops."""
    metrics = families(series)
    cache = ExpositionCache()
    cache.publish(render(metrics), b"<html>load</html>", ready=True)
    server = MetricsServer("127.0.0.1", 0, cache, "/metrics")
    server.start()
    print(server.server_address[1], flush=True)
    rendering = threading.Event()

    def sync() -> None:
        while True:
            rendering.wait()
            cache.publish(render(metrics), b"<html>load</html>", ready=True)

    threading.Thread(target=sync, daemon=True).start()
    for command in sys.stdin:
        (rendering.set if command.strip() == "render" else rendering.clear)()
    server.shutdown()
    server.server_close()


def _p99(seconds: list[float]) -> float:
    return statistics.quantiles(seconds, n=100)[98]


def scrape_under_render_row(sizes: Sizes) -> Result:
    """Scrape p99 of ``load_scrapers`` scrapers, on kept-alive and on fresh connections, while a sync renders,
    against idle, per round; a missed goal is profiled with py-spy on the serving process."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--load-child", str(sizes.load_series)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    p99s: dict[tuple[str, str], list[float]] = {(mode, phase): [] for mode in _MODES for phase in ("idle", "render")}
    profile: list[str] = []
    try:
        port = int(child.stdout.readline())
        for _ in range(sizes.load_rounds):
            for mode, keep_alive in _MODES.items():
                for phase in ("idle", "render"):
                    p99s[mode, phase].append(_p99(_scrape_phase(child, port, sizes, phase, keep_alive)))
        ratios = {
            mode: [b / i for b, i in zip(p99s[mode, "render"], p99s[mode, "idle"], strict=True)] for mode in _MODES
        }
        worst = max(_MODES, key=lambda mode: statistics.median(ratios[mode]))
        ratio = statistics.median(ratios[worst])
        if ratio > 3 and not sizes.quick_run:
            profile = _profile_scrapes_under_render(child, port, sizes)
    finally:
        child.stdin.close()
        child.wait(timeout=60)
    observed = "; ".join(
        f"{mode} {statistics.median(p99s[mode, 'render']) * 1000:.1f} ms = {statistics.median(ratios[mode]):.2f}x"
        for mode in _MODES
    )
    return Result(
        f"Scrape p99 while a sync renders, {sizes.load_scrapers} scrapers, {sizes.load_series:,} series",
        "idle p99 " + ", ".join(f"{mode} {statistics.median(p99s[mode, 'idle']) * 1000:.1f} ms" for mode in _MODES),
        observed,
        "<= 3x",
        ratio <= 3,
        f"benchmarks/load.py's scrapers (gzipped OpenMetrics), kept-alive and on fresh connections, against a child"
        f" process, {sizes.load_rounds} rounds of {sizes.load_phase_s:g} s idle then {sizes.load_phase_s:g} s with a"
        " thread rendering the series again and again; the worse of the two ratios counts",
        profile,
        gap=None if ratio <= 3 else f"{worst} {ratio:.2f}x instead of 3x",
    )


_MODES = {"keep-alive": True, "fresh": False}


def _scrape_phase(child: subprocess.Popen, port: int, sizes: Sizes, phase: str, keep_alive: bool) -> list[float]:
    """The scrapes' durations over one phase, with the child rendering (``render``) or not (``idle``)."""
    child.stdin.write(f"{phase}\n")
    child.stdin.flush()
    tally = run_phase(port, sizes.load_scrapers, sizes.load_phase_s, keep_alive=keep_alive)
    if tally.errors:
        raise RuntimeError(f"{tally.errors} scrapes failed")
    return tally.seconds


def _profile_scrapes_under_render(child: subprocess.Popen, port: int, sizes: Sizes) -> list[str]:
    """py-spy on the serving process over one more render phase of fresh scrapes (not a measured one)."""
    with tempfile.TemporaryDirectory(prefix="cursor-exporter-perf-spy-") as directory:
        raw = Path(directory) / "serving.txt"
        spy = _py_spy(child.pid, raw)
        _scrape_phase(child, port, sizes, "render", keep_alive=False)
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=120)
        return [f"serving process: {frame}" for frame in top_own_frames(raw, 8)]


if __name__ == "__main__":
    if sys.argv[1] == "--exporter-child":
        sys.exit(serve_child(float(sys.argv[2]), sys.argv[3:]))
    load_child(int(sys.argv[2]))
