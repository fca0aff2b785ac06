"""The client's calls for the operator: a limits change sends what the caller set (an explicit null
puts a limit back to the server's default), a cascade delete says so in its query, and the token
list asks for one site's tokens only when told to."""

from __future__ import annotations

import json

import respx

from shared.models import LimitsUpdate, SiteUpdate
from tui.client import SiteSecretsClient

BASE = "http://127.0.0.1:8716"
LIMITS = {"max_secrets": 7, "max_value_bytes": 65536, "max_name_length": 256, "max_versions": 10, "trash_days": 30}
SITE = {"name": "s", "created_at": "2024-01-01T00:00:00Z", "secret_count": 0, "limits": LIMITS,
        "usage": {"secrets": 0, "value_bytes": 0, "services": 0, "tokens": 0}}


def test_update_site_sends_only_the_limits_set_and_null_for_a_default():
    with respx.mock(base_url=BASE) as mock:
        route = mock.patch("/v1/sites/s").respond(200, json=SITE)
        site = SiteSecretsClient(BASE, "t").update_site("s", SiteUpdate(limits=LimitsUpdate(max_secrets=7, trash_days=None)))
    assert json.loads(route.calls.last.request.content) == {"limits": {"max_secrets": 7, "trash_days": None}}
    assert site.usage.secrets == 0


def test_delete_site_asks_for_a_cascade_only_when_told():
    with respx.mock(base_url=BASE) as mock:
        route = mock.delete("/v1/sites/s").respond(204)
        client = SiteSecretsClient(BASE, "t")
        client.delete_site("s")
        client.delete_site("s", cascade=True)
    assert [str(call.request.url.query, "ascii") for call in route.calls] == ["", "cascade=true"]


def test_list_tokens_filters_by_site_only_when_given():
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/v1/tokens").respond(200, json={"items": []})
        client = SiteSecretsClient(BASE, "t")
        client.list_tokens()
        client.list_tokens(site="s")
    assert [str(call.request.url.query, "ascii") for call in route.calls] == ["", "site=s"]
