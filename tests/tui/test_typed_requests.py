"""The client's request bodies are the `shared.models` request models: what goes on the wire is
what the caller set, and a body the model refuses is refused on the client exactly as the server
would refuse it, before anything is sent."""

from __future__ import annotations

import json

import pytest
import respx

from shared.models import SecretCreate, SecretTypeCreate, SecretTypeUpdate, SecretUpdate, ServiceUpdate
from tui.client import ApiError, SiteSecretsClient, build

BASE = "http://127.0.0.1:8716"
SECRET_ANSWER = {"name": "X", "app": None, "type": None, "description": "", "version": 2,
                 "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z", "created_by": "a",
                 "updated_by": "a", "used_by": [], "last_used_at": None}
TYPE_ANSWER = {"key": "db", "name": "DB", "schema": {"type": "object"}, "description": "", "secret_count": 0,
               "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}


def sent_body(method: str, path: str, answer: dict, call) -> dict:
    """The JSON body `call(client)` sent as `method path`."""
    with respx.mock(base_url=BASE) as mock:
        route = mock.request(method, path).respond(200, json=answer)
        call(SiteSecretsClient(BASE, "t"))
    return json.loads(route.calls.last.request.content)


def test_an_update_sends_only_the_fields_it_sets():
    body = sent_body("PATCH", "/v1/sites/s/secrets/X", SECRET_ANSWER,
                     lambda c: c.update_secret("s", None, "X", SecretUpdate(value="new", expected_version=1)))
    assert body == {"value": "new", "expected_version": 1}


def test_an_update_that_sets_the_type_to_none_sends_null_to_remove_it():
    body = sent_body("PATCH", "/v1/sites/s/secrets/X", SECRET_ANSWER,
                     lambda c: c.update_secret("s", None, "X", SecretUpdate(type=None)))
    assert body == {"type": None}


def test_a_type_schema_travels_under_its_wire_name():
    created = sent_body("POST", "/v1/sites/s/secret-types", TYPE_ANSWER,
                        lambda c: c.create_type("s", SecretTypeCreate(key="db", name="DB", schema={"type": "object"})))
    updated = sent_body("PATCH", "/v1/sites/s/secret-types/db", TYPE_ANSWER,
                        lambda c: c.update_type("s", "db", SecretTypeUpdate(schema={"type": "object"})))
    assert created == {"key": "db", "name": "DB", "schema": {"type": "object"}} and updated == {"schema": {"type": "object"}}


def test_service_and_token_paths_are_escaped():
    with respx.mock(base_url=BASE) as mock:
        service = mock.patch("/v1/sites/a%2Fb/services/c%2Fd").respond(404, json={"error": {"code": "not_found", "message": "no"}})
        token = mock.delete("/v1/tokens/x%2Fy").respond(204)
        client = SiteSecretsClient(BASE, "t")
        with pytest.raises(ApiError):
            client.update_service("a/b", "c/d", ServiceUpdate(secrets=[]))
        client.revoke_token("x/y")
    assert service.called and token.called


def test_a_body_refused_on_the_client_reads_as_the_servers_refusal(admin, site):
    fields = {"name": "not a name", "value": "before\x00after", "description": "fine"}
    with pytest.raises(ApiError) as by_server:
        admin.request("POST", f"/v1/sites/{site}/secrets", None, json=fields)  # the raw body, as an old client sent it
    with pytest.raises(ApiError) as by_client:
        build(SecretCreate, **fields)
    assert [(e.code, e.message, e.status, e.field_errors()) for e in (by_client.value, by_server.value)] == \
        [("validation_error", by_server.value.message, 422, by_server.value.field_errors())] * 2
    assert [path for path, _ in by_client.value.field_errors()] == ["/name", "/value"]


def test_a_refused_body_never_repeats_the_value():
    with pytest.raises(ApiError) as refused:
        build(SecretCreate, name="OK", value="s3cr3t\x00-value")
    assert "s3cr3t" not in f"{refused.value} {refused.value.details!r}"
    assert refused.value.__cause__ is None and refused.value.__suppress_context__
