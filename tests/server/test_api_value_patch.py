"""`PATCH {scope}/secrets/{name}` with `value_patch`: an RFC 7396 merge patch applied by the server to
a typed secret's JSON object value, validated against the type and stored as a new version."""

from __future__ import annotations

import json

import pytest

from apihelpers import SITE, audit_rows, create_secret, expect_error, reveal

APP = "/v1/sites/default/apps/web"
DB_TYPE = {
    "type": "object",
    "properties": {"user": {"type": "string"}, "password": {"type": "string", "minLength": 8}, "port": {"type": "integer"}},
    "required": ["user", "password"],
}
DB_VALUE = {"user": "app", "password": "old-password-1", "port": 5432}


@pytest.fixture(autouse=True)
def typed(api) -> None:
    assert api.post("/v1/sites/default/apps", json={"name": "web"}).status_code == 201
    assert api.post(f"{SITE}/secret-types", json={"key": "db", "name": "Database", "schema": DB_TYPE}).status_code == 201


def value_of(api, name: str, scope: str = SITE) -> dict:
    return json.loads(reveal(api, name, scope=scope).json()["value"])


@pytest.mark.parametrize("scope", [SITE, APP])
def test_value_patch_changes_one_field_and_keeps_the_others(api, scope) -> None:
    create_secret(api, "DB", json.dumps(DB_VALUE), type="db", scope=scope)
    response = api.patch(f"{scope}/secrets/DB", json={"value_patch": {"password": "new-password-2"}})
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    assert value_of(api, "DB", scope) == {"user": "app", "password": "new-password-2", "port": 5432}


@pytest.mark.parametrize("patch", [{}, {"password": "old-password-1"}, {"missing": None}])
def test_a_value_patch_that_changes_nothing_makes_no_version_and_flags_no_service(api, patch) -> None:
    stored = json.dumps(DB_VALUE)  # as most clients write JSON: with spaces after ':' and ','
    create_secret(api, "DB", stored, type="db")
    assert api.post(f"{SITE}/services", json={"name": "worker", "secrets": [{"name": "DB"}]}).status_code == 201
    assert api.get(f"{SITE}/services/worker/env").status_code == 200
    response = api.patch(f"{SITE}/secrets/DB", json={"value_patch": patch})
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1
    assert reveal(api, "DB").json() == {"value": stored, "version": 1}
    assert api.get(f"{SITE}/services/worker").json()["restart_required"] is False


def test_value_patch_null_removes_a_member(api) -> None:
    create_secret(api, "DB", json.dumps(DB_VALUE), type="db")
    assert api.patch(f"{SITE}/secrets/DB", json={"value_patch": {"port": None}}).status_code == 200
    assert value_of(api, "DB") == {"user": "app", "password": "old-password-1"}


def test_a_patched_value_that_breaks_the_type_is_refused_and_nothing_changes(api) -> None:
    create_secret(api, "DB", json.dumps(DB_VALUE), type="db")
    details = expect_error(api.patch(f"{SITE}/secrets/DB", json={"value_patch": {"password": "short"}}), 422, "validation_error")
    assert [e["path"] for e in details["errors"]] == ["/password"]
    removed = api.patch(f"{SITE}/secrets/DB", json={"value_patch": {"user": None}})
    expect_error(removed, 422, "validation_error")
    assert value_of(api, "DB") == DB_VALUE
    assert api.get(f"{SITE}/secrets/DB").json()["version"] == 1


def test_sending_both_value_and_value_patch_is_refused(api) -> None:
    create_secret(api, "DB", json.dumps(DB_VALUE), type="db")
    response = api.patch(f"{SITE}/secrets/DB", json={"value": json.dumps(DB_VALUE), "value_patch": {"port": 1}})
    expect_error(response, 422, "validation_error")
    assert api.get(f"{SITE}/secrets/DB").json()["version"] == 1


def test_value_patch_on_an_untyped_secret_is_refused(api) -> None:
    create_secret(api, "PLAIN", json.dumps(DB_VALUE))
    details = expect_error(api.patch(f"{SITE}/secrets/PLAIN", json={"value_patch": {"port": 1}}), 422, "validation_error")
    assert details["errors"][0]["path"] == "/value_patch"


def test_value_patch_on_a_typed_value_that_is_not_an_object_is_refused(api) -> None:
    assert api.post(f"{SITE}/secret-types", json={"key": "list", "name": "List", "schema": {"type": "array"}}).status_code == 201
    create_secret(api, "HOSTS", json.dumps(["a", "b"]), type="list")
    details = expect_error(api.patch(f"{SITE}/secrets/HOSTS", json={"value_patch": {"a": 1}}), 422, "validation_error")
    assert details["errors"][0]["path"] == "/value_patch"
    assert json.loads(reveal(api, "HOSTS").json()["value"]) == ["a", "b"]


@pytest.mark.parametrize("patch", [["x"], "x", 3])
def test_a_value_patch_that_is_not_an_object_is_refused(api, patch) -> None:
    create_secret(api, "DB", json.dumps(DB_VALUE), type="db")
    expect_error(api.patch(f"{SITE}/secrets/DB", json={"value_patch": patch}), 422, "validation_error")


def test_value_patch_honours_expected_version(api) -> None:
    create_secret(api, "DB", json.dumps(DB_VALUE), type="db")
    response = api.patch(f"{SITE}/secrets/DB", json={"value_patch": {"port": 1}, "expected_version": 2})
    assert expect_error(response, 409, "version_conflict")["current_version"] == 1
    assert value_of(api, "DB") == DB_VALUE


def test_a_patched_value_over_the_size_limit_is_refused(api) -> None:
    assert api.patch(SITE, json={"limits": {"max_value_bytes": 100}}).status_code == 200
    create_secret(api, "DB", json.dumps(DB_VALUE), type="db")
    expect_error(api.patch(f"{SITE}/secrets/DB", json={"value_patch": {"user": "u" * 100}}), 413, "value_too_large")
    assert value_of(api, "DB") == DB_VALUE


def test_a_value_patch_is_audited_without_the_value(api, data_dir) -> None:
    create_secret(api, "DB", json.dumps(DB_VALUE), type="db")
    assert api.patch(f"{SITE}/secrets/DB", json={"value_patch": {"password": "new-password-2"}}).status_code == 200
    event = audit_rows(data_dir, action="secret.update")[-1]
    assert json.loads(event["details"]) == {"changed": ["version"], "version": 2, "patched": True}
    assert "new-password-2" not in json.dumps(audit_rows(data_dir))


def test_a_value_changed_while_the_patch_was_computed_is_patched_again_not_overwritten(api, monkeypatch) -> None:
    from server.handlers import secrets

    create_secret(api, "DB", json.dumps(DB_VALUE), type="db")
    original, raced = secrets.patched_value, []

    def racing(*args, **kwargs):
        patched = original(*args, **kwargs)
        if not raced:  # another writer changes the value between this patch's read and its write
            raced.append(api.patch(f"{SITE}/secrets/DB", json={"value": json.dumps(DB_VALUE | {"port": 7777})}).status_code)
        return patched

    monkeypatch.setattr(secrets, "patched_value", racing)
    response = api.patch(f"{SITE}/secrets/DB", json={"value_patch": {"password": "new-password-2"}})
    assert raced == [200] and response.status_code == 200
    assert response.json()["version"] == 3
    assert value_of(api, "DB") == {"user": "app", "password": "new-password-2", "port": 7777}
