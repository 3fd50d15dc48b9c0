import re

from cursor_exporter.commands.docs import METRICS_DOC, README, metrics_markdown, readme_with_configuration
from cursor_exporter.sources import FAMILIES
from cursor_exporter.sources.families import MAX_HELP, POLLING_NOTE


def test_committed_metrics_doc_matches_the_code():
    assert METRICS_DOC.read_text() == metrics_markdown(), "run: python -m cursor_exporter.commands.docs"


def test_committed_readme_configuration_table_matches_the_settings():
    readme = README.read_text()
    assert readme == readme_with_configuration(readme), "run: python -m cursor_exporter.commands.docs"


def test_every_family_says_briefly_what_it_is_and_where_it_comes_from_and_follows_naming_rules():
    for family in FAMILIES:
        assert "Source: " in family.help and len(family.help) <= MAX_HELP, family.name
        assert POLLING_NOTE not in family.help  # said once, in docs/metrics.md, for the sources it is true of
        assert re.fullmatch(r"cursor_[a-z0-9_]+", family.name)
        assert family.name.endswith("_total") == (family.type == "counter"), family.name
        if "usd" in family.name:
            assert "dollars" in family.meaning.lower() or "revisions" in family.meaning.lower()
    assert len({family.name for family in FAMILIES}) == len(FAMILIES)
