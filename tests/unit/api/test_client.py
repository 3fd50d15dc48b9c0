import base64
import json

import httpx
import pytest

from cursor_exporter.api.client import ApiError, AuthError, CursorClient
from cursor_exporter.api.endpoints import Endpoint, WriteEndpointRefused
from cursor_exporter.ledger.scan import WindowScanner
from cursor_exporter.ledger.windows import Window
from cursor_exporter.sources import ENDPOINTS, READ_ENDPOINTS
from cursor_exporter.sources.members import fetch_members
from cursor_exporter.sources.usage import TEAM_EVENTS

WRITE_ENDPOINTS = [
    ("POST", "/teams/user-spend-limit"),
    ("POST", "/teams/user-spend-limits"),
    ("POST", "/teams/remove-member"),
    ("POST", "/teams/groups"),
    ("PATCH", "/teams/groups/group_1"),
    ("DELETE", "/teams/groups/group_1"),
    ("POST", "/teams/groups/group_1/members"),
    ("DELETE", "/teams/groups/group_1/members"),
    ("POST", "/settings/repo-blocklists/repos/upsert"),
    ("DELETE", "/settings/repo-blocklists/repos/r1"),
    ("PUT", "/teams/model-access/configuration"),
    ("POST", "/organizations/team-memberships/sync"),
    ("GET", "/teams/spend"),  # a read route with the wrong method is not on the list either
]


@pytest.mark.parametrize(("method", "path"), WRITE_ENDPOINTS)
def test_write_endpoints_are_refused_before_any_request(method, path):
    sent = []
    client = CursorClient("http://127.0.0.1:9", "crsr_secret", endpoints=ENDPOINTS)
    client._http = httpx.Client(transport=httpx.MockTransport(lambda request: sent.append(request)))
    with pytest.raises(WriteEndpointRefused):
        client.request(method, path, {})
    assert sent == []


def test_allow_list_holds_only_reads():
    assert {path for _, path in READ_ENDPOINTS} <= {
        "/teams/members",
        "/teams/spend",
        "/teams/daily-usage-data",
        "/teams/filtered-usage-events",
        "/teams/groups",
        "/analytics/ai-code/commits",
        "/organizations/pooled-usage",
        "/teams/audit-logs",
        "/organizations/filtered-usage-events",
    }


def mocked_client(handler, **options) -> tuple[CursorClient, list[float]]:
    """A client whose transport is ``handler``; sleeps move a fake clock and are recorded."""
    slept: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    client = CursorClient(
        "http://cursor.invalid",
        "crsr_secret_key_value",
        endpoints=ENDPOINTS,
        sleep=sleep,
        monotonic=lambda: now[0],
        **options,
    )
    client._http = httpx.Client(
        base_url="http://cursor.invalid",
        transport=httpx.MockTransport(handler),
        auth=httpx.BasicAuth("crsr_secret_key_value", ""),
    )
    return client, slept


def test_basic_auth_with_key_as_username_and_empty_password():
    seen = []

    def handler(request):
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={"teamMembers": []})

    client = CursorClient("http://cursor.invalid", "crsr_abc", endpoints=ENDPOINTS)
    client._http._transport = httpx.MockTransport(handler)
    fetch_members(client)
    assert seen == ["Basic " + base64.b64encode(b"crsr_abc:").decode()]


@pytest.mark.parametrize(
    "body",
    [
        {"code": "error", "message": "Rate limit exceeded"},
        {"error": "Too Many Requests", "message": "Rate limit exceeded. Please try again later."},
    ],
)
def test_429_is_retried_after_retry_after_whatever_the_body(body):
    responses = [
        httpx.Response(429, json=body, headers={"Retry-After": "60"}),
        httpx.Response(200, json={"teamMembers": []}),
    ]
    client, slept = mocked_client(lambda request: responses.pop(0))
    assert fetch_members(client) == []
    assert slept == [60.0]
    assert client.stats.requests[("/teams/members", "429")] == 1


def test_5xx_html_and_truncated_bodies_are_retried_with_capped_backoff():
    responses = [
        httpx.Response(502, text="<html>Bad Gateway</html>", headers={"content-type": "text/html"}),
        httpx.Response(500, json={"error": "Internal Server Error", "message": "An unexpected error occurred"}),
        httpx.Response(200, content=b'{"teamMembers": [{"email": "a@b.c"'),
        httpx.Response(200, json={"teamMembers": [{"email": "a@b.c", "role": "member"}]}),
    ]
    client, slept = mocked_client(lambda request: responses.pop(0), backoff_base=1.0, backoff_cap=1.5)
    assert [m.email for m in fetch_members(client)] == ["a@b.c"]
    assert len(slept) == 3
    assert all(0 < delay <= 1.5 for delay in slept)


def test_401_fails_at_once_with_the_message_and_never_the_key():
    client, slept = mocked_client(
        lambda request: httpx.Response(401, json={"error": "Unauthorized", "message": "Invalid API key"})
    )
    with pytest.raises(AuthError) as raised:
        fetch_members(client)
    assert slept == []
    assert "Invalid API key" in str(raised.value)
    assert "crsr_secret_key_value" not in str(raised.value)


def test_malformed_events_are_counted_logged_once_and_the_rest_kept(caplog):
    good = {"timestamp": "1750979225854", "userEmail": "a@b.c", "model": "gpt-5", "kind": "Usage-based"}
    page = {
        "totalUsageEventsCount": 4,
        "pagination": {"numPages": 1, "currentPage": 1, "pageSize": 1000, "hasNextPage": False},
        "usageEvents": [good, {"userEmail": "x@b.c"}, {"userEmail": "y@b.c"}, {**good, "chargedCents": 1.5}],
    }
    client, _ = mocked_client(lambda request: httpx.Response(200, json=page))
    result = WindowScanner(client, TEAM_EVENTS).page(Window(0, 1), 1)
    assert len(result.events) == 2 and result.received == 4 and result.malformed == 2
    assert client.stats.malformed_records["/teams/filtered-usage-events"] == 2
    assert sum("malformed record" in message for message in caplog.messages) == 1


def test_event_requests_send_epoch_ms_numbers_and_a_page_size():
    bodies = []

    def handler(request):
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"totalUsageEventsCount": 0, "usageEvents": [], "pagination": {}})

    client, _ = mocked_client(handler)
    WindowScanner(client, TEAM_EVENTS).page(Window(1767225600000, 1767229199999), 2)
    assert bodies == [{"startDate": 1767225600000, "endDate": 1767229199999, "page": 2, "pageSize": 1000}]


@pytest.mark.parametrize(("status", "attempts"), [(501, 1), (404, 1), (408, 2), (503, 2)])
def test_only_transient_statuses_are_retried(status, attempts):
    sent = []

    def handler(request):
        sent.append(request)
        if len(sent) == 1:
            return httpx.Response(status, json={"error": "x", "message": f"status {status}"})
        return httpx.Response(200, json={"teamMembers": []})

    client, _ = mocked_client(handler, backoff_base=0.0)
    if attempts == 1:
        with pytest.raises(ApiError, match=f"status {status}"):
            fetch_members(client)
    else:
        assert fetch_members(client) == []
    assert len(sent) == attempts


def test_network_errors_name_the_host_and_the_reason():
    def refuse(request):
        raise httpx.ConnectError("Connection refused", request=request)

    client, _ = mocked_client(refuse, max_retries=0)
    with pytest.raises(ApiError, match=r"cursor\.invalid: Connection refused"):
        fetch_members(client)


@pytest.mark.parametrize(
    ("method", "path"),
    [*(route for route in WRITE_ENDPOINTS if route != ("GET", "/teams/spend")), ("POST", "/organizations/groups")],
)
def test_no_source_can_even_declare_a_write_endpoint(method, path):
    with pytest.raises(WriteEndpointRefused):
        Endpoint(method, path)
    assert Endpoint("GET", "/teams/groups").route == ("GET", "/teams/groups")  # the read twin stays a read
