"""The simulator's transport, rate limits, injected faults, control surface and determinism."""

from __future__ import annotations

import base64
import json
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from .helpers import DAY, HOUR, KEY, TUESDAY_NOON, start


def test_stopped_server_refuses_kept_alive_connections():
    _, server, client = start()
    assert client.get("/teams/members").status_code == 200
    server.stop()
    with pytest.raises(httpx.TransportError):
        client.get("/teams/members")
    client.close()


# -- rate limits and faults -------------------------------------------------------------------------


def test_rate_limit_per_endpoint_with_retry_after():
    sim, server, client = start(rate_limits=True, rate_limit_period_s=1.5, rate_limit_scale=0.25)
    try:
        statuses = [client.get("/teams/members").status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        limited = client.get("/teams/members")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "2"
        assert limited.json() == {"code": "error", "message": "Rate limit exceeded"}
        assert "X-RateLimit-Limit" not in limited.headers
        assert client.post("/teams/spend", json={}).status_code == 200
        narrow = {"startDate": TUESDAY_NOON - HOUR, "endDate": TUESDAY_NOON}
        events_statuses = [client.post("/teams/filtered-usage-events", json=narrow).status_code for _ in range(16)]
        assert events_statuses == [200] * 15 + [429]
        time.sleep(1.55)
        assert client.get("/teams/members").status_code == 200
        assert sim.request_log.count(("/teams/members", 429)) == 2
        assert sim.truth()["requests"]["/teams/members"] == 6
    finally:
        client.close()
        server.stop()


def test_rate_limit_error_body_variant():
    _, server, client = start(rate_limits=True, rate_limit_scale=0.05, rate_limit_body="error")
    try:
        client.get("/teams/members")
        response = client.get("/teams/members")
        assert response.status_code == 429
        assert response.json()["error"] == "Too Many Requests"
        assert response.headers["Retry-After"] == "60"
    finally:
        client.close()
        server.stop()


def test_injected_500_then_recovery(api):
    sim, client = api
    sim.faults.inject("500", count=2)
    assert [client.get("/teams/members").status_code for _ in range(3)] == [500, 500, 200]
    assert client.post("/_sim/faults", json={"kind": "503", "count": 1}).status_code == 200
    response = client.get("/teams/members")
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("text/html")
    sim.faults.inject("429")
    response = client.post("/teams/spend", json={})
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    assert sim.request_log[-5:] == [
        ("/teams/members", 500),
        ("/teams/members", 500),
        ("/teams/members", 200),
        ("/teams/members", 503),
        ("/teams/spend", 429),
    ]


def test_truncated_body_is_not_valid_json(api):
    sim, client = api
    sim.faults.inject("truncate")
    url = urlsplit(str(client.base_url))
    with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
        request = (
            f"GET /teams/members HTTP/1.1\r\nHost: {url.hostname}\r\n"
            f"Authorization: Basic {base64.b64encode(f'{KEY}:'.encode()).decode()}\r\n\r\n"
        )
        conn.sendall(request.encode())
        raw = b""
        while chunk := conn.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    assert 0 < len(body) < length
    with pytest.raises(ValueError):
        json.loads(body)
    assert client.get("/teams/members").status_code == 200


def test_timeout_fault_outlasts_the_client_and_stop_wakes_the_held_request():
    sim, server, client = start(timeout_fault_s=600)
    sim.faults.inject("timeout")
    with pytest.raises(httpx.ReadTimeout):
        client.get("/teams/members", timeout=0.3)
    began = time.monotonic()
    client.close()
    server.stop()
    assert time.monotonic() - began < 300  # a hang guard: without the wake-up, stop would wait 600 s


# -- control surface and determinism ----------------------------------------------------------------


def test_control_clock_and_truth_endpoints(api):
    sim, client = api
    now = sim.clock.now_ms()
    assert client.post("/_sim/clock", json={"advanceMs": 1000}).json() == {"now": now + 1000}
    assert client.post("/_sim/clock", json={"setMs": now}).json() == {"now": now}
    truth = client.get("/_sim/truth").json()
    assert truth["now"] == now and truth["endDate"] == now
    assert truth["cycleEnd"] - truth["cycleStart"] == 30 * DAY
    assert all(isinstance(row["chargedCents"], str) for row in truth["usage"])
    assert {"Included in Business", "Usage-based"} <= {row["kind"] for row in truth["usage"]}
    assert not any(path.startswith("/_sim") for path, _ in sim.request_log)


def test_same_seed_serves_identical_bytes():
    responses = []
    for _ in range(2):
        sim, server, client = start(users=12)
        try:
            now = sim.clock.now_ms()
            responses.append(
                [
                    client.get("/teams/members").content,
                    client.post("/teams/spend", json={}).content,
                    client.post("/teams/filtered-usage-events", json={"startDate": now - DAY, "endDate": now}).content,
                    client.post("/teams/daily-usage-data", json={"startDate": now - DAY, "endDate": now}).content,
                ]
            )
        finally:
            client.close()
            server.stop()
    assert responses[0] == responses[1]
    sim, server, client = start(users=12, seed=43)
    try:
        assert client.get("/teams/members").content != responses[0][0]
    finally:
        client.close()
        server.stop()
