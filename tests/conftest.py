"""Fixtures every test shares."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from cursor_exporter.sources import labels


@pytest.fixture(autouse=True)
def fresh_label_truncations(monkeypatch: pytest.MonkeyPatch) -> labels.LabelTruncations:
    """A tally of cut label values of the test's own: the process-wide one would carry other tests' cuts
    into an exact exposition."""
    tally = labels.LabelTruncations()
    monkeypatch.setattr(labels, "TRUNCATIONS", tally)
    return tally


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    """Root logging as it was before the test: a command run in-process configures logging for the whole
    process, with a handler on a stream the test's capture closes afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
