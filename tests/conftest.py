"""Fixtures every test shares."""

from __future__ import annotations

import pytest

from cursor_exporter.sources import labels


@pytest.fixture(autouse=True)
def fresh_label_truncations(monkeypatch: pytest.MonkeyPatch) -> labels.LabelTruncations:
    """A tally of cut label values of the test's own: the process-wide one would carry other tests' cuts
    into an exact exposition."""
    tally = labels.LabelTruncations()
    monkeypatch.setattr(labels, "TRUNCATIONS", tally)
    return tally
