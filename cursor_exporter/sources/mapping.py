"""Source ``mapping`` (no API calls): the user mapping file as ``cursor_user_info``, with the file's
columns (team, cost center, ...) as labels, for PromQL joins with any per-user family.

The file is one for the whole exporter, so with several ``[[teams]]`` its series are rendered once,
without the exporter's ``team`` label: a ``team`` column keeps the file's meaning.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.core import Metric

from cursor_exporter.sources.base import Snapshot, Source
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.labels import OTHER_USER, LabelPolicy

USER_INFO = Family(
    "cursor_user_info",
    "gauge",
    ("user",),
    "Always 1, labelled with the user mapping file's columns (team, cost center, ...) for joins "
    "with any per-user family.",
    "--metrics.user-mapping-file",
    per_user=True,
)


class MappingSource(Source):
    """The rows of ``--metrics.user-mapping-file``, email -> {column: value}."""

    name = "mapping"
    order = 100
    reads = ("usage",)  # the team cap's picks
    help = "cursor_user_info from --metrics.user-mapping-file."
    per_team = False
    families = (USER_INFO,)

    def state(self) -> Mapping[str, Mapping[str, str]]:
        return self.context.options.user_mapping

    @classmethod
    def render(cls, snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
        mapping: Mapping[str, Mapping[str, str]] | None = snapshot.part(cls.name)
        if not mapping or not labels.per_user:
            return
        columns = sorted({column for row in mapping.values() for column in row})
        info = USER_INFO.new(("user", *columns))
        seen: set[tuple[str, ...]] = set()
        for email, row in sorted(mapping.items()):
            user = labels.user(email, snapshot.tracked_users)
            values = (user, *(row.get(column, "") for column in columns))
            if user != OTHER_USER and values not in seen:
                seen.add(values)
                info.add_metric(values, 1)
        yield info
