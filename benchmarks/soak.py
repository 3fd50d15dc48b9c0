"""Soak: 30 simulated days of a real exporter against the simulator on an accelerated clock.

The simulator runs in its own process with its clock ``--speed`` times faster than real time; the
exporter runs in another (this script with ``--child``), on a clock read once from the simulator's
``/_sim/clock`` and advancing at the same speed, syncing every collector every few simulated hours.
Every ``--sample-s`` real seconds the parent reads the exporter's resident memory, peak memory, open
files and threads from ``/proc`` and the ledger's size on disk; at the end it prints the table and
whether each figure stayed bounded (the last third of the run grew less than a tolerance over the
middle third), and with ``--write`` adds it to ``docs/reliability.md``.

Run: ``.venv/bin/python benchmarks/soak.py`` (about 16 minutes); ``--quick`` runs 2 simulated days.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cursor_exporter.timegrid import DAY_MS

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "crsr_soak_key"
DOC = ROOT / "docs" / "reliability.md"
SECTION = "## Soak"


def child(url: str, speed: float, storage: Path, port: int, interval_s: float) -> None:
    """The exporter, on the simulator's accelerated clock."""
    from cursor_exporter.commands.config import TeamSource, load_settings
    from cursor_exporter.commands.serve import build_exporter
    from cursor_exporter.simulator import SimClock
    from cursor_exporter.sources import POLLING

    with urllib.request.urlopen(f"{url}/_sim/clock") as answer:
        clock = SimClock(start_ms=json.load(answer)["now"], speed=speed)
    settings = load_settings({"storage_path": storage, "web_listen_address": f"127.0.0.1:{port}"})
    # Below the allowed minimum on purpose: one real interval is several simulated hours here.
    settings = settings.model_copy(update={f"sync_{name}_interval": interval_s for name in POLLING})
    exporter = build_exporter(settings, [TeamSource(None, url, API_KEY)], clock_ms=clock.now_ms)
    if exporter is None:
        sys.exit(1)
    exporter.run_until_signalled()


def proc_figures(pid: int) -> dict[str, float]:
    """Resident and peak memory (MB), open files and threads of a process."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {
        "rss_mb": int(status["VmRSS"].split()[0]) / 1024,
        "peak_mb": int(status["VmHWM"].split()[0]) / 1024,
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(status["Threads"]),
    }


def disk_mb(storage: Path) -> float:
    return sum(path.stat().st_size for path in storage.rglob("*") if path.is_file()) / 2**20


def wait_for(url: str, guard_s: float = 120) -> None:
    deadline = time.monotonic() + guard_s  # a hang guard, not a timing assertion
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(days: float, speed: float, interval_s: float, sample_s: float, users: int) -> list[dict[str, float]]:
    sim_port, port = free_port(), free_port()
    url = f"http://127.0.0.1:{sim_port}"
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="soak-") as directory:
        storage = Path(directory)
        simulator_argv = [python, "-m", "cursor_exporter.simulator", "--port", str(sim_port), "--speed", str(speed)]
        simulator = subprocess.Popen(
            [*simulator_argv, "--users", str(users), "--api-key", API_KEY],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        exporter = None
        try:
            wait_for(f"{url}/_sim/clock")
            child_argv = [python, __file__, "--child", url, "--speed", str(speed), "--storage", str(storage)]
            exporter = subprocess.Popen(
                [*child_argv, "--port", str(port), "--interval-s", str(interval_s)],
                cwd=ROOT,
            )
            wait_for(f"http://127.0.0.1:{port}/-/healthy")
            started = time.monotonic()
            samples = []
            while (elapsed := time.monotonic() - started) * speed * 1000 < days * DAY_MS:
                time.sleep(sample_s)
                figures = proc_figures(exporter.pid) | {"db_mb": disk_mb(storage)}
                samples.append({"day": (time.monotonic() - started) * speed * 1000 / DAY_MS, **figures})
                print(" ".join(f"{k}={v:.1f}" for k, v in samples[-1].items()), flush=True)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as answer:
                failures = [
                    line
                    for line in answer.read().decode().splitlines()
                    if line.startswith("cursor_exporter_collector_success") and line.endswith(" 0.0")
                ]
            if failures:
                print("failing collectors at the end:", *failures, sep="\n  ")
            del elapsed
            return samples
        finally:
            for process in (exporter, simulator):
                if process is not None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(timeout=60)


def bounded(samples: list[dict[str, float]], key: str, tolerance: float) -> bool:
    """Whether ``key`` grew by less than ``tolerance`` (relative) from the middle third to the last."""
    third = max(len(samples) // 3, 1)
    middle = max(sample[key] for sample in samples[third : 2 * third] or samples)
    last = max(sample[key] for sample in samples[2 * third :])
    return last <= middle * (1 + tolerance) + 1


def report(samples: list[dict[str, float]], command: str) -> str:
    first, last = samples[0], samples[-1]
    rows = [
        ("Resident memory (MB)", "rss_mb", 0.10),
        ("Peak resident memory (MB)", "peak_mb", 0.10),
        ("Open files", "fds", 0.0),
        ("Threads", "threads", 0.0),
    ]
    lines = [
        SECTION,
        "",
        f"`{command}`: {last['day']:.1f} simulated days, sampled {len(samples)} times.",
        "",
        "| Figure | First sample | Last sample | Bounded |",
        "|---|---:|---:|---|",
    ]
    for label, key, tolerance in rows:
        verdict = "yes" if bounded(samples, key, tolerance) else "**no**"
        lines.append(f"| {label} | {first[key]:.1f} | {last[key]:.1f} | {verdict} |")
    middle = samples[len(samples) // 3]  # after the first start's backfill of the cycle so far
    per_day = (last["db_mb"] - middle["db_mb"]) / max(last["day"] - middle["day"], 1e-9)
    lines.append(f"| Ledger on disk (MB) | {first['db_mb']:.2f} | {last['db_mb']:.2f} | {per_day:.3f} MB/day |")
    lines += [
        "",
        "The ledger grows with history (settled hours are kept for `export`) until `--storage.retention`;",
        "memory, files and threads do not grow with it.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    current = DOC.read_text() if DOC.exists() else "# Reliability\n\n"
    if SECTION in current:
        before, _, after = current.partition(SECTION)
        rest = after.split("\n## ", 1)
        current = before + (("## " + rest[1]) if len(rest) > 1 else "")
    DOC.write_text(current.rstrip("\n") + "\n\n" + text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 simulated days, for CI")
    parser.add_argument("--write", action="store_true", help=f"write the figures into {DOC.relative_to(ROOT)}")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--speed", type=float, default=2880.0, help="simulated seconds per real second")
    parser.add_argument("--storage", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--interval-s", type=float, default=5.0, help="real seconds between syncs")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.speed, args.storage, args.port, args.interval_s)
        return 0
    days = 2.0 if args.quick else 30.0
    samples = run(days, args.speed, args.interval_s, sample_s=2.0 if args.quick else 15.0, users=25)
    text = report(samples, "python benchmarks/soak.py" + (" --quick" if args.quick else ""))
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
