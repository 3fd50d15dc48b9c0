"""Wire conventions of the fake API: responses, error bodies and request parameters."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from .jsonbody import encode_body
from .units import DAY_MS
from .world import World

MAX_DAILY_RANGE_MS = 30 * DAY_MS


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: object, headers: dict[str, str] | None = None) -> Response:
    body = encode_body(payload)
    return Response(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


class ApiError(Exception):
    """An error answered with a JSON body."""

    def __init__(self, status: int, payload: dict) -> None:
        super().__init__(payload.get("message", ""))
        self.status = status
        self.payload = payload


def generic_error(status: int, message: str) -> ApiError:
    reasons = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        500: "Internal Server Error",
    }
    return ApiError(status, {"error": reasons[status], "message": message})


def bad_request(message: str) -> ApiError:
    return generic_error(400, message)


UNAUTHORIZED = {"error": "Unauthorized", "message": "Invalid API key"}
NOT_FOUND = {"error": "Not Found", "message": "Resource not found"}
INTERNAL_ERROR = {"error": "Internal Server Error", "message": "An unexpected error occurred"}
ENTERPRISE_REQUIRED = {"error": "Forbidden", "message": "Enterprise access required"}
RATE_LIMIT_BODIES = {
    "code": {"code": "error", "message": "Rate limit exceeded"},
    "error": {"error": "Too Many Requests", "message": "Rate limit exceeded. Please try again later."},
}


def rate_limited(sim: World) -> Response:
    return json_response(
        429,
        RATE_LIMIT_BODIES[sim.config.rate_limit_body],
        {"Retry-After": str(sim.rate_limiter.retry_after_s)},
    )


def proxy_error_page(status: int) -> Response:
    """What a load balancer in front of the API returns: HTML, not JSON."""
    reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}[status]
    html = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    return Response(status, html.encode(), {"Content-Type": "text/html"})


# -- parameters ---------------------------------------------------------------------------------------


def parse_json_body(raw: bytes) -> dict:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Invalid JSON body") from None
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def date_param(sim: World, body: dict, key: str, required: bool) -> int | None:
    """An epoch-ms date from a JSON body; strings are the observed 500 (or 400 by option)."""
    value = body.get(key)
    if value is None:
        if required:
            raise bad_request(f"{key} is required")
        return None
    if not is_number(value):
        if sim.config.string_date_status == 500:
            raise ApiError(500, INTERNAL_ERROR)
        raise bad_request(f"{key} must be a number (epoch milliseconds)")
    return int(value)


def positive_int_param(body: dict, key: str, default: int) -> int:
    value = body.get(key)
    if value is None:
        return default
    if not is_number(value) or value != int(value) or value < 1:
        raise bad_request(f"{key} must be a positive integer")
    return int(value)


def page_size_param(sim: World, body: dict, default: int, maximum: int) -> int:
    size = positive_int_param(body, "pageSize", default)
    if size > maximum:
        if sim.config.oversize_page_size == "clamp":
            return maximum
        raise bad_request(f"pageSize cannot exceed {maximum}")
    return size


def date_range(sim: World, body: dict, required: bool, max_range_ms: int | None) -> tuple[int, int]:
    start = date_param(sim, body, "startDate", required)
    end = date_param(sim, body, "endDate", required)
    if end is None:
        end = sim.now_ms()
    if start is None:
        start = end - (max_range_ms or MAX_DAILY_RANGE_MS)
    if start > end:
        raise bad_request("startDate must be before endDate")
    if max_range_ms is not None and end - start > max_range_ms:
        raise bad_request("Date range cannot exceed 30 days")
    return start, end


def query_int(query: dict[str, str], key: str, default: int) -> int:
    text = query.get(key)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise bad_request(f"{key} must be a positive integer") from None
    if value < 1:
        raise bad_request(f"{key} must be a positive integer")
    return value


Route = Callable[[World, dict[str, str], dict], dict]
