import re

from cursor_exporter.commands.docs import METRICS_DOC, README, metrics_markdown, readme_with_configuration
from cursor_exporter.sources import FAMILIES
from cursor_exporter.sources.families import POLLING_NOTE


def test_committed_metrics_doc_matches_the_code():
    assert METRICS_DOC.read_text() == metrics_markdown(), "run: python -m cursor_exporter.commands.docs"


def test_committed_readme_configuration_table_matches_the_settings():
    readme = README.read_text()
    assert readme == readme_with_configuration(readme), "run: python -m cursor_exporter.commands.docs"


def test_every_family_says_where_it_comes_from_that_it_is_polled_and_follows_naming_rules():
    for family in FAMILIES:
        assert "Source: " in family.help and POLLING_NOTE in family.help
        assert re.fullmatch(r"cursor_[a-z0-9_]+", family.name)
        assert family.name.endswith("_total") == (family.type == "counter"), family.name
        if "usd" in family.name:
            assert "dollars" in family.meaning.lower() or "revisions" in family.meaning.lower()
    assert len({family.name for family in FAMILIES}) == len(FAMILIES)
