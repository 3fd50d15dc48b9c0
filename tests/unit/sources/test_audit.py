"""Source ``audit``: audit-log events counted by event type and application."""

from types import MappingProxyType

from cursor_exporter.sources.audit import AUDIT_EVENTS, AuditSource
from cursor_exporter.sources.labels import LabelPolicy
from tests.unit.sources.helpers import expose, head, snapshot

COUNTS = MappingProxyType(
    {
        ("team_member_added", "cursor"): 2,
        ("login", "grok_bot"): 1,
        ("api_key_created", "none"): 1,
        ("login", "cursor"): 5,
    }
)


def test_without_counts_nothing_is_rendered():
    assert expose(AuditSource, snapshot({"audit": None})) == ""


def test_an_empty_audit_log_renders_the_family_without_series():
    assert expose(AuditSource, snapshot({"audit": MappingProxyType({})})) == head(AUDIT_EVENTS)


def test_counts_are_sorted_by_event_type_then_application():
    assert expose(AuditSource, snapshot({"audit": COUNTS})) == (
        head(AUDIT_EVENTS)
        + 'cursor_audit_events_total{application_type="none",event_type="api_key_created"} 1.0\n'
        + 'cursor_audit_events_total{application_type="cursor",event_type="login"} 5.0\n'
        + 'cursor_audit_events_total{application_type="grok_bot",event_type="login"} 1.0\n'
        + 'cursor_audit_events_total{application_type="cursor",event_type="team_member_added"} 2.0\n'
    )


def test_audit_events_have_no_user_label_so_user_mode_none_keeps_them():
    counts = MappingProxyType({("login", "cursor"): 3})
    assert expose(AuditSource, snapshot({"audit": counts}), LabelPolicy(user_mode="none")) == (
        head(AUDIT_EVENTS) + 'cursor_audit_events_total{application_type="cursor",event_type="login"} 3.0\n'
    )
