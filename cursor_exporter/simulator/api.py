"""Request semantics of the fake API: auth, routing, rate limits, plans and caching.

Transport-free: ``handle_api`` takes the parsed request and returns a ``Response``;
``server.py`` moves bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from .org_routes import ORG_UNAUTHORIZED, org_events_route, pooled_usage_route
from .query_routes import ai_code_route, audit_logs_route
from .team_routes import daily_usage_route, events_route, groups_route, members_route, spend_route
from .wire import (
    ENTERPRISE_REQUIRED,
    NOT_FOUND,
    UNAUTHORIZED,
    ApiError,
    Response,
    Route,
    json_response,
    parse_json_body,
    rate_limited,
)
from .world import World

CACHE_CONTROL = "public, max-age=900"


def etag_for(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)


READ_ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/teams/members"): members_route,
    ("POST", "/teams/spend"): spend_route,
    ("POST", "/teams/daily-usage-data"): daily_usage_route,
    ("POST", "/teams/filtered-usage-events"): events_route,
    ("GET", "/teams/groups"): groups_route,
    ("GET", "/teams/audit-logs"): audit_logs_route,
    ("GET", "/analytics/ai-code/commits"): ai_code_route("commits"),
    ("GET", "/analytics/ai-code/changes"): ai_code_route("changes"),
}
ORG_ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/organizations/pooled-usage"): pooled_usage_route,
    ("POST", "/organizations/filtered-usage-events"): org_events_route,
}
ENTERPRISE_ROUTES = frozenset({"/teams/groups", "/analytics/ai-code/commits", "/analytics/ai-code/changes"})
CACHED_ROUTES = frozenset({"/analytics/ai-code/commits", "/analytics/ai-code/changes"})


def authorized(sim: World, authorization: str | None, key: str | None = None) -> bool:
    """Basic auth with the key (default: the team key) as username and an empty password;
    Bearer only by option."""
    key = sim.config.api_key if key is None else key
    if not authorization or not key:
        return False
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return sim.config.accept_bearer and hmac.compare_digest(credentials, key)
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    username, separator, password = decoded.partition(":")
    return bool(separator) and password == "" and hmac.compare_digest(username, key)


def _handle_org(sim: World, method: str, path: str, authorization: str | None, raw_body: bytes) -> Response:
    org_key = sim.config.org_api_key
    if org_key is None or not authorized(sim, authorization, org_key):
        raise ApiError(401, ORG_UNAUTHORIZED)
    route = ORG_ROUTES.get((method, path))
    if route is None:
        raise ApiError(404, NOT_FOUND)
    if sim.config.rate_limits and not sim.rate_limiter.allow(path):
        return rate_limited(sim)
    body = parse_json_body(raw_body) if method == "POST" else {}
    return json_response(200, route(sim, {}, body))


def handle_api(
    sim: World,
    method: str,
    path: str,
    query: dict[str, str],
    authorization: str | None,
    raw_body: bytes,
    if_none_match: str | None = None,
) -> Response:
    """Answer one API request (auth → routing → rate limit → plan → validation → data).

    ``/organizations/*`` take the org key only; every other route the team key only.
    AI Code Tracking answers ``If-None-Match`` hits with 304 before rate limiting, so
    revalidations are not counted.
    """
    try:
        if path.startswith("/organizations/"):
            return _handle_org(sim, method, path, authorization, raw_body)
        if not authorized(sim, authorization):
            raise ApiError(401, UNAUTHORIZED)
        route = READ_ROUTES.get((method, path))
        if route is None:
            raise ApiError(404, NOT_FOUND)
        if path in CACHED_ROUTES:
            if not sim.config.enterprise:
                raise ApiError(403, ENTERPRISE_REQUIRED)
            response = json_response(200, route(sim, query, {}))
            etag = etag_for(response.body)
            cache_headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
            if etag_matches(if_none_match, etag):
                return Response(304, b"", cache_headers)
            if sim.config.rate_limits and not sim.rate_limiter.allow(path):
                return rate_limited(sim)
            response.headers.update(cache_headers)
            return response
        if sim.config.rate_limits and not sim.rate_limiter.allow(path):
            return rate_limited(sim)
        enterprise_only = path in ENTERPRISE_ROUTES or (
            path == "/teams/audit-logs" and sim.config.audit_logs_enterprise_only
        )
        if enterprise_only and not sim.config.enterprise:
            raise ApiError(403, ENTERPRISE_REQUIRED)
        body = parse_json_body(raw_body) if method == "POST" else {}
        return json_response(200, route(sim, query, body))
    except ApiError as error:
        return json_response(error.status, error.payload)
