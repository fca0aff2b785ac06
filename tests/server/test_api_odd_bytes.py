"""Odd bytes get the same 4xx on SQLite and PostgreSQL, and never forge a log line.

PostgreSQL's text cannot hold NUL and its index rows have a size limit, where SQLite has neither:
a control character in a path, an audit filter or a body, and a secret name over the ceiling,
are refused before they reach either database. Every test runs on both backends.
"""

from __future__ import annotations

import random
import socket
import string
import subprocess
import sys
from pathlib import Path

import pytest

import dbbackend
from apihelpers import SITE, create_secret, expect_error
from shared.limits import MAX_NAME_LENGTH_CEILING

REPO = Path(__file__).resolve().parents[2]
SECRETS = f"{SITE}/secrets"


def random_name(length: int) -> str:
    """A name PostgreSQL cannot compress into a smaller index row, as real long names are."""
    rng = random.Random(length)
    return "N" + "".join(rng.choice(string.ascii_letters + string.digits + "_") for _ in range(length - 1))


# ---------------------------------------------------------------- paths


@pytest.mark.parametrize("method, path", [
    ("GET", "/v1/sites/de%00fault"),
    ("GET", f"{SECRETS}/A%00B"),
    ("POST", f"{SECRETS}/A%00B/reveal"),
    ("GET", f"{SITE}/apps/w%00eb"),
    ("GET", f"{SITE}/services/worker%00"),
    ("GET", f"{SITE}/secret-types/key%00"),
    ("DELETE", "/v1/tokens/tok%00"),
    ("GET", f"{SECRETS}/A%0AFORGED%1B%5B31m"),
    ("GET", f"{SECRETS}/A%C2%85NEL"),
], ids=["site", "secret", "reveal", "app", "service", "type", "token", "newline-escape", "c1-control"])
def test_a_control_character_in_a_path_is_404_and_changes_nothing(api, db_rows, method, path) -> None:
    before = db_rows()
    assert expect_error(api.request(method, path), 404, "not_found")["reason"] == "control_character"
    assert db_rows() == before


def test_a_denied_request_with_a_nul_in_its_path_is_404_and_not_audited(as_role, db_rows) -> None:
    viewer = as_role("viewer")
    before = db_rows()
    expect_error(viewer.delete("/v1/sites/de%00fault/secrets/A"), 404, "not_found")
    assert db_rows() == before


# ---------------------------------------------------------------- query strings


@pytest.mark.parametrize("method, path, query", [
    ("GET", f"{SITE}/secrets", "scope=all%00"), ("GET", f"{SITE}/secrets", "due_within_days=1%01"),
    ("GET", "/v1/tokens", "site=default%00"), ("DELETE", "/v1/sites/gone", "cascade=tr%0Aue"),
    ("GET", f"{SITE}/audit", "limit=5%00"), ("GET", f"{SITE}/audit", "before=9%1B"),
])
def test_a_control_character_in_any_query_parameter_a_route_takes_is_422(api, db_rows, method, path, query) -> None:
    """docs/API.md, "Odd bytes": every parameter a route takes is refused alike, not only the filters."""
    before = db_rows()
    details = expect_error(api.request(method, f"{path}?{query}"), 422, "validation_error")
    assert details["errors"] == [{"path": "/" + query.split("=")[0], "message": "must not contain control characters"}]
    assert db_rows() == before


@pytest.mark.parametrize("path", ["/v1/audit", f"{SITE}/audit"])
@pytest.mark.parametrize("query", ["actor=admin%00", "action=secret.%00*", "target=%00", "target=A%0AB%1B"])
def test_a_control_character_in_an_audit_filter_is_422_and_changes_nothing(api, db_rows, path, query) -> None:
    before = db_rows()
    details = expect_error(api.get(f"{path}?{query}"), 422, "validation_error")
    assert details["errors"] == [{"path": "/" + query.split("=")[0], "message": "must not contain control characters"}]
    assert db_rows() == before


def test_an_ordinary_audit_filter_still_works(api) -> None:
    create_secret(api, "FILTERED")
    items = api.get(f"{SITE}/audit?action=secret.create&target=secret:site/FILTERED").json()["items"]
    assert [e["action"] for e in items] == ["secret.create"]


# ---------------------------------------------------------------- bodies


@pytest.mark.parametrize("schema, pointer", [
    ({"type": "string", "const": "a\x00b"}, "/schema/const"),
    ({"type": "object", "properties": {"ke\x00y": {"type": "string"}}}, "/schema/properties"),
    ({"type": "string", "enum": ["ok", "n\x00"]}, "/schema/enum/1"),
], ids=["schema-string", "schema-key", "schema-list-item"])
def test_a_nul_anywhere_in_a_body_is_422_and_stores_nothing(api, db_rows, schema, pointer) -> None:
    before = db_rows()
    details = expect_error(api.post(f"{SITE}/secret-types", json={"key": "odd", "name": "Odd", "schema": schema}),
                           422, "validation_error")
    assert details["errors"] == [{"path": pointer, "message": "must not contain NUL characters"}]
    assert db_rows() == before


def test_a_nul_in_a_changed_schema_is_422_and_changes_nothing(api, db_rows) -> None:
    assert api.post(f"{SITE}/secret-types", json={"key": "odd", "name": "Odd", "schema": {"type": "string"}}).status_code == 201
    before = db_rows()
    expect_error(api.patch(f"{SITE}/secret-types/odd", json={"schema": {"pattern": "\x00"}}), 422, "validation_error")
    assert db_rows() == before


# ---------------------------------------------------------------- name length


def test_raising_max_name_length_past_the_ceiling_is_422(api, db_rows) -> None:
    before = db_rows()
    details = expect_error(api.patch(SITE, json={"limits": {"max_name_length": MAX_NAME_LENGTH_CEILING + 1}}), 422, "validation_error")
    assert details["errors"][0]["path"] == "/limits/max_name_length"
    assert db_rows() == before
    response = api.patch(SITE, json={"limits": {"max_name_length": MAX_NAME_LENGTH_CEILING}})
    assert response.json()["limits"]["max_name_length"] == MAX_NAME_LENGTH_CEILING


def test_a_secret_name_of_2700_characters_is_422_and_stores_nothing(api, db_rows) -> None:
    api.patch(SITE, json={"limits": {"max_name_length": MAX_NAME_LENGTH_CEILING}})
    before = db_rows()
    details = expect_error(api.post(SECRETS, json={"name": random_name(2700), "value": "v"}), 422, "validation_error")
    assert details["errors"][0]["path"] == "/name"
    assert db_rows() == before


def test_a_secret_name_at_the_ceiling_is_created_read_revealed_and_deleted(api) -> None:
    api.patch(SITE, json={"limits": {"max_name_length": MAX_NAME_LENGTH_CEILING}})
    name = random_name(MAX_NAME_LENGTH_CEILING)
    assert api.post(f"{SITE}/apps", json={"name": "web"}).status_code == 201
    for scope in (SITE, f"{SITE}/apps/web"):
        create_secret(api, name, "long-named", scope=scope)
        assert api.post(f"{scope}/secrets/{name}/reveal").json()["value"] == "long-named"
    assert api.post(f"{SITE}/services", json={"name": "worker", "secrets": [{"name": name}]}).status_code == 201
    assert api.get(f"{SITE}/services/worker/env").json()["env"] == {name: "long-named"}
    assert api.delete(f"{SITE}/services/worker").status_code == 204
    assert api.delete(f"{SECRETS}/{name}").status_code == 204


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_binding_to_a_name_over_the_ceiling_is_422_and_stores_nothing(api, db_rows, method) -> None:
    assert api.post(f"{SITE}/services", json={"name": "worker"}).status_code == 201
    before = db_rows()
    refs = [{"name": random_name(2700)}]
    path, body = ((f"{SITE}/services", {"name": "other", "secrets": refs}) if method == "POST"
                  else (f"{SITE}/services/worker", {"secrets": refs}))
    details = expect_error(api.request(method, path, json=body), 422, "validation_error")
    assert details["errors"][0]["path"] == "/secrets/0"
    assert db_rows() == before


def test_a_name_stored_under_the_old_ceiling_stays_reachable_and_deletable(api, data_dir) -> None:
    """Sites once could allow 4,096 characters (SQLite stored such names); those secrets must not
    be lost. 'A' * 3000 compresses, so PostgreSQL can index it too and the test runs on both.
    (Renamed in the database, its value no longer opens: the name is sealed with it.)"""
    create_secret(api, "SHORT")
    old = "A" * 3000
    dbbackend.rows(data_dir, "UPDATE secrets SET name = ? WHERE name = 'SHORT'", old)
    dbbackend.rows(data_dir, "UPDATE sites SET max_name_length = 4096")
    assert api.get(SITE).json()["limits"]["max_name_length"] == MAX_NAME_LENGTH_CEILING
    assert api.get(f"{SECRETS}/{old}").json()["name"] == old
    assert api.delete(f"{SECRETS}/{old}").status_code == 204


# ---------------------------------------------------------------- logs


def test_a_500_logs_its_path_quoted(api, state, monkeypatch, caplog) -> None:
    def explode(tx):
        raise RuntimeError("storage broke")

    monkeypatch.setattr(state.store, "read", explode)  # the one way to make a request fail unexpectedly
    expect_error(api.get(f"{SECRETS}/A%E2%80%A8FORGED%E2%80%AE"), 500, "internal_error")
    [record] = [r for r in caplog.records if r.name == "sitesecrets.server"]
    message = record.getMessage()
    assert "\u2028" not in message and "\u202e" not in message
    assert "/secrets/A\\u2028FORGED\\u202e'" in message


class ServerProcess:
    """`serve --access-log` as an administrator runs it, over this test's database; its stderr
    goes to a file read once it has stopped."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        url = dbbackend.database_url(data_dir)
        extra = ["--database-url", url] if url else []
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--data-dir", str(data_dir), "--port", "0", "--access-log", *extra],
            cwd=REPO, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("listening on "), line + log.read_text()
        host, port = line.removeprefix("listening on http://").rstrip("/").rsplit(":", 1)
        self.address = (host, int(port))

    def send(self, request: bytes) -> bytes:
        """One raw request on its own connection; the whole answer (the server closes)."""
        with socket.create_connection(self.address, timeout=30) as conn:
            conn.sendall(request)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        return answer

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def test_a_path_with_an_injected_newline_and_escape_is_one_quoted_log_line(data_dir, tmp_path) -> None:
    token = (data_dir.parent / "admin.token").read_text()
    server = ServerProcess(data_dir, tmp_path / "stderr.txt")
    try:
        answer = server.send(b"GET /v1/sites/x%00%0AFORGED%20ENTRY%1B%5B2J HTTP/1.1\r\nHost: t\r\n"
                             b"Authorization: Bearer " + token.encode() + b"\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 404 ")
    finally:
        server.stop()
    logged = (tmp_path / "stderr.txt").read_text()
    assert "\x1b" not in logged and "\x00" not in logged
    [line] = [line for line in logged.splitlines() if "FORGED" in line]
    assert line.endswith(" GET '/v1/sites/x%00%0AFORGED%20ENTRY%1B%5B2J' 404")


@pytest.mark.parametrize("request_line", [b"GET /v1/sites/x\x1b[2J HTTP/1.1", b"GET /v1/sites/x\rFORGED HTTP/1.1",
                                          b"G\x1b[2JET /v1/health HTTP/1.1"], ids=["escape", "carriage-return", "method"])
def test_a_raw_control_byte_in_a_request_line_is_400_and_not_logged(data_dir, tmp_path, request_line) -> None:
    server = ServerProcess(data_dir, tmp_path / "stderr.txt")
    try:
        assert server.send(request_line + b"\r\nHost: t\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        assert server.send(b"GET /v1/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200 ")
    finally:
        server.stop()
    logged = (tmp_path / "stderr.txt").read_text()
    assert "\x1b" not in logged and "\r" not in logged and "FORGED" not in logged
