import httpx
import pytest

from cursor_exporter.client import READ_ENDPOINTS, CursorClient, WriteEndpointRefused

WRITE_ENDPOINTS = [
    ("POST", "/teams/user-spend-limit"),
    ("POST", "/teams/user-spend-limits"),
    ("POST", "/teams/remove-member"),
    ("POST", "/teams/groups"),
    ("PATCH", "/teams/groups/group_1"),
    ("DELETE", "/teams/groups/group_1"),
    ("POST", "/teams/groups/group_1/members"),
    ("DELETE", "/teams/groups/group_1/members"),
    ("POST", "/settings/repo-blocklists/repos/upsert"),
    ("DELETE", "/settings/repo-blocklists/repos/r1"),
    ("PUT", "/teams/model-access/configuration"),
    ("POST", "/organizations/team-memberships/sync"),
    ("GET", "/teams/spend"),  # a read route with the wrong method is not on the list either
]


@pytest.mark.parametrize(("method", "path"), WRITE_ENDPOINTS)
def test_write_endpoints_are_refused_before_any_request(method, path):
    sent = []
    client = CursorClient("http://127.0.0.1:9", "crsr_secret")
    client._http = httpx.Client(transport=httpx.MockTransport(lambda request: sent.append(request)))
    with pytest.raises(WriteEndpointRefused):
        client.request(method, path, {})
    assert sent == []


def test_allow_list_holds_only_reads():
    assert {path for _, path in READ_ENDPOINTS} <= {
        "/teams/members",
        "/teams/spend",
        "/teams/daily-usage-data",
        "/teams/filtered-usage-events",
        "/teams/groups",
    }
