"""Property tests of the input rules: what `shared.limits` says of a name, description or value
is what the server answers, and no body, however malformed, makes it fail or hang.

The rules are tested through the in-process app (fast, many examples); the body-framing cases
(a false Content-Length, a body trickled in) through a real socket, on a server whose read
timeout is lowered to one second so that "never past the read timeout" can be timed.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from server.wsgiserver import WSGIServer
from shared.limits import DEFAULT_LIMITS, description_problem, is_slug, secret_name_problem, type_key_problem, value_problem, value_size

SITE = "/v1/sites/default"
EXAMPLES = 500 if os.environ.get("SITESECRETS_LONG") == "1" else 60
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
READ_TIMEOUT = 1.0

# every character, controls included, with the name alphabet made likely (a lone surrogate cannot
# travel as UTF-8; as a JSON escape it has its own case in test_hostile_json_bodies_get_the_right_4xx)
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)
NAMEISH = st.one_of(ANY_TEXT, st.from_regex(r"[A-Za-z0-9_\-\n. ]{0,300}", fullmatch=True))


def not_a_5xx(response) -> None:
    assert response.status_code < 500, response.text


@PROPERTY
@given(name=NAMEISH)
def test_secret_name_rule_and_server_agree(api, name) -> None:
    response = api.post(f"{SITE}/secrets", json={"name": name, "value": "v"})
    not_a_5xx(response)
    if secret_name_problem(name, DEFAULT_LIMITS.max_name_length) is None:
        assert response.status_code == 201, response.text
        assert api.delete(f"{SITE}/secrets/{name}").status_code == 204
    else:
        assert response.status_code == 422 and response.json()["error"]["details"]["errors"][0]["path"] == "/name"


@PROPERTY
@given(name=st.one_of(ANY_TEXT, st.from_regex(r"[a-z0-9\-_A]{0,70}", fullmatch=True)))
def test_site_name_rule_and_server_agree(api, name) -> None:
    response = api.post("/v1/sites", json={"name": name})
    not_a_5xx(response)
    if is_slug(name):
        assert response.status_code in (201, 409), response.text  # 409: "default" exists already
        if response.status_code == 201:
            assert api.delete(f"/v1/sites/{name}").status_code == 204
    else:
        assert response.status_code == 422, response.text


@PROPERTY
@given(key=st.one_of(ANY_TEXT, st.from_regex(r"[a-z0-9_\-A]{0,70}", fullmatch=True)))
def test_type_key_rule_and_server_agree(api, key) -> None:
    response = api.post(f"{SITE}/secret-types", json={"key": key, "name": "K", "schema": {"type": "string"}})
    not_a_5xx(response)
    if type_key_problem(key) is None:
        assert response.status_code == 201, response.text
        assert api.delete(f"{SITE}/secret-types/{key}").status_code == 204
    else:
        assert response.status_code == 422, response.text


@PROPERTY
@given(description=st.one_of(ANY_TEXT, st.text(max_size=1100), st.text("ab\n\t\x7f\x85", min_size=1000, max_size=1030)))
def test_description_rule_and_server_agree(api, holder, description) -> None:
    response = api.patch(f"{SITE}/secrets/HOLDER", json={"description": description})
    not_a_5xx(response)
    if description_problem(description) is None:
        assert response.status_code == 200, response.text
        assert api.get(f"{SITE}/secrets/HOLDER").json()["description"] == description
    else:
        assert response.status_code == 422 and response.json()["error"]["details"]["errors"][0]["path"] == "/description"


@pytest.fixture
def holder(api) -> None:
    assert api.post(f"{SITE}/secrets", json={"name": "HOLDER", "value": "start"}).status_code == 201


@PROPERTY
@given(value=st.one_of(ANY_TEXT, st.text(st.sampled_from("x\u20ac\U0001f600\x00"), min_size=16_380, max_size=16_390)))
def test_value_rule_and_server_agree(api, holder, value) -> None:
    response = api.patch(f"{SITE}/secrets/HOLDER", json={"value": value})
    not_a_5xx(response)
    if value_problem(value) is not None:
        assert response.status_code == 422, response.text
    elif value_size(value) > DEFAULT_LIMITS.max_value_bytes:
        assert response.status_code == 413 and response.json()["error"]["code"] == "value_too_large"
    else:
        assert response.status_code == 200, response.text
        assert api.post(f"{SITE}/secrets/HOLDER/reveal").json()["value"] == value
    if response.status_code != 200 and len(value.strip()) >= 20:  # a refusal never echoes the value
        assert value[:20] not in response.text and json.dumps(value)[1:21] not in response.text


@PROPERTY
@given(body=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                      st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                                   lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                                   max_leaves=12).map(lambda v: json.dumps(v).encode())))
def test_any_body_is_a_4xx_or_a_create_never_a_5xx(api, body) -> None:
    response = api.post(f"{SITE}/secrets", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code in (201, 400, 409, 413, 422), response.text


@pytest.mark.parametrize("body, code", [
    (b'{"name": "A", "value": "\xff\xfe"}', "invalid_json"),
    (b'{"name": "A", "value": "\xed\xa0\x80"}', "invalid_json"),  # a surrogate encoded as UTF-8 is not UTF-8
    (b'{"name": "A", "value": "nul\\u0000inside"}', "validation_error"),
    (b'{"name": "A\\u0000", "value": "v"}', "validation_error"),
    (b'{"name": "A", "value": "lone \\ud800"}', "invalid_json"),  # I-JSON (RFC 7493): no lone surrogates
    (b'{"name": "A", "value": "v", "value": "w"}', "invalid_json"),
    (b'{"name": "A", "value": "v", "description": {"a": 1, "a": 2}}', "invalid_json"),
    (b'{"name": "A", "value": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "invalid_json"),
    (b'{"name": "A", "value": ' + b'{"a":' * 10_000 + b"1" + b"}" * 10_000 + b"}", "invalid_json"),
    (b'{"name": "A", "value": NaN}', "invalid_json"),
], ids=["invalid-utf8", "utf8-surrogate", "nul-in-value", "nul-in-name", "lone-surrogate-escape", "duplicate-key",
        "nested-duplicate-key", "arrays-10000-deep", "objects-10000-deep", "nan"])
def test_hostile_json_bodies_get_the_right_4xx(api, db_rows, body, code) -> None:
    before = db_rows()
    response = api.post(f"{SITE}/secrets", content=body, headers={"Content-Type": "application/json"})
    assert response.json()["error"]["code"] == code, response.text
    assert response.status_code == {"invalid_json": 400, "validation_error": 422}[code]
    assert db_rows() == before


# ---------------------------------------------------------------- framing, through a real socket


@pytest.fixture
def quick_server(app):
    """The app on a real socket with a one-second read timeout."""
    server = WSGIServer(app, "127.0.0.1", 0, read_timeout=READ_TIMEOUT)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join(10)


def connect(server: WSGIServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def head(token: str, length: int) -> bytes:
    return (f"POST {SITE}/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n").encode()


def answer_of(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data


def test_content_length_larger_than_the_body_is_a_4xx_and_a_close_within_the_read_timeout(quick_server, admin_token, db_rows) -> None:
    before = db_rows()
    body = b'{"name": "A", "value": "v"}'
    with connect(quick_server) as conn:
        started = time.monotonic()
        conn.sendall(head(admin_token, len(body) + 50) + body)
        answer = answer_of(conn)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"Connection: close" in answer and b"nosniff" in answer
    assert waited < READ_TIMEOUT + 2
    assert db_rows() == before


def test_a_body_trickled_slower_than_the_read_timeout_is_cut_off_at_the_timeout(quick_server, admin_token, db_rows) -> None:
    before = db_rows()
    body = b'{"name": "SLOW", "value": "' + b"x" * 40 + b'"}'
    with connect(quick_server) as conn:
        conn.sendall(head(admin_token, len(body)))
        started = time.monotonic()
        sent = 0
        try:
            for byte in body:  # one byte every 0.1 s: each within the timeout, the whole far past it
                conn.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.1)
        except OSError:
            pass  # the server closed on us: what this test wants
        answer = answer_of(conn)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert sent < len(body)
    assert waited < len(body) * 0.1
    assert db_rows() == before


def test_a_body_trickled_within_the_read_timeout_is_served(quick_server, admin_token) -> None:
    body = b'{"name": "STEADY", "value": "v"}'
    with connect(quick_server) as conn:
        conn.sendall(head(admin_token, len(body)))
        for piece in (body[:10], body[10:20], body[20:]):
            time.sleep(0.2)
            conn.sendall(piece)
        answer = conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 201"), answer[:200]


def test_client_that_hangs_up_mid_body_changes_nothing(quick_server, admin_token, db_rows) -> None:
    before = db_rows()
    with connect(quick_server) as conn:
        conn.sendall(head(admin_token, 100) + b'{"name": "GONE", "val')
        conn.shutdown(socket.SHUT_WR)
        answer = answer_of(conn)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b'"invalid_json"' in answer
    assert db_rows() == before


@pytest.mark.parametrize("request_bytes, status", [
    (b"GARBAGE\r\n\r\n", b"400"),
    (b"GET /v1/health HTTP/2.0\r\n\r\n", b"505"),
    (b"POST /v1/sites HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"400"),
    (b"GET /v1/health HTTP/1.1\r\nBad Header Line\r\n\r\n", b"400"),
], ids=["garbage", "http2", "length-and-chunked", "bad-header"])
def test_answers_of_the_http_layer_also_carry_nosniff(quick_server, request_bytes, status) -> None:
    with connect(quick_server) as conn:
        conn.sendall(request_bytes)
        answer = answer_of(conn)
    assert answer.split(b" ")[1] == status, answer[:200]
    assert b"X-Content-Type-Options: nosniff" in answer


def test_wrong_method_on_every_path_is_405_with_allow_listing_the_real_methods(api) -> None:
    from server.handlers import ROUTES

    by_path: dict[str, set[str]] = {}
    for route in ROUTES:
        path = route.path.replace("{site}", "default").replace("{app}", "web").replace("{name}", "N")
        path = path.replace("{key}", "k").replace("{id}", "tok_x")
        by_path.setdefault(path, set()).add(route.method)
    for path, methods in by_path.items():
        for wrong in {"GET", "POST", "PUT", "PATCH", "DELETE"} - methods:
            response = api.request(wrong, path)
            assert response.status_code == 405, (wrong, path, response.text)
            served = methods | ({"HEAD"} if "GET" in methods else set())  # HEAD answers as GET does
            assert set(response.headers["allow"].replace(" ", "").split(",")) == served
            assert response.headers["x-content-type-options"] == "nosniff"
