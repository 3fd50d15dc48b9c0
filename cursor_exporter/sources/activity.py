"""Daily-activity families: active users, lines, edits, tabs and requests this cycle, versions and models."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from cursor_exporter.labels import LabelPolicy
from cursor_exporter.metrics import BY_NAME
from cursor_exporter.snapshot import Snapshot

# family -> ((label values), ledger column) pairs
CYCLE_FAMILIES = {
    "cursor_activity_cycle_lines": (
        (("added", "total"), "total_lines_added"),
        (("deleted", "total"), "total_lines_deleted"),
        (("added", "accepted"), "accepted_lines_added"),
        (("deleted", "accepted"), "accepted_lines_deleted"),
    ),
    "cursor_activity_cycle_edits": ((("apply",), "applies"), (("accept",), "accepts"), (("reject",), "rejects")),
    "cursor_activity_cycle_tabs": ((("shown",), "tabs_shown"), (("accepted",), "tabs_accepted")),
    "cursor_activity_cycle_requests": (
        (("composer",), "composer_requests"),
        (("chat",), "chat_requests"),
        (("agent",), "agent_requests"),
        (("cmdk",), "cmdk_requests"),
        (("bugbot",), "bugbot_requests"),
    ),
    "cursor_activity_cycle_requests_by_billing": (
        (("included",), "included_requests"),
        (("api_key",), "api_key_requests"),
        (("usage_based",), "usage_based_requests"),
    ),
}
REQUEST_COLUMNS = tuple(column for _, column in CYCLE_FAMILIES["cursor_activity_cycle_requests"])


def collect(snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
    """Families of the ``activity`` collector."""
    view = snapshot.activity
    if view is None:
        return
    active = BY_NAME["cursor_activity_active_users"].new()
    for days, count in sorted(view.active_users.items()):
        active.add_metric((f"{days}d",), count)
    yield active
    for name, series in CYCLE_FAMILIES.items():
        family = BY_NAME[name].new()
        for label_values, column in series:
            family.add_metric(label_values, view.cycle_totals[column])
        yield family
    versions = BY_NAME["cursor_activity_users_by_client_version"].new()
    for version, count in sorted(view.users_by_client_version.items()):
        versions.add_metric((version,), count)
    models = BY_NAME["cursor_activity_users_by_model"].new()
    for model, count in sorted(view.users_by_model.items()):
        models.add_metric((labels.model(model),), count)
    yield from (versions, models)
    if not labels.per_user_activity:
        return
    sums: dict[str, list[int]] = {}
    for email, row in view.per_user.items():
        user = labels.user(email, snapshot.tracked_users)
        totals = sums.setdefault(user, [0, 0, 0])
        totals[0] += row["accepted_lines_added"]
        totals[1] += sum(row[column] for column in REQUEST_COLUMNS)
        totals[2] += row["tabs_accepted"]
    lines, requests, tabs = (
        BY_NAME[name].new()
        for name in (
            "cursor_user_activity_cycle_accepted_lines",
            "cursor_user_activity_cycle_requests",
            "cursor_user_activity_cycle_tabs_accepted",
        )
    )
    for user, (accepted, request_count, tabs_accepted) in sorted(sums.items()):
        lines.add_metric((user,), accepted)
        requests.add_metric((user,), request_count)
        tabs.add_metric((user,), tabs_accepted)
    yield from (lines, requests, tabs)
