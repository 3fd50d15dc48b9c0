"""The simulator: a synthetic team on a simulated clock behind a fake Cursor Admin API.

``World`` holds the team and the API's state and derives what the routes serve;
``Simulator`` adds the HTTP server and the ground truth (the conventions are in
``world``, ``daily``, ``groups``, ``org``, ``codetracking`` and ``auditlog``).
"""

from __future__ import annotations

from . import aicode, audit, daily, groups, org, truth
from .clock import SimClock
from .config import SimulatorConfig
from .server import SimServer, serve_foreground
from .world import World


class Simulator(World):
    """A seeded synthetic Cursor team and the fake Admin API that serves it."""

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> SimServer:
        """Start the HTTP server on a daemon thread; returns it (``.url``, ``.port``, ``.stop()``)."""
        return SimServer.start(self, host, port)

    # -- truth ------------------------------------------------------------------------------------

    def truth(self, start_ms: int | None = None, end_ms: int | None = None) -> dict:
        """Exact aggregates of what the API serves now (same JSON as ``GET /_sim/truth``)."""
        return truth.truth(self, start_ms, end_ms)

    def truth_daily(self, start_ms: int | None = None, end_ms: int | None = None) -> dict:
        """Exact sums of the active rows ``/teams/daily-usage-data`` serves now.

        Whole UTC days overlapping ``[start_ms, end_ms]`` (default: cycle start to now), days
        after today left out. Same JSON as ``GET /_sim/truth/daily``::

            {"now", "startDate", "endDate",
             "days": [{"day": "YYYY-MM-DD", "date": ms, "team": {<17 counters summed>},
                       "activeUsers": [emails, sorted]}],          # every day, even if empty
             "users": {email: {<17 counters summed over the range>}},  # active users only
             "latest": {email: {"day", "clientVersion", "mostUsedModel"}}}  # last active day
        """
        return daily.truth_daily(self, start_ms, end_ms)

    def truth_groups(self, at_ms: int | None = None) -> dict:
        """``/teams/groups`` as served now for the cycle containing ``at_ms`` (default now).

        Same JSON as ``GET /_sim/truth/groups``::

            {"now", "cycleStart", "cycleEnd",
             "groups": {group_id: {"name", "spendCents" (decimal string of the served number),
                                   "memberCount", "members": [current member emails, sorted],
                                   "formerMembers": [emails, sorted]}}}

        ``groups`` includes the reserved ``group_unassigned``.
        """
        return groups.truth_groups(self, at_ms)

    def truth_org(self, start_ms: int | None = None, end_ms: int | None = None) -> dict:
        """The Organization API as served now (same JSON as ``GET /_sim/truth/org``)::

            {"now", "organizationId", "contractStart", "contractEnd" (ms, inclusive),
             "startDate", "endDate",
             "pool": {/organizations/pooled-usage "pool" with limitCents, usedCents and
                      remainingCents as exact decimal strings of the served numbers},
             "teams": [{"teamId", "usedCents" (decimal string, as served),
                        "budgetLimitCents" (int or null), "chargedCents" (exact unrounded sum),
                        "events"}],
             "usage": [truth()["usage"] rows plus "teamId", over [startDate, endDate]],
             "users": [truth()["users"] rows plus "teamId"]}

        ``startDate``/``endDate`` (for ``usage``/``users`` only) default to contract start / now;
        the pool always covers contract start to now.
        """
        return org.truth_org(self, start_ms, end_ms)

    def truth_ai_code(self, start_ms: int | None = None, end_ms: int | None = None) -> dict:
        """AI Code Tracking as served now, items with ``start <= createdAt <= end`` (default
        the last 7 days). Same JSON as ``GET /_sim/truth/ai-code``::

            {"now", "startDate", "endDate", "unknownRepo": "unknown", "totalCommits",
             "commits": [{"repo", "source", "commits", "aiLinesAdded" (tab+composer),
                          "aiLinesDeleted", "nonAiLinesAdded", "nonAiLinesDeleted"}],
             "users": [{"email", "repo", "commits", "aiLinesAdded"}],
             "changes": [{"email", "source", "changes", "linesAdded", "linesDeleted"}]}

        ``repoName: null`` is reported as repo ``"unknown"``; null nonAi lines count as 0;
        amend duplicates (same ``commitHash``) count once per served item.
        """
        return aicode.truth_ai_code(self, start_ms, end_ms)

    def truth_audit(self, start_ms: int | None = None, end_ms: int | None = None) -> dict:
        """``/teams/audit-logs`` as served now, events with ``start <= timestamp <= end``
        (default the last 7 days), no filters::

            {"now", "startDate", "endDate",
             "events": [served event dicts, oldest first],
             "counts": {(event_type, application_type): events}}

        ``GET /_sim/truth/audit`` serves the same with ``counts`` as a sorted list of
        ``{"eventType", "applicationType", "events"}``.
        """
        return audit.truth_audit(self, start_ms, end_ms)


def run_simulator(
    host: str = "127.0.0.1",
    port: int = 8080,
    config: SimulatorConfig | None = None,
    clock: SimClock | None = None,
) -> None:
    """Serve the simulator in the foreground until interrupted (for a ``simulate`` command)."""
    serve_foreground(Simulator(config, clock=clock), host, port)
