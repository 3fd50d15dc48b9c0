"""Label values are bounded in length on the one path every family's values take, and each cut is counted."""

from __future__ import annotations

import re
from pathlib import Path

from cursor_exporter.sources.labels import MAX_LABEL_LENGTH, LabelTruncations, bounded, truncated_values
from cursor_exporter.sources.mapping import MappingSource
from cursor_exporter.sources.members import Member, MembersSource
from tests.unit.sources.helpers import expose, snapshot

PACKAGE = Path(__file__).resolve().parents[3] / "cursor_exporter"
CUT = re.compile(rf"^.{{{MAX_LABEL_LENGTH - 17}}}~[0-9a-f]{{16}}$", re.DOTALL)


def test_a_value_up_to_the_limit_is_kept_and_not_counted():
    tally = LabelTruncations()
    value = "é" * MAX_LABEL_LENGTH
    assert tally.bound(value) == value
    assert tally.bound("") == ""
    assert tally.count == 0


def test_a_longer_value_keeps_its_start_and_ends_in_a_hash_of_the_whole():
    tally = LabelTruncations()
    value = "claude-" + "x" * 8_000_000
    cut = tally.bound(value)
    assert len(cut) == MAX_LABEL_LENGTH
    assert CUT.match(cut)
    assert cut.startswith("claude-xxx")


def test_long_values_sharing_a_start_stay_distinct_and_each_is_counted_once():
    tally = LabelTruncations()
    first, second = "a" * 300 + "1", "a" * 300 + "2"
    assert tally.bound(first) != tally.bound(second)
    assert tally.bound(first) == tally.bound(first)
    assert tally.count == 2


def test_a_rendered_family_bounds_its_label_values_and_the_process_tally_counts_them(fresh_label_truncations):
    roster = (Member(email="a@b.c", role="r" * 1000), Member(email="b@b.c", role="owner"))
    text = expose(MembersSource, snapshot({"members": roster}))
    roles = re.findall(r'cursor_team_members\{role="([^"]*)"\}', text)
    assert sorted(map(len, roles)) == [5, MAX_LABEL_LENGTH]
    assert truncated_values() == fresh_label_truncations.count == 1
    expose(MembersSource, snapshot({"members": roster}))  # rendered again: the same value, not counted again
    assert truncated_values() == 1


def test_a_family_with_label_names_from_configuration_bounds_its_values_too():
    mapping = {"a@b.c": {"team": "t" * 400}}
    text = expose(MappingSource, snapshot({"mapping": mapping}))
    assert f'team="{bounded("t" * 400)}"' in text
    assert truncated_values() == 1


def test_every_family_is_built_by_family_new_so_no_label_value_bypasses_the_bound():
    builders = re.compile(r"\b(?:Counter|Gauge|Histogram|Summary|Info|StateSet|Untyped)?MetricFamily\(")
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "families.py" and builders.search(path.read_text())
    ]
    assert offenders == []
