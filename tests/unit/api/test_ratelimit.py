from cursor_exporter.api.ratelimit import SlidingWindowLimiter, limit_for
from cursor_exporter.sources.members import TEAM_MEMBERS_ENDPOINT
from cursor_exporter.sources.spend import TEAM_SPEND
from cursor_exporter.sources.usage import TEAM_EVENTS


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_limiter_never_allows_more_than_the_limit_in_any_window():
    fake = FakeTime()
    limiter = SlidingWindowLimiter(5, 60.0, clock=fake.clock, sleep=fake.sleep)
    sent = []
    for _ in range(23):
        slot, _ = limiter.acquire()
        sent.append(fake.now)
        fake.now += 1.0
        limiter.complete(slot)
    for i, start in enumerate(sent):
        in_window = [t for t in sent[i:] if t < start + 60.0]
        assert len(in_window) <= 5


def test_retry_after_blocks_every_caller_for_that_long():
    fake = FakeTime()
    limiter = SlidingWindowLimiter(100, 60.0, clock=fake.clock, sleep=fake.sleep)
    limiter.acquire()
    limiter.block_for(60)
    _, waited = limiter.acquire()
    assert waited == 60


def test_a_slow_request_counts_from_its_end_so_the_server_never_sees_too_many():
    fake = FakeTime()
    limiter = SlidingWindowLimiter(1, 60.0, clock=fake.clock, sleep=fake.sleep)
    slot, _ = limiter.acquire()
    fake.now += 10.0  # the request took 10 s; the server saw it somewhere in those 10 s
    limiter.complete(slot)
    _, waited = limiter.acquire()
    assert waited == 60.0


def test_budget_is_a_share_of_cursors_documented_limits():
    assert limit_for(TEAM_EVENTS, 0.5) == 30
    assert limit_for(TEAM_SPEND, 0.5) == 10
    assert limit_for(TEAM_MEMBERS_ENDPOINT, 1.0) == 20
    assert limit_for(TEAM_MEMBERS_ENDPOINT, 0.01) == 1
