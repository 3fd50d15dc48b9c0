"""An endless answer fails its sync at the sync's deadline instead of holding the exporter for ever."""

import json

import httpx
import pytest

from cursor_exporter.api.client import ApiError
from cursor_exporter.ledger.scan import WindowScanner
from cursor_exporter.ledger.tally import WindowAggregate
from cursor_exporter.ledger.windows import Window
from cursor_exporter.sources.usage import TEAM_EVENTS

from ..api.test_client import mocked_client

T0 = 1_767_225_600_000


def endless_pages(request: httpx.Request) -> httpx.Response:
    """One event per page, a next page for ever, and a total no scan could reach."""
    page = json.loads(request.content)["page"]
    event = {
        "timestamp": str(T0 + page % 1000),
        "userEmail": "a@b.c",
        "model": "gpt-5",
        "kind": "Usage-based",
        "maxMode": False,
        "isTokenBasedCall": False,
        "requestsCosts": 1,
        "chargedCents": 1,
    }
    body = {"totalUsageEventsCount": 10**9, "pagination": {"hasNextPage": True}, "usageEvents": [event]}
    return httpx.Response(200, json=body)


def test_a_next_page_for_ever_fails_the_sync_at_its_deadline_after_a_bounded_number_of_requests():
    client, slept = mocked_client(endless_pages, rate_limit_share=0.5)
    scanner = WindowScanner(client, TEAM_EVENTS)
    with client.sync_deadline(600), pytest.raises(ApiError, match="sync ran out of its 600s"):
        scanner.scan(Window(T0, T0 + 3_600_000 - 1), WindowAggregate())
    requests = sum(client.stats.copy()[0].values())
    assert sum(slept) >= 600  # the fake clock moved only through the rate limiter's waits
    assert 0 < requests <= 30 * 11  # at most the 30/min this share allows over the 10 minutes, plus one window
    with client.sync_deadline(None):  # outside a deadline (or after it) requests run again
        assert scanner.page(Window(T0, T0 + 1), 1).received == 1


def test_pages_beyond_what_the_reported_total_allows_are_refused():
    def thin_pages(request: httpx.Request) -> httpx.Response:
        answer = endless_pages(request)
        body = json.loads(answer.content) | {"totalUsageEventsCount": 2500}  # one event a page, a next for ever
        return httpx.Response(200, json=body)

    client, _ = mocked_client(thin_pages, rate_limit_share=1.0)
    with pytest.raises(ApiError, match="more than 5 pages for 2500 events"):
        WindowScanner(client, TEAM_EVENTS).scan(Window(T0, T0 + 3_600_000 - 1), WindowAggregate())
    assert sum(client.stats.copy()[0].values()) == 5  # 3 full pages' worth, plus the margin of 2
