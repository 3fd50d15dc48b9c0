"""AI Code Tracking data (``/analytics/ai-code/commits`` and ``/changes``) and its served shape.

Conventions (deterministic, per team seed, UTC day and member, memoised):

* Repos: the team has 3-6 repos (``acme/api``, ``acme/web``, ...); each member commits to
  1-3 of them; ~8 % of commits have ``repoName: null`` (the truth reports them under repo
  ``"unknown"``, :data:`UNKNOWN_REPO`).
* Commits: active, non-removed members commit on weekdays (rarely at weekends) during
  their local working hours; ``commitSource`` ide/cli/cloud (70/20/10 %); cloud commits
  have no tab lines; ``nonAiLines*`` and ``message``/``commitTs`` are sometimes null
  (null lines count as 0 in the truth). ~4 % of commits are amended: a second item with
  the same ``commitHash``, a later ``createdAt`` and slightly different counts; both items
  are served and both count in the truth.
* Changes: TAB/COMPOSER accepts with 1-3 files of ``metadata``; totals are the file sums.
* Served when ``createdAt <= now`` (near real time); ranges filter on ``createdAt``,
  inclusive; items newest first.
"""

from __future__ import annotations

import random

from .catalog import EXTENSIONS, MODELS, REPO_NAMES
from .draws import poisson, random_uuid
from .memo import Memo
from .roster import Member
from .team import Team
from .timefmt import iso
from .units import DAY_MS, HOUR_MS, utc_weekday

UNKNOWN_REPO = "unknown"
SOURCES = ("ide", "cli", "cloud")
MESSAGES = (
    "Refactor: extract analytics client",
    "Fix flaky retry test",
    "Add pagination to list endpoint",
    "Bump dependencies",
    "feat: billing export",
    "chore: tidy logging",
    "WIP",
)
FILE_STEMS = ("index", "client", "handler", "models", "utils", "README", "schema", "server")


def _lines(rng: random.Random, mu: float) -> int:
    return int(rng.lognormvariate(mu, 1.0))


class CodeTracker:
    """Commits and changes of one team."""

    def __init__(self, team: Team) -> None:
        self.team = team
        rng = random.Random(f"{team.seed}:repos")
        self.repos = REPO_NAMES[: rng.randint(3, 6)]
        self.member_repos = {
            m.index: tuple(random.Random(f"{team.seed}:repos:{m.index}").sample(self.repos, rng.randint(1, 3)))
            for m in team.members
        }
        self._days: Memo[tuple[int, int], tuple[list[dict], list[dict]]] = Memo(self._generate)

    def member_day(self, member: Member, day_ms: int) -> tuple[list[dict], list[dict]]:
        """``(commits, changes)`` created on a UTC day by a member (internal dicts, not served)."""
        return self._days((day_ms, member.index))

    def _timestamp(self, rng: random.Random, member: Member, day_ms: int) -> int:
        offset = (9 - member.persona.utc_offset_h) * HOUR_MS + rng.randrange(9 * HOUR_MS)
        return day_ms + offset % DAY_MS

    def _generate(self, key: tuple[int, int]) -> tuple[list[dict], list[dict]]:
        day_ms, member_index = key
        member = self.team.members[member_index]
        if member.persona.activity <= 0 or not member.is_member_at(day_ms + 12 * HOUR_MS):
            return [], []
        rng = random.Random(f"{self.team.seed}:aicode:{day_ms}:{member.index}")
        weekend = utc_weekday(day_ms) >= 5
        scale = member.persona.activity * (0.08 if weekend else 1.0)
        commits = []
        for _ in range(poisson(rng, 1.6 * scale)):
            created = self._timestamp(rng, member, day_ms)
            commit = self._commit(rng, member, created)
            commits.append(commit)
            if rng.random() < 0.04:  # amended: same hash, later, slightly different lines
                amend = dict(commit)
                amend["createdAt"] = min(day_ms + DAY_MS - 1, created + rng.randint(120_000, 1_200_000))
                amend["commitTs"] = None if commit["commitTs"] is None else amend["createdAt"] - 20_000
                amend["composerLinesAdded"] += rng.randint(0, 8)
                amend["nonAiLinesDeleted"] = (amend["nonAiLinesDeleted"] or 0) + rng.randint(0, 3)
                amend["seq"] = commit["seq"] + 0.5
                commits.append(amend)
        changes = []
        for _ in range(poisson(rng, 5.0 * scale)):
            changes.append(self._change(rng, member, self._timestamp(rng, member, day_ms)))
        for seq, commit in enumerate(sorted(commits, key=lambda c: (c["createdAt"], c["seq"]))):
            commit["seq"] = seq
        for seq, change in enumerate(changes):
            change["seq"] = seq
        return commits, changes

    def _commit(self, rng: random.Random, member: Member, created: int) -> dict:
        repo = None if rng.random() < 0.08 else rng.choice(self.member_repos[member.index])
        branch = None if repo is None else ("main" if rng.random() < 0.6 else f"feature/{rng.randint(100, 999)}")
        source = rng.choices(SOURCES, weights=(70, 20, 10))[0]
        tab_added = 0 if source == "cloud" else _lines(rng, 2.5)
        tab_deleted = 0 if source == "cloud" else _lines(rng, 1.2)
        composer_added, composer_deleted = _lines(rng, 3.2), _lines(rng, 2.0)
        if rng.random() < 0.05:
            non_ai_added = non_ai_deleted = None
        else:
            non_ai_added, non_ai_deleted = _lines(rng, 2.8), _lines(rng, 2.0)
        return {
            "commitHash": f"{rng.getrandbits(160):040x}",
            "member": member,
            "repoName": repo,
            "branchName": branch,
            "isPrimaryBranch": None if branch is None else branch == "main",
            "commitSource": source,
            "tabLinesAdded": tab_added,
            "tabLinesDeleted": tab_deleted,
            "composerLinesAdded": composer_added,
            "composerLinesDeleted": composer_deleted,
            "nonAiLinesAdded": non_ai_added,
            "nonAiLinesDeleted": non_ai_deleted,
            "message": None if rng.random() < 0.05 else rng.choice(MESSAGES),
            "commitTs": None if rng.random() < 0.03 else created - rng.randint(5_000, 60_000),
            "createdAt": created,
            "seq": 0,
        }

    def _change(self, rng: random.Random, member: Member, created: int) -> dict:
        source = "TAB" if rng.random() < 0.6 else "COMPOSER"
        files = []
        for _ in range(rng.randint(1, 3)):
            extension = rng.choice(EXTENSIONS)
            entry: dict = {}
            if rng.random() < 0.8:
                entry["fileName"] = rng.choice(FILE_STEMS) + extension
            entry.update(
                fileExtension=extension.lstrip("."), linesAdded=_lines(rng, 2.0), linesDeleted=_lines(rng, 1.0)
            )
            files.append(entry)
        model = None if source == "TAB" and rng.random() < 0.7 else rng.choice(sorted(MODELS))
        return {
            "changeId": random_uuid(rng),
            "member": member,
            "source": source,
            "model": model,
            "totalLinesAdded": sum(f["linesAdded"] for f in files),
            "totalLinesDeleted": sum(f["linesDeleted"] for f in files),
            "createdAt": created,
            "metadata": files,
            "seq": 0,
        }

    def items(self, kind: str, start_ms: int, end_ms: int, now_ms: int, user: str | None = None) -> list[dict]:
        """Internal commit or change dicts with ``start <= createdAt <= min(end, now)``, newest first."""
        end_ms = min(end_ms, now_ms)
        if end_ms < start_ms:
            return []
        wanted = None if user is None else user.strip().lower()
        selected = []
        for day in range(start_ms // DAY_MS * DAY_MS, end_ms // DAY_MS * DAY_MS + 1, DAY_MS):
            for member in self.team.members:
                if wanted is not None and wanted not in (member.email, member.string_id.lower(), str(member.int_id)):
                    continue
                commits, changes = self.member_day(member, day)
                for item in commits if kind == "commits" else changes:
                    if start_ms <= item["createdAt"] <= end_ms:
                        selected.append(item)
        selected.sort(key=lambda i: (i["createdAt"], i["member"].index, i["seq"]), reverse=True)
        return selected


def served_commit(item: dict) -> dict:
    member = item["member"]
    total_added = item["tabLinesAdded"] + item["composerLinesAdded"] + (item["nonAiLinesAdded"] or 0)
    total_deleted = item["tabLinesDeleted"] + item["composerLinesDeleted"] + (item["nonAiLinesDeleted"] or 0)
    return {
        "commitHash": item["commitHash"],
        "userId": member.string_id,
        "userEmail": member.email,
        "repoName": item["repoName"],
        "branchName": item["branchName"],
        "isPrimaryBranch": item["isPrimaryBranch"],
        "commitSource": item["commitSource"],
        "totalLinesAdded": total_added,
        "totalLinesDeleted": total_deleted,
        "tabLinesAdded": item["tabLinesAdded"],
        "tabLinesDeleted": item["tabLinesDeleted"],
        "composerLinesAdded": item["composerLinesAdded"],
        "composerLinesDeleted": item["composerLinesDeleted"],
        "nonAiLinesAdded": item["nonAiLinesAdded"],
        "nonAiLinesDeleted": item["nonAiLinesDeleted"],
        "message": item["message"],
        "commitTs": None if item["commitTs"] is None else iso(item["commitTs"]),
        "createdAt": iso(item["createdAt"]),
    }


def served_change(item: dict) -> dict:
    member = item["member"]
    return {
        "changeId": item["changeId"],
        "userId": member.string_id,
        "userEmail": member.email,
        "source": item["source"],
        "model": item["model"],
        "totalLinesAdded": item["totalLinesAdded"],
        "totalLinesDeleted": item["totalLinesDeleted"],
        "createdAt": iso(item["createdAt"]),
        "metadata": [dict(f) for f in item["metadata"]],
    }
