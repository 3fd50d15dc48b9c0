"""Ground truth of AI Code Tracking: what ``/analytics/ai-code/*`` serve now, aggregated."""

from __future__ import annotations

from .codetracking import UNKNOWN_REPO
from .units import DAY_MS
from .world import World


def truth_ai_code(sim: World, start_ms: int | None, end_ms: int | None) -> dict:
    """See ``Simulator.truth_ai_code``; the range defaults to the last 7 days."""
    now = sim.now_ms()
    start_ms = now - 7 * DAY_MS if start_ms is None else int(start_ms)
    end_ms = now if end_ms is None else int(end_ms)
    tracker = sim.code_tracker()
    commits = tracker.items("commits", start_ms, end_ms, now)
    by_repo_source: dict[tuple[str, str], dict] = {}
    by_user_repo: dict[tuple[str, str], dict] = {}
    for item in commits:
        repo = item["repoName"] or UNKNOWN_REPO
        row = by_repo_source.setdefault(
            (repo, item["commitSource"]),
            {
                "repo": repo,
                "source": item["commitSource"],
                "commits": 0,
                "aiLinesAdded": 0,
                "aiLinesDeleted": 0,
                "nonAiLinesAdded": 0,
                "nonAiLinesDeleted": 0,
            },
        )
        ai_added = item["tabLinesAdded"] + item["composerLinesAdded"]
        row["commits"] += 1
        row["aiLinesAdded"] += ai_added
        row["aiLinesDeleted"] += item["tabLinesDeleted"] + item["composerLinesDeleted"]
        row["nonAiLinesAdded"] += item["nonAiLinesAdded"] or 0
        row["nonAiLinesDeleted"] += item["nonAiLinesDeleted"] or 0
        email = item["member"].email
        user = by_user_repo.setdefault((email, repo), {"email": email, "repo": repo, "commits": 0, "aiLinesAdded": 0})
        user["commits"] += 1
        user["aiLinesAdded"] += ai_added
    by_user_source: dict[tuple[str, str], dict] = {}
    for item in tracker.items("changes", start_ms, end_ms, now):
        email = item["member"].email
        row = by_user_source.setdefault(
            (email, item["source"]),
            {"email": email, "source": item["source"], "changes": 0, "linesAdded": 0, "linesDeleted": 0},
        )
        row["changes"] += 1
        row["linesAdded"] += item["totalLinesAdded"]
        row["linesDeleted"] += item["totalLinesDeleted"]
    return {
        "now": now,
        "startDate": start_ms,
        "endDate": end_ms,
        "unknownRepo": UNKNOWN_REPO,
        "totalCommits": len(commits),
        "commits": [by_repo_source[k] for k in sorted(by_repo_source)],
        "users": [by_user_repo[k] for k in sorted(by_user_repo)],
        "changes": [by_user_source[k] for k in sorted(by_user_source)],
    }
