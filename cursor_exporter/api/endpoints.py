"""Endpoints as values: each source names the Cursor routes it reads, with their documented rate limit.

The client sends a request only to an endpoint it was given, and an endpoint cannot be made for a
route the API reference lists as a write (§9), so a source that asks for one fails at import, before
any request could leave the process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_PER_MINUTE = 20
"""Cursor's per-team limit for every route it does not list otherwise (API reference §2.1)."""

# Routes that change state (API reference §9), with the method that does (None: any). Some reads are
# POST, and GET /teams/groups is a read, so this is a guard beside the allow-list, never a rule of its own.
WRITE_ROUTES = (
    (None, re.compile(r"^/teams/(user-spend-limits?|remove-member)$")),
    ("POST", re.compile(r"^/teams/groups$")),
    (None, re.compile(r"^/teams/groups/.+")),
    (None, re.compile(r"^/settings/repo-blocklists/")),
    (None, re.compile(r"^/teams/model-access/")),
    (None, re.compile(r"^/organizations/(team-memberships/|groups|teams/)")),
)
WRITE_METHODS = frozenset({"PUT", "PATCH", "DELETE"})


class WriteEndpointRefused(RuntimeError):
    """Raised, without any network traffic, for a route that is not a known read."""


@dataclass(frozen=True)
class Endpoint:
    """One read route of the Cursor API and Cursor's per-minute limit for it."""

    method: str
    path: str
    per_minute: int = DEFAULT_PER_MINUTE
    etag: bool = False  # answers If-None-Match with a 304 that does not count against the rate limit

    def __post_init__(self) -> None:
        writes = self.method in WRITE_METHODS or any(
            method in (None, self.method) and route.match(self.path) for method, route in WRITE_ROUTES
        )
        if writes:
            raise WriteEndpointRefused(f"{self.method} {self.path} changes state; the exporter only reads")

    @property
    def route(self) -> tuple[str, str]:
        """``(method, path)``."""
        return self.method, self.path
