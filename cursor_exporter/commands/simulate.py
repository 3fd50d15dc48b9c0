"""The ``simulate`` command: the Cursor Admin API simulator on its own, for dashboards or other tools."""

from __future__ import annotations

import threading
from typing import Any

from cursor_exporter.simulator import SimClock, Simulator, SimulatorConfig


def simulate(args: dict[str, Any]) -> int:
    """Serve a simulated team on ``--simulator.port`` until interrupted."""
    config = SimulatorConfig(seed=args["sim_seed"], users=args["sim_users"], enterprise=args["sim_enterprise"])
    sim = Simulator(config, clock=SimClock(speed=args["sim_speed"]))
    server = sim.serve(host="127.0.0.1", port=args["sim_port"])
    print(f"simulated Cursor Admin API at {server.url}; API key {config.api_key}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
