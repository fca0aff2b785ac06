"""Validating a typed value is bounded (docs/API.md "Behaviour", typed secrets): hostile schemas and values get a
422 instead of holding the server, validation runs in the request's thread and never on the
store's writer, and a refused type change is audited like a reveal."""

from __future__ import annotations

import json
import threading

import pytest

from apihelpers import SITE, audit_rows, create_secret, expect_error
from server import schemas

TYPES = f"{SITE}/secret-types"
OTHER = "/v1/sites/other"


def make_type(api, key: str, schema: dict) -> None:
    response = api.post(TYPES, json={"key": key, "name": key, "schema": schema})
    assert response.status_code == 201, response.text


def post_typed(api, name: str, value: str, type_key: str):
    return api.post(f"{SITE}/secrets", json={"name": name, "value": value, "type": type_key})


def exponential_schema(depth: int = 40) -> dict:
    """`null` passes at once; any array makes every level try both branches: 2**depth checks."""
    levels = {f"l{n}": {"anyOf": [{"$ref": f"#/$defs/l{n + 1}"}, {"$ref": f"#/$defs/l{n + 1}"}]} for n in range(depth)}
    levels[f"l{depth}"] = {"type": "string"}
    return {"$defs": levels, "if": {"type": "array"}, "then": {"$ref": "#/$defs/l0"}}


def test_catastrophic_backtracking_pattern_is_a_plain_422(api, db_rows) -> None:
    make_type(api, "word", {"type": "string", "pattern": "^(a+)+$"})
    before = db_rows()
    # 26 a's held the old server 25 s; 40 would hold it for days (well past the suite's timeout)
    details = expect_error(post_typed(api, "W", json.dumps("a" * 40 + "!"), "word"), 422, "validation_error")
    assert details["errors"] == [{"path": "", "message": "must match the pattern ^(a+)+$"}]
    assert db_rows() == before


def test_catastrophic_pattern_behind_additional_properties_is_a_plain_422(api) -> None:
    make_type(api, "keys", {"type": "object", "patternProperties": {"^(a+)+$": {}}, "additionalProperties": False})
    details = expect_error(post_typed(api, "K", json.dumps({"a" * 40 + "!": 1}), "keys"), 422, "validation_error")
    assert details["errors"] == [{"path": "/" + "a" * 40 + "!", "message": "is not a property of this type"}]


def test_unique_items_over_a_64kb_array_of_unsortable_items_is_checked_in_one_pass(api) -> None:
    make_type(api, "set", {"type": "array", "uniqueItems": True})
    items = [x for n in range(4800) for x in (n, str(n))]
    compact = json.dumps(items, separators=(",", ":"))
    assert 50_000 < len(compact) < 65_000
    assert post_typed(api, "UNIQUE", compact, "set").status_code == 201
    details = expect_error(post_typed(api, "REPEATED", compact[:-1] + ",4799.0]", "set"), 422, "validation_error")
    assert details["errors"] == [{"path": "", "message": "must not repeat an item"}]


@pytest.mark.parametrize("schema, where", [
    ({"type": "string", "pattern": "^(a)\\1$"}, "/schema/pattern"),
    ({"properties": {"pin": {"pattern": "(?=[0-9])"}}}, "/schema/properties/pin/pattern"),
    ({"patternProperties": {"(?<!x)y": {}}}, "/schema/patternProperties/(?<!x)y"),
    ({"$defs": {"d": {"items": {"pattern": "(x)\\1"}}}}, "/schema/$defs/d/items/pattern"),
])
def test_pattern_re2_cannot_compile_is_refused_when_the_type_is_created(api, db_rows, schema, where) -> None:
    before = db_rows()
    details = expect_error(api.post(TYPES, json={"key": "bad", "name": "Bad", "schema": schema}), 422, "validation_error")
    assert [e["path"] for e in details["errors"]] == [where]
    assert "RE2" in details["errors"][0]["message"]
    assert db_rows() == before


@pytest.mark.parametrize("pattern", [
    "{}\\pL{{1000}}",  # each takes RE2 ~10 ms to find it past its memory bound (and so refused)
    "{}[^a]{{1000}}",  # each compiles, in ~2 ms, to a program of 8,000 instructions
])
def test_schema_of_very_many_costly_patterns_is_refused_within_the_bound(api, db_rows, pattern) -> None:
    # 3,000 of them, 100 KB: 30 s of compiling at creation (a whole 1 MiB body, minutes), never budgeted
    schema = {"type": "string", "anyOf": [{"pattern": pattern.format(n)} for n in range(3000)]}
    before = db_rows()
    details = expect_error(api.post(TYPES, json={"key": "many", "name": "Many", "schema": schema}), 422, "validation_error")
    assert details["errors"] == [{"path": "/schema", "message": "the schema cannot be checked within the bound: " + schemas.UNBOUNDED_HINT}]
    assert db_rows() == before


def test_pattern_inside_a_const_is_data_not_a_pattern(api) -> None:
    make_type(api, "fixed", {"const": {"pattern": "(a)\\1"}})


def test_schema_that_cannot_be_checked_within_the_bound_is_422_not_a_hang(api, db_rows) -> None:
    make_type(api, "blowup", exponential_schema())
    before = db_rows()
    response = post_typed(api, "B", "[]", "blowup")
    details = expect_error(response, 422, "validation_error")
    assert "within the bound" in response.json()["error"]["message"]
    assert details["errors"][0]["path"] == ""
    assert db_rows() == before


@pytest.mark.parametrize("dialect", ["https://json-schema.org/draft/2020-12/schema", "http://json-schema.org/draft-07/schema#"])
def test_a_subschema_naming_its_own_dialect_does_not_escape_the_bound(api, db_rows, dialect) -> None:
    """A `$schema` inside a subschema made jsonschema switch to that dialect's stock validator,
    which knows nothing of the budget: the exponential schema then ran unbounded (depth 20: 164 s
    of CPU, the GIL held against every other tenant of the worker; depth 40: for ever)."""
    schema = exponential_schema()
    for level in schema["$defs"].values():
        level["$schema"] = dialect
    make_type(api, "escape", schema)
    before = db_rows()
    response = post_typed(api, "E", "[]", "escape")
    details = expect_error(response, 422, "validation_error")
    assert "within the bound" in response.json()["error"]["message"]
    assert details["errors"][0]["path"] == ""
    assert db_rows() == before


def test_schema_whose_own_check_exceeds_the_bound_is_refused_at_creation(api) -> None:
    schema = exponential_schema()
    schema.pop("if")
    schema["allOf"] = [schema.pop("then")]  # now even `null` needs every branch
    details = expect_error(api.post(TYPES, json={"key": "b", "name": "B", "schema": schema}), 422, "validation_error")
    assert "within the bound" in details["errors"][0]["message"]


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_schema_whose_metaschema_check_alone_exceeds_the_bound_is_refused(api, db_rows, monkeypatch, method) -> None:
    """Checking a schema against its metaschema is held to the bound too: 14,000 plain properties
    (a 1 MiB body) took 4 s of CPU there, unbudgeted, with the GIL held for the worker's other
    tenants; here a bound of 0.2 s against 3,000 properties (about 0.9 s unbounded)."""
    from server import validation

    bounded = validation.Budget
    monkeypatch.setattr(validation, "Budget", lambda: bounded(cpu_seconds=0.2, wall_seconds=5.0))
    schema = {"type": "object", "properties": {f"field_{n}": {"type": "string"} for n in range(3000)}}
    make_type(api, "small", {"type": "object"})
    before = db_rows()
    body = {"schema": schema} if method == "PATCH" else {"key": "wide", "name": "Wide", "schema": schema}
    path = f"{TYPES}/small" if method == "PATCH" else TYPES
    details = expect_error(api.request(method, path, json=body), 422, "validation_error")
    assert details["errors"] == [{"path": "/schema", "message": "the schema cannot be checked within the bound: " + schemas.UNBOUNDED_HINT}]
    after = db_rows()
    del after["audit_events"], before["audit_events"]  # a refused change of a type is audited, a refused create not
    assert after == before


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_schema_nested_too_deeply_for_its_own_check_is_422_not_500(api, db_rows, method) -> None:
    schema: dict = {"type": "string"}
    for _ in range(150):  # well inside what the body's JSON may nest (200); its metaschema check recurses far deeper
        schema = {"not": schema}
    make_type(api, "deep", {"type": "string"})
    before = db_rows()
    body = {"schema": schema} if method == "PATCH" else {"key": "deeper", "name": "Deeper", "schema": schema}
    path = f"{TYPES}/deep" if method == "PATCH" else TYPES
    details = expect_error(api.request(method, path, json=body), 422, "validation_error")
    assert details["errors"][0]["path"] == "/schema" and "within the bound" in details["errors"][0]["message"]
    after = db_rows()
    del after["audit_events"], before["audit_events"]  # a refused change of a type is audited, a refused create not
    assert after == before


@pytest.mark.parametrize("number", ["1" * 5000, "-" + "9" * 301, "1e400"])
def test_number_beyond_the_bound_in_a_typed_value_is_422_not_500(api, db_rows, number) -> None:
    make_type(api, "num", {"type": "number"})
    before = db_rows()
    response = post_typed(api, "N", json.dumps({"n": 1})[:0] + number, "num")
    details = expect_error(response, 422, "validation_error")
    assert details["errors"][0]["path"] == ""
    assert number not in response.text
    assert db_rows() == before


def test_validation_runs_once_in_the_requests_own_thread(api, monkeypatch) -> None:
    make_type(api, "word", {"type": "string"})
    threads = []
    real = schemas.value_problems

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(schemas, "value_problems", recording)
    create_secret(api, "W", json.dumps("x"), type="word")
    assert api.patch(f"{SITE}/secrets/W", json={"value": json.dumps("y")}).status_code == 200
    assert threads == [threading.current_thread()] * 2  # WSGITransport runs the app in the caller's thread


def test_another_sites_env_fetch_answers_while_a_validation_is_running(api, client, mint, monkeypatch) -> None:
    assert api.post("/v1/sites", json={"name": "other"}).status_code == 201
    create_secret(api, "A", "alpha", scope=OTHER)
    assert api.post(f"{OTHER}/services", json={"name": "fn", "secrets": [{"name": "A"}]}).status_code == 201
    service = client(mint("service", site="other", service="fn"))
    make_type(api, "word", {"type": "string"})
    started, release, real = threading.Event(), threading.Event(), schemas.value_problems

    def held(*args, **kwargs):  # a validation that lasts until the other site has been served
        started.set()
        assert release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(schemas, "value_problems", held)
    answers = []
    hostile = threading.Thread(target=lambda: answers.append(post_typed(client(api.headers["Authorization"][7:]), "W", '"x"', "word")))
    hostile.start()
    try:
        assert started.wait(60)
        response = service.get(f"{OTHER}/services/fn/env", timeout=30)
        assert response.status_code == 200 and response.json()["env"] == {"A": "alpha"}
        assert hostile.is_alive()  # served while the validation was still running
    finally:
        release.set()
        hostile.join(60)
    assert answers[0].status_code == 201


def test_refused_type_change_is_audited_with_the_secrets_it_named_and_no_value(api, data_dir) -> None:
    make_type(api, "pw", {"type": "string"})
    create_secret(api, "PW", json.dumps("hush-s3cret"), type="pw")
    create_secret(api, "OK", json.dumps("zzz"), type="pw")
    response = api.patch(f"{TYPES}/pw", json={"schema": {"type": "string", "pattern": "^z"}})
    expect_error(response, 409, "type_conflict")
    [event] = audit_rows(data_dir, action="type.update")
    assert event["outcome"] == "error" and event["target"] == "type:pw"
    assert json.loads(event["details"]) == {"error": "type_conflict", "secrets": [{"name": "PW", "app": None}]}
    assert "hush" not in event["details"] and "hush" not in response.text


def retype_probe(api) -> tuple[str, str, dict]:
    """A type change alone: the stored value is checked against a type that asks whether it starts with 'z'."""
    make_type(api, "probe", {"type": "object", "properties": {"pw": {"pattern": "^z"}}})
    return "PATCH", f"{SITE}/secrets/PW", {"type": "probe"}


def patch_probe(api) -> tuple[str, str, dict]:
    """A merge patch: the stored value with it applied is checked against a type whose rule hangs on the stored field."""
    conditional = {"type": "object", "if": {"properties": {"pw": {"pattern": "^h"}}}, "then": {"properties": {"n": {"type": "integer"}}}}
    assert api.patch(f"{TYPES}/pw", json={"schema": conditional}).status_code == 200
    return "PATCH", f"{SITE}/secrets/PW", {"value_patch": {"n": "x"}}


def rollback_probe(api) -> tuple[str, str, dict]:
    """A rollback: the kept value of version 1 is checked against the current type."""
    make_type(api, "probe", {"type": "object", "properties": {"pw": {"pattern": "^z"}}})
    assert api.patch(f"{SITE}/secrets/PW", json={"value": json.dumps({"pw": "zz"}), "type": "probe"}).status_code == 200
    return "POST", f"{SITE}/secrets/PW/rollback", {"version": 1}


@pytest.mark.parametrize("probe, action", [(retype_probe, "secret.update"), (patch_probe, "secret.update"),
                                           (rollback_probe, "secret.rollback")])
def test_refusal_that_describes_a_stored_value_is_audited_with_no_value(api, data_dir, probe, action) -> None:
    make_type(api, "pw", {"type": "object"})
    create_secret(api, "PW", json.dumps({"pw": "hush-s3cret"}), type="pw")
    method, path, body = probe(api)
    response = api.request(method, path, json=body)
    expect_error(response, 422, "validation_error")
    [event] = audit_rows(data_dir, outcome="error")
    assert (event["action"], event["target"]) == (action, "secret:site/PW")
    assert json.loads(event["details"]) == {"error": "validation_error"}
    assert "hush" not in event["details"] and "hush" not in response.text


def test_refusal_of_a_value_the_caller_sent_is_not_audited(api, data_dir) -> None:
    make_type(api, "pw", {"type": "object"})
    create_secret(api, "PW", json.dumps({"pw": "hush-s3cret"}), type="pw")
    expect_error(api.patch(f"{SITE}/secrets/PW", json={"value": "[]"}), 422, "validation_error")
    assert audit_rows(data_dir, outcome="error") == []


def test_type_change_that_cannot_be_checked_within_the_bound_is_audited(api, data_dir) -> None:
    make_type(api, "list", {"type": "array"})
    create_secret(api, "L", "[]", type="list")
    response = api.patch(f"{TYPES}/list", json={"schema": exponential_schema()})
    expect_error(response, 422, "validation_error")
    [event] = audit_rows(data_dir, action="type.update")
    assert event["outcome"] == "error"
    assert json.loads(event["details"]) == {"error": "validation_error", "secrets": [{"name": "L", "app": None}]}


def test_refused_type_change_is_refused_unaudited_never(api, data_dir) -> None:
    make_type(api, "pw", {"type": "string"})
    expect_error(api.patch(f"{TYPES}/pw", json={"schema": {"type": 7}}), 422, "validation_error")
    [event] = audit_rows(data_dir, action="type.update")
    assert event["outcome"] == "error" and json.loads(event["details"]) == {"error": "validation_error"}
