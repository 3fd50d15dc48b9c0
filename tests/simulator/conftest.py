"""Fixtures of the simulator tests."""

from __future__ import annotations

import pytest

from .helpers import Running, start


@pytest.fixture
def api():
    sim, server, client = start()
    yield sim, client
    client.close()
    server.stop()


@pytest.fixture
def running():
    instances = []

    def make(**overrides) -> Running:
        instance = Running(**overrides)
        instances.append(instance)
        return instance

    yield make
    for instance in instances:
        instance.close()
