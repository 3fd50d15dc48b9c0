"""The ``demo`` command: the exporter against the built-in simulator of a Cursor team, no key needed.

Every feature is on, so that every dashboard panel has data: Enterprise (groups, AI code tracking),
an organization with a pooled budget, a seat price and budgets. The clock runs 60 times faster.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from pydantic import SecretStr

from cursor_exporter.commands.config import Settings, TeamSource
from cursor_exporter.commands.serve import build_exporter
from cursor_exporter.simulator import SimClock, Simulator, SimulatorConfig
from cursor_exporter.sources import POLLING

DEMO_SPEED = 60.0
DEMO_INTERVAL_S = 30.0
DEMO_ORG_KEY = "org_demo_key"
DEMO_GROUP_BUDGETS = {"Engineering": Decimal(800), "Data Platform": Decimal(400), "Design": Decimal(200)}


def demo(settings: Settings) -> int:
    """Serve metrics of a simulated team until signalled."""
    sim = Simulator(
        SimulatorConfig(seed=42, enterprise=True, org_api_key=DEMO_ORG_KEY), clock=SimClock(speed=DEMO_SPEED)
    )
    server = sim.serve(host="127.0.0.1", port=0)
    storage = Path(tempfile.mkdtemp(prefix="cursor-exporter-demo-"))
    demo_settings = settings.model_copy(
        update={
            "storage_path": storage,
            **{f"sync_{name}_interval": DEMO_INTERVAL_S for name in POLLING},
            "org_api_key": SecretStr(DEMO_ORG_KEY),
            "org_id": sim.config.organization_id,
            "billing_seat_price_usd": settings.billing_seat_price_usd or Decimal(40),
            "budget_team_monthly_usd": settings.budget_team_monthly_usd or Decimal(1500),
            "budget_user_default_usd": settings.budget_user_default_usd or Decimal(100),
            "budget_groups": settings.budget_groups or DEMO_GROUP_BUDGETS,
        }
    )
    try:
        exporter = build_exporter(
            demo_settings, [TeamSource(None, server.url, sim.config.api_key)], clock_ms=sim.clock.now_ms, mode="demo"
        )
        if exporter is None:
            return 1
        print(
            f"cursor-exporter demo: simulated Cursor team at {server.url} (clock x{DEMO_SPEED:g}); "
            f"metrics at {exporter.url}{settings.web_telemetry_path}; state in {storage}",
            flush=True,
        )
        exporter.run_until_signalled()
        return 0
    finally:
        server.stop()
