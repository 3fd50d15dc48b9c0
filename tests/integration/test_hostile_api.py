"""A hostile stand-in of the Cursor API over loopback: impossible values in its rows are counted by reason and
left out, everything else is served and stored, and a billing-cycle or contract start that cannot be true
fails its source with one line instead of planning windows back to 1970."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cursor_exporter.timegrid import DAY_MS, HOUR_MS, floor_hour

from .conftest import build_engine, exposition

NOW_MS = 1_795_014_000_000  # 2026-11-18T15:00:00Z
CYCLE_START_MS = floor_hour(NOW_MS) - 2 * HOUR_MS
EVENTS = "/teams/filtered-usage-events"
GOOD_EVENT = {
    "userEmail": "ann@x.io",
    "model": "gpt-5",
    "kind": "Usage-based",
    "isTokenBasedCall": True,
    "tokenUsage": {"inputTokens": 100, "outputTokens": 10, "cacheWriteTokens": 0, "cacheReadTokens": 0},
    "chargedCents": 37.33,
}
HOSTILE_EVENTS = {  # field changes -> the reason each is counted under
    "out_of_range": [
        {"tokenUsage": {"inputTokens": 2**63}},
        {"tokenUsage": {"outputTokens": -5}},
        {"chargedCents": -50000},
        {"chargedCents": 1e308},
    ],
    "bad_text": [{"userEmail": "dev\ud800@x.io"}, {"model": "m" * 8_000_000}, {"kind": "Usage\x00based"}],
}


class StandIn(ThreadingHTTPServer):
    """Canned answers by route; every usage event is stamped into the window asked for, one just before it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.spend = {
            "teamMemberSpend": [
                {"email": "ann@x.io", "spendCents": 1250},
                {"email": "eve\udfff@x.io", "spendCents": 1},
                {"email": "neg@x.io", "spendCents": -50000},
                {"email": "nan@x.io", "spendCents": float("nan")},
            ],
            "subscriptionCycleStart": CYCLE_START_MS,
            "totalPages": 1,
        }
        self.members = [
            {"email": "ann@x.io", "role": "member"},
            {"email": "bob@x.io", "name": "Bob \ud800", "role": "member"},
            {"email": "cy@x.io", "role": "r" * 2000},
        ]
        self.pool = {"pool": {"usedCents": 10, "contractStartDate": "2026-01-01T00:00:00Z"}, "teams": []}
        self.requests: Counter[str] = Counter()

    def events(self, start_ms: int) -> dict:
        changes = [change for changes in HOSTILE_EVENTS.values() for change in changes]
        rows = [{**GOOD_EVENT, **change, "timestamp": str(start_ms)} for change in [{}, *changes]]
        rows.append({**GOOD_EVENT, "timestamp": str(start_ms - 1)})  # outside the window asked for
        pagination = {"numPages": 1, "currentPage": 1, "pageSize": 1000, "hasNextPage": False}
        return {"totalUsageEventsCount": len(rows), "pagination": pagination, "usageEvents": rows}

    def answer(self, path: str, body: dict) -> object:
        self.requests[path] += 1
        if path == EVENTS:
            return self.events(body["startDate"])
        return {
            "/teams/spend": self.spend,
            "/teams/members": {"teamMembers": self.members},
            "/organizations/pooled-usage": self.pool,
        }[path]


class Handler(BaseHTTPRequestHandler):
    server: StandIn

    def do_GET(self) -> None:
        self._respond({})

    def do_POST(self) -> None:
        self._respond(json.loads(self.rfile.read(int(self.headers["content-length"]))))

    def _respond(self, body: dict) -> None:
        # ensure_ascii writes lone surrogates as \\ud800 escapes and NaN as NaN, as a broken server would.
        payload = json.dumps(self.server.answer(self.path.partition("?")[0], body)).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def engines(stand_in, tmp_path):
    """Engines against the stand-in on one storage, as one exporter run after another; each closes the last."""
    closing: list = []

    def start(collectors=("spend", "members", "usage"), **org):
        for closable in closing:
            closable.close()
        engine, closables = build_engine(
            f"http://127.0.0.1:{stand_in.server_address[1]}",
            "crsr_standin",
            tmp_path,
            collectors,
            lambda: NOW_MS,
            **org,
        )
        closing[:] = closables
        return engine

    yield start
    for closable in closing:
        closable.close()


def usage_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("cursor_usage_", "cursor_user_", "cursor_team_"))]


def malformed(endpoint: str, reason: str, count: int) -> str:
    return f'cursor_exporter_malformed_records_total{{endpoint="{endpoint}",reason="{reason}"}} {float(count)}\n'


def test_hostile_rows_are_counted_by_reason_and_left_out_while_the_rest_is_served_stored_and_restored(engines):
    engine = engines()
    assert engine.run("spend") and engine.run("members") and engine.run("usage")
    assert engine.run("usage")  # the window is fetched again: nothing in the ledger blocks it
    text = exposition(engine)  # encodes: no lone surrogate reached a label
    scans = 2  # each scan of the window counts what it received
    for reason, changes in HOSTILE_EVENTS.items():
        assert malformed(EVENTS, reason, len(changes) * scans) in text
    assert malformed(EVENTS, "outside_window", scans) in text
    assert malformed("/teams/spend", "bad_text", 1) in text
    assert malformed("/teams/spend", "out_of_range", 2) in text
    assert malformed("/teams/members", "bad_text", 2) in text
    assert re.search(r'^cursor_usage_cycle_charged_usd\{[^}]*model="gpt-5"[^}]*\} 0\.3733$', text, re.MULTILINE)
    assert 'cursor_user_spend_usd{user="ann@x.io"} 12.5\n' in text
    assert "cursor_team_spend_usd 12.5\n" in text
    assert 'cursor_team_members{role="member"} 1.0\n' in text
    assert "m" * 300 not in text and "-499.74" not in text and "e+306" not in text
    restarted = engines()
    assert usage_lines(exposition(restarted)) == usage_lines(text)  # the same ledger and state, read back
    assert restarted.run("spend") and restarted.run("members") and restarted.run("usage")


@pytest.mark.parametrize("start", [0, "1672531199999", NOW_MS + DAY_MS + 1, "2026-11-21", "never"])
def test_an_impossible_cycle_start_fails_spend_with_one_line_stores_nothing_and_plans_no_window(
    engines, stand_in, start
):
    stand_in.spend["subscriptionCycleStart"] = start
    engine = engines()
    assert not engine.run("spend")
    assert not engine.run("usage")
    (status,) = [status for status in engine.snapshot().statuses if status.name == "spend"]
    assert "subscriptionCycleStart" in status.last_error and "\n" not in status.last_error
    assert engine.context.store.get_json("spend") is None
    assert stand_in.requests[EVENTS] == 0
    stand_in.spend["subscriptionCycleStart"] = CYCLE_START_MS
    assert engine.run("spend") and engine.run("usage")
    assert stand_in.requests[EVENTS] == 1


@pytest.mark.parametrize("start", ["1970-01-01T00:00:00Z", "2026-11-20T00:00:00Z", "one day"])
def test_an_impossible_contract_start_fails_the_pool_with_one_line(engines, stand_in, start):
    stand_in.pool["pool"]["contractStartDate"] = start
    engine = engines(("spend", "org"), org_api_key="crsr_org_standin", org_id="org_1")
    assert not engine.run("org")
    (status,) = [status for status in engine.snapshot().statuses if status.name == "org"]
    assert ("contractStartDate" in status.last_error or "could not be parsed" in status.last_error) and (
        "\n" not in status.last_error
    )
    stand_in.pool["pool"]["contractStartDate"] = "2026-11-19T00:00:00Z"  # within a day: clocks disagree
    assert engine.run("org")
