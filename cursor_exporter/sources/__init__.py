"""The source registry: every Cursor data source, one module each, in exposition order.

The registry drives the ``--collector.<name>`` and ``--sync.<name>-interval`` settings, the
scheduler's jobs, the snapshot's parts, the client's allow-list, ``docs/metrics.md`` and the OTLP
instruments. Adding a source is adding its module: it is found here at import.
"""

from __future__ import annotations

import importlib
import pkgutil

from cursor_exporter.sources.base import Source
from cursor_exporter.sources.families import Family


def _discover() -> tuple[type[Source], ...]:
    """Every :class:`Source` subclass of this package's modules, by ``order``; like node_exporter's
    ``registerCollector``, a source registers itself by being a module here."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    classes, found = [Source], []
    while classes:  # every subclass, however deep: a source may build on a shared base such as LedgerSource
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        if "name" in vars(cls):
            found.append(cls)
    found.sort(key=lambda cls: cls.order)
    for attribute in ("name", "order"):
        values = [getattr(cls, attribute) for cls in found]
        if len(set(values)) != len(values):
            raise RuntimeError(f"two sources share a {attribute}: {sorted(values)}")
    return tuple(found)


SOURCES = _discover()
BY_NAME: dict[str, type[Source]] = {source.name: source for source in SOURCES}
FAMILIES: tuple[Family, ...] = tuple(family for source in SOURCES for family in source.families)
FAMILY_BY_NAME: dict[str, Family] = {family.name: family for family in FAMILIES}
FAMILY_SOURCE: dict[str, str] = {family.name: source.name for source in SOURCES for family in source.families}
ENDPOINTS = tuple(dict.fromkeys(endpoint for source in SOURCES for endpoint in source.endpoints))
READ_ENDPOINTS = frozenset(endpoint.route for endpoint in ENDPOINTS)
POLLING = tuple(source.name for source in SOURCES if source.interval_s is not None)
SWITCHABLE = tuple(source.name for source in SOURCES if source.switchable)
