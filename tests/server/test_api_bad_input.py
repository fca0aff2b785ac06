"""Issue 2's "Bad input" list: each gets docs/API.md's error and changes nothing.

(Unknown sites and apps, wrong roles and sites, expired and revoked tokens, stale versions,
schemas and typed values have their own files; this one is about the request itself.)
"""

from __future__ import annotations

import json
import socket

import pytest

from apihelpers import SITE, build_template, copy_data_dir, create_secret, expect_error

SECRETS = f"{SITE}/secrets"
MIB = 1024 * 1024


def build_world(api) -> None:
    """An app `web`, a secret `EXISTING` and a service `worker` binding it: things to aim at."""
    assert api.post(f"{SITE}/apps", json={"name": "web"}).status_code == 201
    create_secret(api, "EXISTING", "old")
    assert api.post(f"{SITE}/services", json={"name": "worker", "secrets": [{"name": "EXISTING"}]}).status_code == 201


@pytest.fixture(scope="module")
def template(pristine_data_dir, tmp_path_factory):
    return build_template(pristine_data_dir, tmp_path_factory.mktemp("bad-input"), build_world)


@pytest.fixture
def data_dir(template, tmp_path):
    return copy_data_dir(template, tmp_path)


@pytest.fixture
def unchanged(db_rows):
    """Assert, after the test, that nothing in the database changed (the audit log included)."""
    before = db_rows()
    yield
    assert db_rows() == before


WRITES = [
    ("POST", "/v1/sites"), ("PATCH", SITE), ("POST", f"{SITE}/apps"), ("PATCH", f"{SITE}/apps/web"),
    ("POST", SECRETS), ("PATCH", f"{SECRETS}/EXISTING"), ("POST", f"{SITE}/apps/web/secrets"),
    ("POST", f"{SITE}/secret-types"), ("POST", f"{SITE}/services"), ("PATCH", f"{SITE}/services/worker"),
    ("POST", "/v1/tokens"),
]
WRITE_IDS = [f"{m}-{p}" for m, p in WRITES]


@pytest.mark.parametrize("method, path", WRITES, ids=WRITE_IDS)
@pytest.mark.parametrize("body", [b"{", b'{"name": }', b"{'name': 'x'}", b"\xff\xfe{}", b'{"name": "a"} trailing', b"",
                                  b"[" * 100_000],
                         ids=["unclosed", "no-value", "single-quotes", "not-utf8", "trailing", "empty", "deeply-nested"])
def test_malformed_json_is_400_invalid_json(api, unchanged, method, path, body) -> None:
    response = api.request(method, path, content=body, headers={"Content-Type": "application/json"})
    expect_error(response, 400, "invalid_json")


@pytest.mark.parametrize("method, path", WRITES, ids=WRITE_IDS)
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
def test_wrong_content_type_is_415(api, unchanged, method, path, content_type) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = api.request(method, path, content=b'{"name": "x", "value": "v"}', headers=headers)
    expect_error(response, 415, "unsupported_media_type")


def test_json_content_type_with_charset_is_accepted(api) -> None:
    response = api.post(SECRETS, content=b'{"name": "A", "value": "v"}', headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 201


@pytest.mark.parametrize("method, path", WRITES, ids=WRITE_IDS)
def test_body_over_one_mib_is_413_payload_too_large(api, unchanged, method, path) -> None:
    body = json.dumps({"name": "A", "value": "x" * MIB}).encode()
    expect_error(api.request(method, path, content=body, headers={"Content-Type": "application/json"}), 413, "payload_too_large")


def test_oversized_body_is_refused_from_its_length_before_it_is_sent(live_server) -> None:
    """Through a real socket: the server answers 413 having read only the headers."""
    request = (f"POST /v1/sites/default/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {live_server.admin_token}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {50 * MIB}\r\n\r\n{{\"name\"").encode()
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        answer = conn.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413")
    assert '"payload_too_large"' in answer


def test_a_body_cut_short_of_its_content_length_is_400_invalid_json(live_server) -> None:
    """docs/API.md: "A body shorter than its Content-Length is 400 invalid_json too": the client
    ends its side after part of the body, and the server answers at once rather than waiting."""
    body = b'{"name": "CUT", "value": "v"}'
    request = (f"POST /v1/sites/default/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {live_server.admin_token}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body) + 10}\r\n\r\n").encode() + body
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400") and b'"invalid_json"' in answer


@pytest.mark.parametrize("method, path, body, value", [
    ("PATCH", SITE, {"limits": {"max_secrets": 3.0}}, lambda answer: answer["limits"]["max_secrets"]),
    ("POST", "/v1/tokens", {"name": "t", "role": "viewer", "expires_in_days": 2.0},
     lambda answer: answer["expires_at"] is not None),
])
def test_a_whole_number_written_with_a_point_counts_as_that_integer(api, method, path, body, value) -> None:
    """docs/API.md: types are strict, but `3.0` counts as the integer 3 (JSON has one number type;
    a client's encoder may write any whole number so)."""
    response = api.request(method, path, json=body)
    assert response.status_code in (200, 201), response.text
    assert value(response.json()) in (3, True)


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/v1/sites", {"name": "shop", "owner": "me"}),
    ("PATCH", SITE, {"limits": {"max_secrets": 200, "max_secret": 1}}),
    ("POST", f"{SITE}/apps", {"name": "api", "site_secret": True}),
    ("POST", SECRETS, {"name": "A", "value": "v", "descripton": "typo"}),
    ("PATCH", f"{SECRETS}/EXISTING", {"value": "new", "expected": 1}),
    ("POST", f"{SITE}/secret-types", {"key": "k", "name": "K", "schema": {}, "extra": 1}),
    ("POST", f"{SITE}/services", {"name": "s", "secrets": [{"name": "EXISTING", "scope": "site"}]}),
    ("POST", "/v1/tokens", {"name": "t", "role": "viewer", "admin": True}),
])
def test_unknown_fields_are_422(api, unchanged, method, path, body) -> None:
    details = expect_error(api.request(method, path, json=body), 422, "validation_error")
    assert details["errors"]


@pytest.mark.parametrize("method, path, body, where", [
    ("POST", SECRETS, {"name": "A", "value": 12345}, "/value"),
    ("POST", SECRETS, {"name": ["A"], "value": "v"}, "/name"),
    ("POST", SECRETS, {"name": "A", "value": None}, "/value"),
    ("POST", SECRETS, {"name": "A"}, "/value"),
    ("POST", SECRETS, {"value": "v"}, "/name"),
    ("PATCH", f"{SECRETS}/EXISTING", {"expected_version": "1"}, "/expected_version"),
    ("PATCH", f"{SECRETS}/EXISTING", {"expected_version": 0}, "/expected_version"),
    ("POST", f"{SITE}/apps", {"name": "api", "site_secrets": "true"}, "/site_secrets"),
    ("POST", f"{SITE}/apps", {"name": "api", "site_secrets": 1}, "/site_secrets"),  # `1` is not a boolean
    ("PATCH", SITE, {"limits": {"max_secrets": "200"}}, "/limits/max_secrets"),
    ("PATCH", SITE, {"limits": {"max_secrets": 0}}, "/limits/max_secrets"),
    ("POST", f"{SITE}/secret-types", {"key": "k", "name": "K", "schema": "{}"}, "/schema"),
    ("POST", f"{SITE}/services", {"name": "s", "secrets": "EXISTING"}, "/secrets"),
    ("POST", "/v1/tokens", {"name": "t", "role": "viewer", "expires_in_days": 1.5}, "/expires_in_days"),
])
def test_wrong_types_are_422_naming_the_field(api, unchanged, method, path, body, where) -> None:
    details = expect_error(api.request(method, path, json=body), 422, "validation_error")
    assert where in [e["path"] for e in details["errors"]]


@pytest.mark.parametrize("body", [b"[]", b"null", b'"text"', b"12"])
def test_body_that_is_not_an_object_is_422(api, unchanged, body) -> None:
    expect_error(api.post(SECRETS, content=body, headers={"Content-Type": "application/json"}), 422, "validation_error")


@pytest.mark.parametrize("name", ["1ABC", "has-dash", "with space", "", "DOT.NAME", "caf\u00e9", "A" * 257, "X\n"])
def test_secret_name_breaking_the_rules_is_422(api, unchanged, name) -> None:
    for scope in (SITE, f"{SITE}/apps/web"):
        details = expect_error(api.post(f"{scope}/secrets", json={"name": name, "value": "v"}), 422, "validation_error")
        assert details["errors"][0]["path"] == "/name"


def test_secret_name_of_256_characters_is_fine(api) -> None:
    assert api.post(SECRETS, json={"name": "A" * 256, "value": "v"}).status_code == 201
    assert api.post(SECRETS, json={"name": "_lower_and_9", "value": "v"}).status_code == 201


@pytest.mark.parametrize("name", ["Upper", "-lead", "under_score", "a" * 64, "", "dot.name", "sp ace"])
def test_slug_names_breaking_the_rules_are_422(api, unchanged, name) -> None:
    for path, body in (("/v1/sites", {"name": name}), (f"{SITE}/apps", {"name": name}),
                       (f"{SITE}/services", {"name": name, "secrets": []})):
        details = expect_error(api.post(path, json=body), 422, "validation_error")
        assert details["errors"][0]["path"] == "/name"


NAME_RULES = {
    "secret": "must start with a letter or underscore and hold only letters, digits and underscores",
    "slug": "must be 1 to 63 lowercase letters, digits and '-', starting with a letter or digit",
    "type key": "must start with a lowercase letter, then up to 63 lowercase letters, digits, '_' or '-'",
}


@pytest.mark.parametrize("path, body, rule", [
    (SECRETS, {"name": "with space", "value": "v"}, "secret"),
    ("/v1/sites", {"name": "Upper"}, "slug"),
    (f"{SITE}/apps", {"name": "Bad App"}, "slug"),
    (f"{SITE}/services", {"name": "sp ace", "secrets": []}, "slug"),
    (f"{SITE}/secret-types", {"key": "Upper", "name": "K", "schema": {}}, "type key"),
], ids=["secret", "site", "app", "service", "type"])
def test_a_name_breaking_its_rule_is_told_the_rule_in_words_not_a_regular_expression(api, unchanged, path, body, rule):
    """What `sitesecrets apps create 'Bad App'` and the forms print under the field."""
    details = expect_error(api.post(path, json=body), 422, "validation_error")
    assert [e["message"] for e in details["errors"]] == [NAME_RULES[rule]]


def test_slug_of_63_characters_is_fine(api) -> None:
    assert api.post("/v1/sites", json={"name": "a" * 63}).status_code == 201


@pytest.mark.parametrize("key", ["Upper", "1st", "a" * 65, "", "has space"])
def test_type_key_breaking_the_rules_is_422(api, unchanged, key) -> None:
    expect_error(api.post(f"{SITE}/secret-types", json={"key": key, "name": "K", "schema": {}}), 422, "validation_error")


@pytest.mark.parametrize("description", ["x" * 1025, "tab\there", "bell\x07", "nul\x00", "esc\x1b[31m"])
def test_description_too_long_or_with_control_characters_is_422(api, unchanged, description) -> None:
    for method, path, body in (("POST", SECRETS, {"name": "A", "value": "v", "description": description}),
                               ("PATCH", f"{SECRETS}/EXISTING", {"description": description})):
        details = expect_error(api.request(method, path, json=body), 422, "validation_error")
        assert details["errors"][0]["path"] == "/description"
        assert not details["errors"][0]["message"].startswith("Value error")  # pydantic's prefix says nothing


def test_description_of_1024_characters_with_newlines_is_fine(api) -> None:
    assert api.post(SECRETS, json={"name": "A", "value": "v", "description": ("x" * 99 + "\n") * 10 + "x" * 24}).status_code == 201


@pytest.mark.parametrize("value", ["x" * 65_537, "\u20ac" * 21_846], ids=["ascii", "three-byte-chars"])
def test_value_over_65536_bytes_is_413_value_too_large(api, unchanged, value) -> None:
    for method, path, body in (("POST", SECRETS, {"name": "A", "value": value}),
                               ("PATCH", f"{SECRETS}/EXISTING", {"value": value})):
        response = api.request(method, path, json=body)
        assert expect_error(response, 413, "value_too_large")["limit_bytes"] == 65_536
        assert "xxxxxxxx" not in response.text and "\u20ac\u20ac" not in response.text


def test_value_of_exactly_65536_bytes_is_fine(api) -> None:
    assert api.post(SECRETS, json={"name": "A", "value": "x" * 65_536}).status_code == 201
    assert api.post(f"{SECRETS}/A/reveal").json()["value"] == "x" * 65_536

