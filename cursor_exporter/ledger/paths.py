"""Where each ledger lives under ``--storage.path``: one rule for serve, export and backfill.

A single team keeps its ledger in the storage directory itself; with ``[[teams]]`` each team has
``teams/<name>``; the organization's usage events (organization key) have ``organization``.
"""

from __future__ import annotations

from pathlib import Path

TEAMS_DIRECTORY = "teams"
ORGANIZATION_DIRECTORY = "organization"


def ledger_path(storage: Path, *, team: str | None = None, organization: bool = False) -> Path:
    """The ledger selected by ``--team NAME`` or ``--org`` (neither: the single team's)."""
    if organization:
        return storage / ORGANIZATION_DIRECTORY
    return storage if team is None else storage / TEAMS_DIRECTORY / team
