"""Faithful, seeded fake of the Cursor Admin API for tests and demo mode.

Independent of the rest of ``cursor_exporter`` on purpose: it is the referee
that catches the exporter's misreadings of the API reference.

    clock = SimClock(speed=0)
    sim = Simulator(SimulatorConfig(seed=7, users=10), clock=clock)
    server = sim.serve()          # server.url, server.port, server.stop()
    sim.faults.inject("503", count=2)
    sim.truth()                   # exact aggregates of what is served now
    sim.truth_daily(start_ms, end_ms), sim.truth_groups(), sim.truth_org(), sim.truth_ai_code(),
    sim.truth_audit(start_ms, end_ms)
                                  # also GET /_sim/truth/{daily,groups,org,ai-code,audit}
"""

from .clock import SimClock
from .config import FAULT_KINDS, SimulatorConfig
from .server import SimServer
from .simulator import Simulator, run_simulator

__all__ = ["FAULT_KINDS", "SimClock", "SimServer", "Simulator", "SimulatorConfig", "run_simulator"]
