from datetime import UTC, datetime

from freezegun import freeze_time

from cursor_exporter.output.landing import landing_page
from cursor_exporter.sources.base import Snapshot, SourceStatus, TeamOverview
from cursor_exporter.timegrid import wall_clock_ms


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@freeze_time("2026-11-18 15:00:00")
def test_wall_clock_and_landing_page_use_the_frozen_clock():
    assert wall_clock_ms() == ms("2026-11-18T15:00:00")
    status = SourceStatus("usage", success=False, last_success_s=wall_clock_ms() / 1000, last_error="x < y")
    snapshot = Snapshot(version="1.2.3", statuses=(status,))
    overview = TeamOverview(None, "https://api.cursor.com", "/state")
    page = landing_page("1.2.3", [(overview, snapshot)], "/metrics").decode()
    assert "2026-11-18 15:00:00 UTC" in page
    assert "failing" in page and "x &lt; y" in page
