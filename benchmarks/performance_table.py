"""The performance table: sizes of each row, one result per figure, and ``docs/performance.md``."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

COMMAND = ".venv/bin/python benchmarks/performance.py"


@dataclass(frozen=True)
class Sizes:
    """How big each row is: the full run's defaults, or :meth:`quick`'s small ones."""

    quick_run: bool = False
    scrape_users: tuple[int, ...] = (13_800, 138_000)  # ~100k and ~1M series
    baseline_rounds: int = 5
    scrape_rounds: int = 15
    api_users: int = 500
    api_days: int = 10
    ingest_users: int = 2_000
    ingest_rounds: int = 3
    cold_users: tuple[int, ...] = (1_000, 10_000)
    cold_events_per_day: int = 30
    cold_days: int = 10
    rate_speedup: float = 20.0  # rate limits on a clock this much faster, on both sides
    memory_profile_s: float = 240.0  # how long a missed RSS goal's traced exporter runs
    rss_series: tuple[int, ...] = (100_000, 1_000_000)
    load_series: int = 100_000
    load_scrapers: int = 10
    load_phase_s: float = 15.0
    load_rounds: int = 3
    render_users: int = 13_800

    @classmethod
    def quick(cls) -> Sizes:
        """Every row end to end in seconds: CI checks that the benchmark runs, not how fast."""
        return cls(
            quick_run=True,
            scrape_users=(400,),  # build_snapshot needs a user per (model, kind, max mode)
            baseline_rounds=2,
            scrape_rounds=3,
            api_users=20,
            api_days=2,
            ingest_users=50,
            ingest_rounds=1,
            cold_users=(50,),
            cold_days=2,
            load_series=5_000,
            rss_series=(5_000,),
            load_scrapers=4,
            load_phase_s=1.0,
            load_rounds=1,
            render_users=400,
        )


@dataclass(frozen=True)
class Result:
    """One figure of the table: what it is compared with, what it measured, and whether it met its goal."""

    figure: str
    baseline: str
    measured: str
    goal: str
    met: bool
    detail: str
    profile: list[str] = field(default_factory=list)  # where the time or memory goes, for a missed goal
    gap: str | None = None

    def line(self) -> str:
        """The result as one line of the printed table."""
        mark = "met" if self.met else "MISSED"
        return f"{self.figure:<58} | {self.baseline:<42} | {self.measured:<48} | {self.goal:<24} | {mark}"


def ratio_text(ratio: float) -> str:
    """A ratio as a fraction below 1 (``1/153``), a multiple above (``2.40x``)."""
    return f"1/{1 / ratio:,.0f}" if 0 < ratio < 1 else f"{ratio:.2f}x"


def write_doc(path: Path, results: list[Result], sizes: Sizes, elapsed_s: float, day: dt.date) -> None:
    """``docs/performance.md``: the table, how it was measured, and for each missed goal its gap and profile."""
    lines = [
        "# Performance",
        "",
        f"Measured with `{COMMAND}` on {day.isoformat()}: {os.cpu_count()} cores"
        f" ({platform.processor() or platform.machine()}), Python {sys.version.split()[0]},"
        f" {platform.system()} {platform.release()}; the run took {elapsed_s / 60:.0f} minutes."
        " Other work shared the machine, so each figure is a ratio against a baseline measured in the same"
        " process or run; medians, with the best round in brackets. `--quick` runs every row at small sizes"
        " (CI runs it with `--no-write`, to check that the benchmark works, not how fast).",
        "",
        "| Figure | Baseline | Measured | Goal | |",
        "|---|---|---|---|---|",
        *(
            f"| {r.figure} | {r.baseline} | {r.measured} | {r.goal} | {'met' if r.met else '**missed**'} |"
            for r in results
        ),
        "",
        "## How each figure was measured",
        "",
        *(f"* **{r.figure}**: {r.detail}." for r in results),
        "",
    ]
    missed = [r for r in results if not r.met]
    if missed:
        lines += ["## Missed goals: the gap and where it goes", ""]
        for result in missed:
            lines += [f"### {result.figure}", "", f"Gap: {result.gap}.", ""]
            lines += [f"* {frame}" for frame in result.profile] + [""]
    path.write_text("\n".join(lines))
