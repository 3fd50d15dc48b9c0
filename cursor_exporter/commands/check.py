"""The ``check`` command: validates the configuration and the keys, and lists the plan's features."""

from __future__ import annotations

import sys

from cursor_exporter.api.client import ApiError, FeatureUnavailable
from cursor_exporter.commands.config import Settings
from cursor_exporter.commands.serve import api_client
from cursor_exporter.sources.groups import TEAM_GROUPS
from cursor_exporter.sources.members import fetch_members
from cursor_exporter.sources.org_pool import fetch_pool
from cursor_exporter.timegrid import wall_clock_ms


def check(settings: Settings) -> int:
    """One call per key: 0 when every key works, 1 when Cursor refuses one, 2 without a key."""
    key = settings.resolve_api_key()
    if key is None:
        print("cursor-exporter: no API key: set CURSOR_API_KEY or CURSOR_API_KEY_FILE", file=sys.stderr)
        return 2
    client = api_client(settings, settings.api_url, key, max_retries=1)
    try:
        members = fetch_members(client)
        try:
            client.request(TEAM_GROUPS.method, TEAM_GROUPS.path)
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
    org_client = api_client(settings, settings.api_url, org_key, max_retries=1)
    try:
        pool = fetch_pool(org_client, settings.org_id, wall_clock_ms())
    except ApiError as error:
        print(f"cursor-exporter: organization check failed: {error}", file=sys.stderr)
        return 1
    finally:
        org_client.close()
    print(f"ok: organization key accepted for {settings.org_id}; {len(pool.teams)} teams in the pool")
    return 0
