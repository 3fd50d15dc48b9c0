"""Prometheus text and OpenMetrics rendering, byte for byte what prometheus_client's ``generate_latest`` writes.

prometheus_client formats every label pair of every sample on its own and, for OpenMetrics, escapes every
sample name a character at a time, all of it once per format. Here each family's sample lines are
built once and shared by both formats (they differ only in the ``# HELP``/``# TYPE`` headers and where
``_created``, ``_gsum`` and ``_gcount`` samples go), from a format template per label set, with each distinct
label value escaped once. A family this cannot render exactly (timestamps, exemplars, native histograms,
sample names that either format would rewrite) is rendered by prometheus_client itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from operator import itemgetter
from typing import Any

from prometheus_client import exposition, openmetrics
from prometheus_client.core import Metric
from prometheus_client.openmetrics.exposition import (
    UNDERSCORES,
    _escape,
    _is_legacy_labelname_rune,
    escape_label_name,
    escape_metric_name,
)

OPENMETRICS_EOF = b"# EOF\n"
# Samples the text format moves out of their family into a gauge family of their own, in this order.
TEXT_MOVED_SUFFIXES = ("_created", "_gsum", "_gcount")
# Metric types renamed in the text format: (suffix added to the family name, type written).
TEXT_TYPES = {
    "counter": ("_total", "counter"),
    "info": ("_info", "gauge"),
    "stateset": ("", "gauge"),
    "gaugehistogram": ("", "histogram"),
    "unknown": ("", "untyped"),
}
_SPECIAL_VALUES = {"inf": "+Inf", "-inf": "-Inf", "nan": "NaN"}


class _Unsupported(Exception):
    """A family the fast path leaves to prometheus_client."""


class _Families:
    """The minimal registry interface ``generate_latest`` needs."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterable[Metric]:
        return self._metrics


class _Escaped(dict[str, str]):
    """Label values escaped as in the exposition formats, each distinct value escaped once."""

    def __missing__(self, value: str) -> str:
        escaped = value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
        self[value] = escaped
        return escaped


def go_float(value: Any) -> str:
    """``value`` as prometheus_client's ``floatToGoString`` writes it (``+Inf``, ``NaN``, ``1.5e+07``, ``3.0``)."""
    number = float(value)
    text = repr(number)
    dot = text.find(".")
    if dot > 0:
        if dot > 6 and number > 0:  # Go writes an exponent from 1e+06 up, Python's repr from 1e+16
            mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
            return f"{mantissa}e+{dot - 1:02d}"
        return text
    return _SPECIAL_VALUES.get(text, text)


_Shape = tuple[Callable[..., str], Callable[[Mapping[str, str]], Any], str | None]


def _shape(name: str, keys: Iterable[str], moved_suffix: str | None) -> _Shape:
    """(format, getter, moved suffix) of the samples named ``name`` with label names ``keys``:
    ``format(*escaped values, value)`` is the sample line, the values taken in the order of ``getter(labels)``."""
    # The text format writes escape_metric_name(name), OpenMetrics the name with every character outside
    # [a-zA-Z_0-9] made "_": only a name both leave alone is shared by the two.
    if escape_metric_name(name) != name or _escape(name, UNDERSCORES, _is_legacy_labelname_rune) != name:
        raise _Unsupported(name)
    ordered = sorted(keys)
    if not ordered:
        return f"{_literal(name)} {{0}}\n".format, lambda labels: (), moved_suffix
    pairs = ",".join(f'{_literal(escape_label_name(key))}="{{{i}}}"' for i, key in enumerate(ordered))
    # One key would make itemgetter return the bare value; two of it keep the result a tuple.
    getter = itemgetter(*ordered) if len(ordered) > 1 else itemgetter(ordered[0], ordered[0])
    slot = max(len(ordered), 2)
    return f"{_literal(name)}{{{{{pairs}}}}} {{{slot}}}\n".format, getter, moved_suffix


def _literal(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _sample_lines(metric: Metric, escaped: _Escaped) -> tuple[list[str], dict[str, list[int]]]:
    """Every sample line in order, and the positions of those the text format moves, by suffix."""
    lines: list[str] = []
    moved: dict[str, list[int]] = {}
    moved_names = {metric.name + suffix: suffix for suffix in TEXT_MOVED_SUFFIXES}
    shapes: dict[tuple[str, frozenset[str]], _Shape] = {}

    def shape_of(name: str, labels: Mapping[str, str]) -> _Shape:
        key = (name, frozenset(labels))
        if key not in shapes:
            shapes[key] = _shape(name, labels, moved_names.get(name))
        return shapes[key]

    append, lookup = lines.append, escaped.__getitem__
    name, size, line_format, getter, moved_suffix = "", -1, None, None, None
    for sample_name, labels, value, timestamp, exemplar, native in metric.samples:
        if timestamp is not None or exemplar is not None or native is not None or value is None:
            raise _Unsupported(sample_name)
        if sample_name != name or len(labels) != size:
            name, size = sample_name, len(labels)
            line_format, getter, moved_suffix = shape_of(name, labels)
        try:
            values = getter(labels)
        except KeyError:  # as many labels as the sample before, not the same names
            line_format, getter, moved_suffix = shape_of(name, labels)
            values = getter(labels)
        if moved_suffix is not None:
            moved.setdefault(moved_suffix, []).append(len(lines))
        append(line_format(*map(lookup, values), go_float(value)))
    return lines, moved


def _family(metric: Metric, escaped: _Escaped) -> tuple[bytes, bytes]:
    """One family in the text format and in OpenMetrics."""
    lines, moved = _sample_lines(metric, escaped)
    suffix, text_type = TEXT_TYPES.get(metric.type, ("", metric.type))
    text_help = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
    text_name = escape_metric_name(metric.name + suffix)
    open_name = escape_metric_name(metric.name)
    open_help = text_help.replace('"', r"\"")
    open_head = f"# HELP {open_name} {open_help}\n# TYPE {open_name} {metric.type}\n"
    if metric.unit:
        open_head += f"# UNIT {open_name} {metric.unit}\n"
    body = "".join(lines)
    text_body = body
    if moved:
        gone = {at for group in moved.values() for at in group}
        text_body = "".join(line for at, line in enumerate(lines) if at not in gone)
        for moved_suffix, group in sorted(moved.items()):
            gauge = escape_metric_name(metric.name + moved_suffix)
            text_body += f"# HELP {gauge} {text_help}\n# TYPE {gauge} gauge\n" + "".join(lines[at] for at in group)
    text = f"# HELP {text_name} {text_help}\n# TYPE {text_name} {text_type}\n{text_body}"
    return text.encode(), (open_head + body).encode()


def _by_prometheus_client(metric: Metric) -> tuple[bytes, bytes]:
    families = _Families([metric])
    open_text = openmetrics.exposition.generate_latest(families).removesuffix(OPENMETRICS_EOF)
    return exposition.generate_latest(families), open_text


def render_families(metrics: Iterable[Metric]) -> tuple[bytes, bytes]:
    """The families in the Prometheus text format and in OpenMetrics without its closing ``# EOF``."""
    escaped = _Escaped()
    text: list[bytes] = []
    open_text: list[bytes] = []
    for metric in metrics:
        try:
            family_text, family_open = _family(metric, escaped)
        except Exception:  # unsupported, or malformed: prometheus_client renders it, or raises its own error
            family_text, family_open = _by_prometheus_client(metric)
        text.append(family_text)
        open_text.append(family_open)
        del metric  # else it lives on while a generator of families builds the next one
    return b"".join(text), b"".join(open_text)
