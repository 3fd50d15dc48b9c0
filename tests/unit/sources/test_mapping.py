"""Source ``mapping``: the user mapping file as ``cursor_user_info``, its columns as labels."""

from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.sources.mapping import USER_INFO, MappingSource
from tests.unit.sources.helpers import expose, head, snapshot

# Rows out of order; bob has no cost_center; dee's row equals ann's.
MAPPING = {
    "dee@x.io": {"team": "core", "cost_center": "cc-1"},
    "bob@x.io": {"team": "web"},
    "ann@x.io": {"cost_center": "cc-1", "team": "core"},
    "cy@y.io": {"team": 'R&D "labs"', "cost_center": "cc-2"},
}


def test_without_a_mapping_or_with_an_empty_one_nothing_is_rendered():
    assert expose(MappingSource, snapshot({"mapping": None})) == ""
    assert expose(MappingSource, snapshot({"mapping": {}})) == ""


def test_every_row_becomes_one_series_with_every_column_as_a_label_and_missing_ones_empty():
    assert expose(MappingSource, snapshot({"mapping": MAPPING})) == (
        head(USER_INFO)
        + 'cursor_user_info{cost_center="cc-1",team="core",user="ann@x.io"} 1.0\n'
        + 'cursor_user_info{cost_center="",team="web",user="bob@x.io"} 1.0\n'
        + 'cursor_user_info{cost_center="cc-2",team="R&D \\"labs\\"",user="cy@y.io"} 1.0\n'
        + 'cursor_user_info{cost_center="cc-1",team="core",user="dee@x.io"} 1.0\n'
    )


def test_domain_mode_keeps_one_series_per_distinct_label_set():
    assert expose(MappingSource, snapshot({"mapping": MAPPING}), LabelPolicy(user_mode="domain")) == (
        head(USER_INFO)
        + 'cursor_user_info{cost_center="cc-1",team="core",user="x.io"} 1.0\n'
        + 'cursor_user_info{cost_center="",team="web",user="x.io"} 1.0\n'
        + 'cursor_user_info{cost_center="cc-2",team="R&D \\"labs\\"",user="y.io"} 1.0\n'
    )


def test_users_outside_the_cap_get_no_series_not_even_as_other():
    snap = snapshot({"mapping": MAPPING}, tracked_users=frozenset({"ann@x.io", "cy@y.io"}))
    assert expose(MappingSource, snap) == (
        head(USER_INFO)
        + 'cursor_user_info{cost_center="cc-1",team="core",user="ann@x.io"} 1.0\n'
        + 'cursor_user_info{cost_center="cc-2",team="R&D \\"labs\\"",user="cy@y.io"} 1.0\n'
    )


def test_user_mode_none_renders_nothing():
    assert expose(MappingSource, snapshot({"mapping": MAPPING}), LabelPolicy(user_mode="none")) == ""
