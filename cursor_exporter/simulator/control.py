"""The ``/_sim`` test-control routes: ground truth, fault injection and the clock."""

from __future__ import annotations

from collections.abc import Callable

from .aicode import truth_ai_code
from .audit import truth_audit_json
from .daily import truth_daily
from .groups import truth_groups
from .org import truth_org
from .truth import truth
from .wire import NOT_FOUND, ApiError, Response, bad_request, json_response, parse_json_body
from .world import World

TRUTH_ROUTES: dict[str, Callable[[World, int | None, int | None], dict]] = {
    "/_sim/truth": truth,
    "/_sim/truth/daily": truth_daily,
    "/_sim/truth/org": truth_org,
    "/_sim/truth/ai-code": truth_ai_code,
    "/_sim/truth/audit": truth_audit_json,
}


def handle_control(sim: World, method: str, path: str, query: dict[str, str], raw_body: bytes) -> Response:
    """The ``/_sim`` test-control routes (no auth, no limits, no faults, not logged)."""
    try:
        if method == "GET" and path in TRUTH_ROUTES:
            start = int(query["startDate"]) if query.get("startDate") else None
            end = int(query["endDate"]) if query.get("endDate") else None
            return json_response(200, TRUTH_ROUTES[path](sim, start, end))
        if (method, path) == ("GET", "/_sim/truth/groups"):
            at = int(query["at"]) if query.get("at") else None
            return json_response(200, truth_groups(sim, at))
        if (method, path) == ("POST", "/_sim/faults"):
            body = parse_json_body(raw_body)
            try:
                sim.faults.inject(str(body.get("kind")), int(body.get("count", 1)))
            except (TypeError, ValueError) as error:
                raise bad_request(str(error)) from None
            return json_response(200, {"pending": sim.faults.pending})
        if path == "/_sim/clock" and method in ("GET", "POST"):
            body = parse_json_body(raw_body) if method == "POST" else {}
            if body.get("setMs") is not None:
                sim.clock.set(int(body["setMs"]))
            if body.get("advanceMs") is not None:
                sim.clock.advance(int(body["advanceMs"]))
            return json_response(200, {"now": sim.now_ms()})
        raise ApiError(404, NOT_FOUND)
    except ValueError:
        return json_response(400, {"error": "Bad Request", "message": "Invalid parameter"})
    except ApiError as error:
        return json_response(error.status, error.payload)
