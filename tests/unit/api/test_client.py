import base64
import contextlib
import json
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import httpx
import pytest

from cursor_exporter.api.client import REDACTED, ApiError, AuthError, CursorClient, FeatureUnavailable
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
    assert len(result.events) == 2 and result.received == 4
    assert client.stats.malformed_records == {("/teams/filtered-usage-events", "missing_field"): 2}
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


HANG_GUARD_S = 300  # only stops a test that would otherwise hang; no assertion on how long anything takes
KEY = "crsr_secret_key_value"
MEMBERS = b'{"teamMembers": [{"email": "a@b.c", "role": "member"}]}'


@contextmanager
def loopback(answer: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 whose every request is answered by ``answer``; yields its URL."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.stop = stop
            with contextlib.suppress(OSError):  # the client hung up, which is what these tests provoke
                answer(self)

        do_GET = do_POST

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def endless_chunked_body(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    handler.wfile.write(b"1\r\n[\r\n")
    while not handler.stop.is_set():
        handler.wfile.write(chunk)


def drip(parts: bytes, handler) -> None:
    """One byte a second, then nothing more, until the client hangs up or the test ends."""
    for byte in parts:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        if handler.stop.wait(1.0):
            return
    handler.stop.wait()


def drip_body(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(MEMBERS)))
    handler.end_headers()
    drip(MEMBERS, handler)


def drip_headers(handler) -> None:
    drip(b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * 600, handler)


def real_client(url: str, **options) -> CursorClient:
    return CursorClient(url, KEY, endpoints=ENDPOINTS, rate_limit_share=1.0, backoff_base=0.0, **options)


def guarded(call: Callable[[], object]) -> BaseException | object:
    """``call()`` in a thread with a hang guard; returns its result or the exception it raised."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as error:  # handed back to the test to assert on
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_GUARD_S)
    assert outcome, f"request still running after {HANG_GUARD_S}s"
    return outcome[0]


def test_an_endless_body_fails_at_the_cap_and_memory_stays_bounded_by_it():
    cap = 1 << 20
    with loopback(endless_chunked_body) as url:
        client = real_client(url, max_response_bytes=cap, max_retries=0)
        tracemalloc.start()
        try:
            failure = guarded(lambda: fetch_members(client))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            client.close()
    assert isinstance(failure, ApiError)
    assert str(failure) == f"/teams/members: 200: response larger than {cap} bytes"
    assert peak < 2 * cap  # the body read so far and one chunk more, never the endless rest
    assert client.stats.requests == {("/teams/members", "200"): 1}  # a too-large body is not retried


def test_a_declared_length_over_the_cap_fails_before_the_body_is_read():
    def declared(request):
        return httpx.Response(200, headers={"Content-Length": "999999999"}, stream=httpx.ByteStream(b"[]"))

    client, _ = mocked_client(declared, max_response_bytes=1000)
    with pytest.raises(ApiError, match="response larger than 1000 bytes"):
        fetch_members(client)


def test_a_body_of_exactly_the_cap_is_read_and_one_byte_more_is_refused():
    client, _ = mocked_client(lambda request: httpx.Response(200, content=MEMBERS), max_response_bytes=len(MEMBERS))
    assert [member.email for member in fetch_members(client)] == ["a@b.c"]
    client, _ = mocked_client(lambda request: httpx.Response(200, content=MEMBERS), max_response_bytes=len(MEMBERS) - 1)
    with pytest.raises(ApiError, match=f"response larger than {len(MEMBERS) - 1} bytes"):
        fetch_members(client)


@pytest.mark.parametrize("answer", [drip_body, drip_headers], ids=["body", "headers"])
def test_a_dripping_answer_is_cut_at_the_deadline_and_retried_as_a_timeout(answer):
    # Each byte arrives well within httpx's per-read timeout; only a deadline on the whole request ends it.
    with loopback(answer) as url:
        client = real_client(url, timeout=2.0, max_retries=1)
        failure = guarded(lambda: fetch_members(client))
        client.close()
    assert isinstance(failure, ApiError), failure
    assert "gave up after 2 attempts: timed out: no complete answer within 2s" in str(failure)
    assert client.stats.requests == {("/teams/members", "timeout"): 2}


def test_an_answer_within_the_deadline_is_read_whole_over_a_real_connection():
    def members(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(MEMBERS)))
        handler.end_headers()
        handler.wfile.write(MEMBERS)

    with loopback(members) as url:
        client = real_client(url, timeout=60.0)
        assert [member.email for member in guarded(lambda: fetch_members(client))] == ["a@b.c"]
        client.close()
    assert client.stats.requests == {("/teams/members", "200"): 1}


def echoed_forms(key: str) -> list[str]:
    return [
        key,
        quote(key, safe=""),
        "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
        base64.b64encode(key.encode()).decode(),
    ]


@pytest.mark.parametrize(("status", "error"), [(401, AuthError), (403, FeatureUnavailable), (400, ApiError)])
def test_error_bodies_that_echo_the_key_in_any_form_are_redacted(status, error):
    key = "crsr_k/+=y?&%" + "a1" * 20  # characters that URL-encoding and base64 both change
    answered = []

    def echo(request):
        received = request.headers["authorization"]
        echoed = " ".join([*echoed_forms(key), received, json.dumps(key)[1:-1]])
        answered.append(httpx.Response(status, json={"error": f"bad key {echoed}", "message": f"got {received}"}))
        return answered[-1]

    client = CursorClient("http://cursor.invalid", key, endpoints=ENDPOINTS, max_retries=0)
    client._http._transport = httpx.MockTransport(echo)
    with pytest.raises(error) as raised:
        fetch_members(client)
    assert key in answered[0].json()["error"]  # the stand-in really echoed the key
    message = str(raised.value)
    assert message.startswith(f"/teams/members: {status}: bad key {REDACTED}")
    for form in echoed_forms(key):
        assert form.rstrip("=") not in message
    assert message.count(REDACTED) == 7


def test_transport_error_reasons_and_retry_logs_are_redacted(caplog):
    caplog.set_level("INFO")

    def refuse(request):
        raise httpx.ConnectError(f"proxy refused {request.headers['authorization']} for {KEY}", request=request)

    client, _ = mocked_client(refuse, max_retries=1, backoff_base=0.0)
    with pytest.raises(ApiError) as raised:
        fetch_members(client)
    shown = str(raised.value) + "\n".join(caplog.messages)
    assert f"proxy refused Basic {REDACTED}" in shown
    assert KEY not in shown and base64.b64encode(f"{KEY}:".encode()).decode().rstrip("=") not in shown


def test_a_server_message_becomes_one_short_line():
    client, _ = mocked_client(
        lambda request: httpx.Response(400, json={"message": "line one\nline two " + "x" * 1000}), max_retries=0
    )
    with pytest.raises(ApiError) as raised:
        fetch_members(client)
    assert "\n" not in str(raised.value) and "line one line two x" in str(raised.value)
    assert len(raised.value.message) == 300


def test_an_answer_that_echoes_the_key_is_redacted_before_anything_reads_it():
    echo = {"teamMembers": [{"email": "a@b.c", "role": "member", "note": f"key {KEY}"}], KEY: "as a field name"}
    client, _ = mocked_client(lambda request: httpx.Response(200, json=echo))
    answer = client.request("GET", "/teams/members")
    assert answer == {
        "teamMembers": [{"email": "a@b.c", "role": "member", "note": f"key {REDACTED}"}],
        REDACTED: "as a field name",
    }
    clean = {"teamMembers": [{"email": "a@b.c", "role": "member"}]}
    client, _ = mocked_client(lambda request: httpx.Response(200, json=clean))
    assert client.request("GET", "/teams/members") == clean
