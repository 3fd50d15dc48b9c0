"""The API keys never leave the exporter, whatever the API or a proxy echoes back.

A stand-in Cursor API on loopback puts the credentials it received (the Authorization header, the
decoded key, its URL-encoded form) into every answer: error bodies of each status, unexpected fields
of good answers, headers, non-JSON bodies, wrongly typed fields and redirects to another host. The
real ``serve``, ``check``, ``backfill`` and ``export`` commands run against it at debug level, in both
log formats, and every channel they write to is scanned for the keys in any form.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest

from .conftest import HANG_GUARD_S, scrape
from .test_serve import run_cli

KEY = "key_" + "3f9a1c07e4b2d8a6" * 4
ORG_KEY = "key_" + "0d7e5b9c2a4f6813" * 4
ORG_ID = "org_standin"
POLLED = ("usage", "spend", "members", "activity", "ai_code", "groups", "audit", "org", "org_usage")

Answer = tuple[int, dict[str, str], bytes]


def leak_forms(key: str) -> dict[str, str]:
    """Every form of ``key`` that must never be written anywhere."""
    return {
        "key": key,
        "url-encoded key": quote(key, safe=""),
        "base64 Basic credentials": base64.b64encode(f"{key}:".encode()).decode().rstrip("="),
        "base64 key": base64.b64encode(key.encode()).decode().rstrip("="),
    }


LEAKS = {
    f"{which} {form}": text
    for which, key in (("team", KEY), ("org", ORG_KEY))
    for form, text in leak_forms(key).items()
}


def leaks_in(channel: str, data: str | bytes) -> list[str]:
    """The forms of either key found in ``data``, named by channel."""
    raw = data if isinstance(data, bytes) else data.encode()
    return [f"{channel}: {name}" for name, text in LEAKS.items() if text.encode() in raw]


class Echo:
    """What the stand-in received from the client, in the forms it echoes."""

    def __init__(self, authorization: str) -> None:
        self.authorization = authorization
        self.key = base64.b64decode(authorization.removeprefix("Basic ")).decode().rstrip(":")
        self.text = f"credentials received: {authorization} key={self.key} encoded={quote(self.key, safe='')}"


def json_answer(status: int, body: object) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def error(status: int) -> Callable[[Echo], Answer]:
    return lambda echo: json_answer(status, {"error": "Echoed", "message": echo.text})


def plain(status: int) -> Callable[[Echo], Answer]:
    return lambda echo: (status, {"Content-Type": f"text/html; note={echo.key}"}, f"<p>{echo.text}</p>".encode())


def redirect(status: int) -> Callable[[Echo], Answer]:
    def answer(echo: Echo) -> Answer:
        target = f"http://collector.invalid/steal?key={quote(echo.key)}&auth={quote(echo.authorization)}"
        return status, {"Location": target, "Content-Type": "application/json"}, json.dumps({"to": echo.text}).encode()

    return answer


def members(echo: Echo) -> Answer:
    row = {"id": "user_1", "name": "Alex", "email": "dev@example.com", "role": "member", "isRemoved": False}
    return json_answer(200, {"teamMembers": [{**row, "debugAuthorization": echo.authorization}], "echo": echo.text})


def spend(echo: Echo, extra_rows: tuple[dict, ...] = ()) -> Answer:
    cycle_start = int((datetime.now(UTC) - timedelta(days=10)).timestamp() * 1000)
    row = {
        "userId": "user_1",
        "spendCents": 1250.5,
        "overallSpendCents": 2400.25,
        "fastPremiumRequests": 3,
        "name": "Alex",
        "email": "dev@example.com",
        "role": "member",
        "hardLimitOverrideDollars": 0,
        "monthlyLimitDollars": None,
        "effectivePerUserLimitDollars": None,
        "debugKey": echo.key,
    }
    body = {
        "teamMemberSpend": [row, *extra_rows],
        "subscriptionCycleStart": cycle_start,
        "totalMembers": 1,
        "totalPages": 1,
    }
    return json_answer(200, {**body, "echo": echo.text})


def spend_of_a_user_named_by_the_key(echo: Echo) -> Answer:
    """The key in fields the exporter stores and exports: an e-mail (a label) and a name."""
    return spend(echo, ({"userId": "user_2", "spendCents": 5, "email": f"{echo.key}@example.com", "name": echo.text},))


def pool(echo: Echo) -> Answer:
    contract_start = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT00:00:00.000Z")
    body = {"pool": {"limitCents": 500000, "usedCents": 1000, "contractStartDate": contract_start, "note": echo.text}}
    return json_answer(200, {**body, "teams": [{"teamId": 7, "usedCents": 1000, "debugKey": echo.key}]})


def mistyped_events(echo: Echo) -> Answer:
    event = {"timestamp": echo.key, "userEmail": echo.key, "model": echo.text, "kind": echo.authorization}
    return json_answer(
        200, {"totalUsageEventsCount": echo.key, "pagination": {"hasNextPage": False}, "usageEvents": [event]}
    )


def mistyped_activity(echo: Echo) -> Answer:
    return json_answer(200, {"data": [{"email": echo.key, "day": echo.text, "totalLinesAdded": echo.authorization}]})


# Every route the exporter reads, answered with the credentials in it: first by error statuses and good
# answers with unexpected fields, then by the answers that take the exception paths.
SCENARIOS: dict[str, dict[tuple[str, str], Callable[[Echo], Answer]]] = {
    "errors": {
        ("GET", "/teams/members"): members,
        ("POST", "/teams/spend"): spend,
        ("POST", "/teams/filtered-usage-events"): error(400),
        ("POST", "/teams/daily-usage-data"): error(500),
        ("GET", "/analytics/ai-code/commits"): error(403),
        ("GET", "/teams/groups"): error(401),
        ("GET", "/teams/audit-logs"): plain(400),
        ("POST", "/organizations/pooled-usage"): pool,
        ("POST", "/organizations/filtered-usage-events"): error(401),
    },
    "exceptions": {
        ("GET", "/teams/members"): plain(200),
        ("POST", "/teams/spend"): spend_of_a_user_named_by_the_key,
        ("POST", "/teams/filtered-usage-events"): mistyped_events,
        ("POST", "/teams/daily-usage-data"): mistyped_activity,
        ("GET", "/analytics/ai-code/commits"): redirect(302),
        ("GET", "/teams/groups"): redirect(307),
        ("GET", "/teams/audit-logs"): lambda echo: json_answer(200, [echo.text]),
        ("POST", "/organizations/pooled-usage"): pool,
        ("POST", "/organizations/filtered-usage-events"): redirect(301),
    },
}


class StandIn:
    """A stand-in Cursor API on 127.0.0.1; counts, per route, the answers that echoed a key back."""

    def __init__(self, routes: dict[tuple[str, str], Callable[[Echo], Answer]]) -> None:
        self.echoed: Counter[str] = Counter()
        lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                echo = Echo(self.headers.get("Authorization", "Basic "))
                route = (self.command, urlparse(self.path).path)
                status, headers, body = routes.get(route, error(404))(echo)
                self.send_response(status)
                for name, value in {**headers, "X-Echo-Authorization": echo.authorization}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                if echo.key in (KEY, ORG_KEY) and echo.key.encode() in body:
                    with lock:
                        stand_in.echoed[route[1]] += 1

            do_GET = do_POST = answer

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def stand_in() -> Iterator[Callable[[str], StandIn]]:
    started: list[StandIn] = []

    def start(scenario: str) -> StandIn:
        started.append(StandIn(SCENARIOS[scenario]))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def source_states(landing: str) -> dict[str, str]:
    """Source name -> its state cell on the landing page."""
    return dict(re.findall(r'<tr><td>([a-z_]+)</td><td class="([a-z]+)">', landing))


def wait_until_every_source_answered(base_url: str) -> str:
    """The landing page once every polled source has synced (or failed) at least once."""
    deadline = time.monotonic() + HANG_GUARD_S
    landing = ""
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            landing = scrape(base_url, "/").text
        states = source_states(landing)
        if all(states.get(name, "pending") != "pending" for name in POLLED):
            return landing
        time.sleep(0.1)
    raise AssertionError(f"sources still pending after {HANG_GUARD_S}s:\n{landing[-3000:]}")


@pytest.mark.parametrize("log_format", ["logfmt", "json"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_no_output_channel_carries_a_key_whatever_the_api_echoes(
    scenario, log_format, stand_in, exporter_process, tmp_path
):
    api = stand_in(scenario)
    env = {
        "CURSOR_API_KEY": KEY,
        "CURSOR_ORG_API_KEY": ORG_KEY,
        "CURSOR_EXPORTER_ORG_ID": ORG_ID,
        "CURSOR_API_URL": api.url,
    }
    common = ["--log.level=debug", f"--log.format={log_format}", "--api.max-retries=1"]
    storage = tmp_path / "state"
    leaks: list[str] = []

    process = exporter_process(["serve", *common, f"--storage.path={storage}"], env)
    url = process.wait_for_url()
    landing = wait_until_every_source_answered(url)
    leaks += leaks_in("/", landing)
    metrics = scrape(url).text
    leaks += leaks_in("/metrics", metrics)
    leaks += leaks_in("cmdline", Path(f"/proc/{process.process.pid}/cmdline").read_bytes())
    process.stop()
    leaks += leaks_in("serve stdout/stderr", process.output)

    check = run_cli(["check", *common], env)
    leaks += leaks_in("check stdout/stderr", check.stdout + check.stderr)
    since = (datetime.now(UTC) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:00Z")
    history = tmp_path / "history.om"
    backfill = run_cli(["backfill", *common, "--from", since, "--output", str(history)], env)
    leaks += leaks_in("backfill stdout/stderr", backfill.stdout + backfill.stderr)
    export = run_cli(["export", "--log.level=debug", f"--log.format={log_format}", f"--storage.path={storage}"], env)
    leaks += leaks_in("export stdout/stderr", export.stdout + export.stderr)
    written = [path for path in [*storage.rglob("*"), history] if path.is_file()]
    for path in written:
        leaks += leaks_in(str(path.relative_to(tmp_path)), path.read_bytes())

    assert leaks == []
    # The test can fail: every route really echoed a key, and the failures it caused were reported.
    assert set(api.echoed) == {path for _, path in SCENARIOS[scenario]}, f"{api.echoed}\n{landing}\n{process.output}"
    assert any(b"dev@example.com" in path.read_bytes() for path in storage.rglob("*.sqlite*")), written
    assert "failing" in source_states(landing).values()
    assert check.returncode == 1 and backfill.returncode != 0 and export.returncode == 0
    if scenario == "errors":
        assert "[REDACTED]" in landing and "[REDACTED]" in process.output and "[REDACTED]" in check.stderr
    else:
        assert 'user="[redacted]@example.com"' in metrics  # e-mails are lower-cased
