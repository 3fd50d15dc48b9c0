"""The Organization API routes (org key): pooled usage and org-wide usage events."""

from __future__ import annotations

from .filters import MAX_EVENTS_PAGE_SIZE, events_page
from .org import DEFAULT_ORG_EVENTS_PAGE_SIZE, org_events, pooled_usage_payload
from .units import DAY_MS
from .wire import ApiError, bad_request, date_range, is_number, page_size_param, positive_int_param
from .world import World

ORG_UNAUTHORIZED = {"code": "error", "message": "Invalid Organization API Key"}
ORG_FORBIDDEN = {"code": "error", "message": "Not authorized"}


def _check_organization(sim: World, body: dict) -> None:
    organization = body.get("organizationId")
    if organization is None or organization == "":
        raise ApiError(400, {"code": "error", "message": "organizationId is required"})
    if str(organization) != sim.config.organization_id:
        raise ApiError(403, ORG_FORBIDDEN)


def pooled_usage_route(sim: World, query: dict[str, str], body: dict) -> dict:
    _check_organization(sim, body)
    payload, _ = pooled_usage_payload(sim, sim.now_ms())
    return payload


def org_events_route(sim: World, query: dict[str, str], body: dict) -> dict:
    _check_organization(sim, body)
    team_ids = body.get("teamIds")
    if team_ids is not None:
        if not isinstance(team_ids, list) or not all(is_number(t) or isinstance(t, str) for t in team_ids):
            raise bad_request("teamIds must be an array of team ids")
        try:
            team_ids = [int(t) for t in team_ids]
        except ValueError:
            raise bad_request("teamIds must be an array of team ids") from None
    max_range = None if sim.config.events_max_range_days is None else sim.config.events_max_range_days * DAY_MS
    start, end = date_range(sim, body, required=False, max_range_ms=max_range)
    page = positive_int_param(body, "page", 1)
    page_size = page_size_param(sim, body, DEFAULT_ORG_EVENTS_PAGE_SIZE, MAX_EVENTS_PAGE_SIZE)
    now = sim.now_ms()
    try:
        events = org_events(sim, start, end, now, team_ids, body)
    except ValueError as error:
        raise bad_request(str(error)) from None
    rows = []
    for team_id, event in events[(page - 1) * page_size : page * page_size]:
        payload = event.payload(now, sim.config.legacy_2025)
        for key in ("cloudAgentId", "automationId", "conversationId"):
            payload.pop(key, None)
        rows.append({**payload, "teamId": team_id})
    return {**events_page(len(events), page, page_size, rows), "period": {"startDate": start, "endDate": end}}
