"""Secret types: JSON Schema templates, typed values validated with JSON Pointer error paths,
`type_conflict` when a new schema would break existing secrets, `type_in_use` on delete."""

from __future__ import annotations

import json

import pytest

from apihelpers import SITE, create_secret, expect_error, reveal

TYPES = f"{SITE}/secret-types"
DB_SCHEMA = {
    "type": "object",
    "properties": {"host": {"type": "string"}, "port": {"type": "integer", "maximum": 65535}},
    "required": ["host", "port"],
    "additionalProperties": False,
}
GOOD = json.dumps({"host": "db.internal", "port": 5432})


@pytest.fixture
def db_type(api) -> dict:
    response = api.post(TYPES, json={"key": "postgres", "name": "PostgreSQL", "schema": DB_SCHEMA, "description": "a db"})
    assert response.status_code == 201, response.text
    return response.json()


def test_created_type_is_listed_and_readable(api, db_type) -> None:
    assert db_type["key"] == "postgres" and db_type["schema"] == DB_SCHEMA and db_type["secret_count"] == 0
    assert db_type["name"] == "PostgreSQL" and db_type["description"] == "a db"
    assert api.get(TYPES).json()["items"] == [db_type]
    assert api.get(f"{TYPES}/postgres").json() == db_type


def test_type_key_taken_is_already_exists(api, db_type, db_rows) -> None:
    before = db_rows()
    expect_error(api.post(TYPES, json={"key": "postgres", "name": "x", "schema": {}}), 409, "already_exists")
    assert db_rows() == before


def test_unknown_type_is_404(api) -> None:
    expect_error(api.get(f"{TYPES}/nope"), 404, "not_found")
    expect_error(api.patch(f"{TYPES}/nope", json={"name": "x"}), 404, "not_found")
    expect_error(api.delete(f"{TYPES}/nope"), 404, "not_found")


def test_typed_secret_with_a_valid_value_is_created_and_counted(api, db_type) -> None:
    secret = create_secret(api, "DB", GOOD, type="postgres")
    assert secret["type"] == "postgres"
    assert reveal(api, "DB").json()["value"] == GOOD
    assert api.get(f"{TYPES}/postgres").json()["secret_count"] == 1


@pytest.mark.parametrize("value, errors", [
    (json.dumps({"host": "db"}), [{"path": "/port", "message": "is required"}]),
    (json.dumps({}), [{"path": "/host", "message": "is required"}, {"path": "/port", "message": "is required"}]),
    (json.dumps({"host": "db", "port": "5432"}), [{"path": "/port", "message": "must be of type integer"}]),
    (json.dumps({"host": "db", "port": 70000}), [{"path": "/port", "message": "must be at most 65535"}]),
    (json.dumps({"host": "db", "port": 1, "user": "x"}), [{"path": "/user", "message": "is not a property of this type"}]),
    (json.dumps({"host": "db", "port": 1, "a/b": "x"}), [{"path": "/a~1b", "message": "is not a property of this type"}]),
])
def test_typed_value_failing_its_schema_is_422_with_json_pointer_paths(api, db_type, db_rows, value, errors) -> None:
    before = db_rows()
    details = expect_error(api.post(f"{SITE}/secrets", json={"name": "DB", "value": value, "type": "postgres"}), 422, "validation_error")
    assert details["errors"] == errors
    assert db_rows() == before


def test_typed_value_that_is_not_json_is_422_without_echoing_it(api, db_type, db_rows) -> None:
    before = db_rows()
    response = api.post(f"{SITE}/secrets", json={"name": "DB", "value": "not json at all secretish", "type": "postgres"})
    details = expect_error(response, 422, "validation_error")
    assert details["errors"][0]["path"] == ""
    assert "secretish" not in response.text
    assert db_rows() == before


def test_error_messages_never_quote_the_value(api, db_type) -> None:
    value = json.dumps({"host": "db", "port": 1, "extra-field-hush": "x"})
    schema = {"type": "object", "properties": {"pin": {"type": "string", "pattern": "^[0-9]+$"}}}
    api.post(TYPES, json={"key": "pin", "name": "PIN", "schema": schema})
    for body in ({"name": "A", "value": value, "type": "postgres"},
                 {"name": "B", "value": json.dumps({"pin": "letters-hush"}), "type": "pin"}):
        response = api.post(f"{SITE}/secrets", json=body)
        assert response.status_code == 422
        assert "letters-hush" not in response.text


def test_unknown_type_on_a_secret_is_422(api, db_rows) -> None:
    before = db_rows()
    details = expect_error(api.post(f"{SITE}/secrets", json={"name": "DB", "value": GOOD, "type": "nope"}), 422, "validation_error")
    assert details["errors"][0]["path"] == "/type"
    assert db_rows() == before


def test_update_to_an_invalid_typed_value_is_422_and_keeps_the_old_value(api, db_type) -> None:
    create_secret(api, "DB", GOOD, type="postgres")
    details = expect_error(api.patch(f"{SITE}/secrets/DB", json={"value": "{}"}), 422, "validation_error")
    assert {e["path"] for e in details["errors"]} == {"/host", "/port"}
    assert reveal(api, "DB").json() == {"value": GOOD, "version": 1}


def test_giving_an_untyped_secret_a_type_checks_its_current_value(api, db_type) -> None:
    create_secret(api, "PLAIN", "not json")
    expect_error(api.patch(f"{SITE}/secrets/PLAIN", json={"type": "postgres"}), 422, "validation_error")
    create_secret(api, "DB", GOOD)
    assert api.patch(f"{SITE}/secrets/DB", json={"type": "postgres"}).json()["type"] == "postgres"


def test_sending_type_null_removes_the_type(api, db_type) -> None:
    create_secret(api, "DB", GOOD, type="postgres")
    response = api.patch(f"{SITE}/secrets/DB", json={"type": None})
    assert response.status_code == 200 and response.json()["type"] is None
    assert api.patch(f"{SITE}/secrets/DB", json={"value": "free text now"}).status_code == 200


@pytest.mark.parametrize("schema", [
    {"type": "not-a-type"},
    {"properties": "should be an object"},
    {"required": "host"},
    {"minLength": -1},
])
def test_schema_that_is_not_a_json_schema_is_422(api, db_rows, schema) -> None:
    before = db_rows()
    details = expect_error(api.post(TYPES, json={"key": "bad", "name": "Bad", "schema": schema}), 422, "validation_error")
    assert details["errors"] and all(e["path"].startswith("/schema") for e in details["errors"])
    assert db_rows() == before


@pytest.mark.parametrize("ref", [
    "https://example.com/schema.json",
    "http://127.0.0.1:1/evil",
    "file:///etc/passwd",
    "other.json#/defs/x",
])
def test_ref_outside_the_schema_is_refused_and_nothing_is_fetched(api, db_rows, ref) -> None:
    before = db_rows()
    schema = {"type": "object", "properties": {"x": {"$ref": ref}}}
    details = expect_error(api.post(TYPES, json={"key": "bad", "name": "Bad", "schema": schema}), 422, "validation_error")
    assert details["errors"][0]["path"] == "/schema/properties/x/$ref"
    assert db_rows() == before


def test_dangling_local_ref_is_refused(api) -> None:
    schema = {"$ref": "#/$defs/missing"}
    expect_error(api.post(TYPES, json={"key": "bad", "name": "Bad", "schema": schema}), 422, "validation_error")


def test_local_ref_is_accepted_and_validates(api) -> None:
    schema = {"$defs": {"port": {"type": "integer"}}, "type": "object", "properties": {"port": {"$ref": "#/$defs/port"}}}
    assert api.post(TYPES, json={"key": "svc", "name": "Svc", "schema": schema}).status_code == 201
    details = expect_error(api.post(f"{SITE}/secrets", json={"name": "S", "value": '{"port": "x"}', "type": "svc"}), 422, "validation_error")
    assert details["errors"] == [{"path": "/port", "message": "must be of type integer"}]


def test_schema_naming_another_draft_is_checked_against_that_draft(api) -> None:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "required": ["a"]}
    assert api.post(TYPES, json={"key": "old", "name": "Old", "schema": schema}).status_code == 201
    bad = {"$schema": "http://json-schema.org/draft-07/schema#", "type": 12}
    expect_error(api.post(TYPES, json={"key": "old-bad", "name": "Old", "schema": bad}), 422, "validation_error")


def test_type_rename_and_compatible_schema_change_are_allowed(api, db_type) -> None:
    create_secret(api, "DB", GOOD, type="postgres")
    wider = dict(DB_SCHEMA, required=["host"])
    response = api.patch(f"{TYPES}/postgres", json={"name": "Postgres", "schema": wider})
    assert response.status_code == 200
    assert response.json()["name"] == "Postgres" and response.json()["schema"] == wider


def test_schema_change_that_breaks_existing_secrets_is_type_conflict_naming_them(api, db_type, db_rows) -> None:
    api.post("/v1/sites/default/apps", json={"name": "web"})
    create_secret(api, "DB", GOOD, type="postgres")
    create_secret(api, "DB", json.dumps({"host": "x", "port": 99999 - 90000}), scope="/v1/sites/default/apps/web", type="postgres")
    create_secret(api, "FINE", json.dumps({"host": "x", "port": 80}), type="postgres")
    narrower = dict(DB_SCHEMA, properties={"host": {"type": "string"}, "port": {"type": "integer", "maximum": 1000}})
    before = db_rows()
    details = expect_error(api.patch(f"{TYPES}/postgres", json={"schema": narrower}), 409, "type_conflict")
    assert sorted(details["secrets"], key=lambda s: s["app"] or "") == [{"name": "DB", "app": None}, {"name": "DB", "app": "web"}]
    after = db_rows()
    assert after.pop("audit_events") != before.pop("audit_events")  # the refusal is audited (see test_api_validation_bounds)
    assert after == before


def test_delete_of_type_in_use_lists_secrets(api, db_type, db_rows) -> None:
    create_secret(api, "DB", GOOD, type="postgres")
    before = db_rows()
    refused = api.delete(f"{TYPES}/postgres")
    assert expect_error(refused, 409, "type_in_use")["secrets"] == [{"name": "DB", "app": None}]
    assert refused.json()["error"]["message"] == "1 secret uses type 'postgres'"
    assert db_rows() == before


def test_unused_type_is_deleted(api, db_type) -> None:
    assert api.delete(f"{TYPES}/postgres").status_code == 204
    expect_error(api.get(f"{TYPES}/postgres"), 404, "not_found")


@pytest.mark.parametrize("name", ["esc\x1b[2J", "c1\x9d0;title\x9c", "nul\x00", "rtl\u202eoverride", "isolate\u2067x", "lrm\u200e"])
def test_type_name_with_control_or_bidi_characters_is_422(api, db_type, db_rows, name) -> None:
    before = db_rows()
    for method, path, body in (("POST", TYPES, {"key": "other", "name": name, "schema": {}}),
                               ("PATCH", f"{TYPES}/postgres", {"name": name})):
        details = expect_error(api.request(method, path, json=body), 422, "validation_error")
        assert details["errors"][0]["path"] == "/name"
    assert db_rows() == before
