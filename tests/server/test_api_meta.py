"""Health, the OpenAPI document, whoami, authentication and the headers every answer carries."""

from __future__ import annotations

import dataclasses
import re

import pytest

from server import openapi
from server.auth import Permission
from server.handlers import ROUTES, meta
from server.routing import Route
from shared import __version__, models

from apihelpers import expect_error, expire_token


def test_health_needs_no_token_and_names_the_version(client) -> None:
    response = client().get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


def test_openapi_document_describes_every_route_of_the_routing_table(client) -> None:
    response = client().get("/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    described = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}
    assert {(r.method, r.path) for r in ROUTES} <= described


def test_openapi_document_describes_request_bodies_and_answers(client) -> None:
    document = client().get("/v1/openapi.json").json()
    create = document["paths"]["/v1/sites/{site}/secrets"]["post"]
    body_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref.rsplit("/", 1)[-1] in document["components"]["schemas"]
    assert "201" in create["responses"] and "409" in create["responses"]


def test_an_operation_lists_the_errors_its_route_declares_beyond_those_of_its_kind() -> None:
    plain = Route("POST", "/v1/sites", meta.health, Permission.operator, "site.create", models.SiteCreate, models.Site, 201)
    declared = dataclasses.replace(plain, errors=(409,))
    answers = {route: openapi.build([route])["paths"]["/v1/sites"]["post"]["responses"] for route in (plain, declared)}
    assert "409" not in answers[plain] and "409" in answers[declared]
    assert set(answers[declared]) - set(answers[plain]) == {"409"}


def test_the_served_document_is_the_one_of_the_routing_table(client) -> None:
    assert client().get("/v1/openapi.json").content == openapi.document(tuple(ROUTES))


def test_every_answer_carries_no_store_and_nosniff(api, client) -> None:
    for response in (client().get("/v1/health"), api.get("/v1/sites"), api.get("/v1/nothing-here"),
                     client().get("/v1/sites"), api.post("/v1/sites/default/secrets/NOPE/reveal")):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_unknown_path_is_404(api) -> None:
    expect_error(api.get("/v1/nothing-here"), 404, "not_found")


def test_wrong_method_is_405_with_allow(api) -> None:
    response = api.put("/v1/sites/default")
    expect_error(response, 405, "method_not_allowed")
    assert set(re.split(r",\s*", response.headers["allow"])) == {"GET", "HEAD", "PATCH", "DELETE"}  # HEAD is answered as GET


def test_wrong_method_names_a_standard_method_and_never_echoes_another(client) -> None:
    # a method is any RFC 9110 token, as long as the request head allows: refused before any
    # token is looked up, it must not come back whole (a 20,000-character one did, twice the bytes)
    assert client().put("/v1/sites/default").json()["error"]["message"] == "PUT is not allowed here"
    response = client().request("X" * 20_000, "/v1/sites/default")
    expect_error(response, 405, "method_not_allowed")
    assert response.json()["error"]["message"] == "this method is not allowed here"
    assert len(response.content) < 300


def test_whoami_describes_the_calling_token(api, client, mint) -> None:
    me = api.get("/v1/whoami")
    assert me.status_code == 200
    assert me.json()["name"] == "admin" and me.json()["role"] == "admin" and me.json()["site"] is None
    assert "token" not in me.json() and "hash" not in me.json()
    viewer = client(mint("viewer", site="default")).get("/v1/whoami").json()
    assert (viewer["role"], viewer["site"], viewer["name"]) == ("viewer", "default", "viewer-default")


def test_whoami_records_last_use(api) -> None:
    assert api.get("/v1/whoami").json()["last_used_at"] is not None


@pytest.mark.parametrize("authorization", [
    None,
    "Bearer ss_not-a-real-token-but-long-enough-to-look-like-one",
    "Bearer not-even-prefixed",
    "Basic YWRtaW46YWRtaW4=",
    "Bearer ",
])
def test_missing_or_unknown_token_is_401_with_www_authenticate(client, authorization) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client().get("/v1/sites", headers=headers)
    expect_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_revoked_token_is_401(api, client, mint) -> None:
    token = mint("viewer")
    caller = client(token)
    assert caller.get("/v1/sites").status_code == 200
    token_id = caller.get("/v1/whoami").json()["id"]
    assert api.delete(f"/v1/tokens/{token_id}").status_code == 204
    response = caller.get("/v1/sites")
    expect_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_expired_token_is_401(api, client, mint, data_dir, state) -> None:
    caller = client(mint("viewer", expires_in_days=1))
    assert caller.get("/v1/sites").status_code == 200
    token_id = caller.get("/v1/whoami").json()["id"]
    expire_token(state, data_dir, token_id, "2020-01-01T00:00:00Z")
    response = caller.get("/v1/sites")
    expect_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("parameter", ["token", "access_token"])
def test_token_in_query_string_is_refused_even_with_a_good_header(api, admin_token, client, parameter) -> None:
    expect_error(client().get(f"/v1/sites?{parameter}={admin_token}"), 401, "unauthorized")
    expect_error(api.get(f"/v1/sites?{parameter}={admin_token}"), 401, "unauthorized")


def test_a_500_says_nothing_of_the_failure(api, state, monkeypatch) -> None:
    def explode(tx):
        raise RuntimeError("SECRET-DETAIL")

    monkeypatch.setattr(state.store, "read", explode)  # the one way to make a read fail unexpectedly
    response = api.get("/v1/sites/default/secrets")
    expect_error(response, 500, "internal_error")
    assert "SECRET-DETAIL" not in response.text
