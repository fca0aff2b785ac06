"""Nothing a server writes down holds a secret value or a token.

One real server process (`serve --access-log`, its stdout and stderr captured) is driven through
every route with values and tokens that are random and distinctive: successes, refusals, bad and
revoked tokens, tokens in query strings and in paths, a value too large, a typed value that fails its schema,
and a 500 from a tampered ciphertext. Once it has stopped, its stdout, stderr, any log file in its
data directory and every audit row are searched for each of those strings, and the database
files (WAL included) for each token and value in clear.
"""

from __future__ import annotations

import json
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from server.datadir import init_data_dir

REPO = Path(__file__).resolve().parents[2]
SITE = "/v1/sites/leaky"


def distinctive(kind: str) -> str:
    return f"{kind}{secrets.token_hex(12)}"


@pytest.fixture
def server_process(tmp_path):
    """(url, admin token, data dir, process); the process is stopped by the test itself."""
    data_dir = tmp_path / "data"
    admin_token = init_data_dir(data_dir, environ={})
    out, err = (tmp_path / "stdout.txt").open("w"), (tmp_path / "stderr.txt").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--data-dir", str(data_dir), "--port", "0", "--access-log"],
                            cwd=REPO, stdout=out, stderr=err, text=True)
    try:
        deadline = time.monotonic() + 30
        while "listening on " not in (text := (tmp_path / "stdout.txt").read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "stderr.txt").read_text()
            time.sleep(0.05)
        url = text.split("listening on ", 1)[1].split()[0]
        yield url, admin_token, data_dir, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        out.close()
        err.close()


def drive_every_route(url: str, admin_token: str, data_dir: Path) -> tuple[list[str], list[str]]:
    """Call every route, the error paths included; returns (values, tokens) that must never leak."""
    values: list[str] = []
    tokens: list[str] = [admin_token]

    def value() -> str:
        values.append(distinctive("VALUE"))
        return values[-1]

    admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=20)
    a = admin
    assert a.get("/v1/health").status_code == 200 and a.get("/v1/openapi.json").status_code == 200
    assert a.get("/v1/whoami").status_code == 200
    assert a.post("/v1/sites", json={"name": "leaky"}).status_code == 201
    assert a.get("/v1/sites").status_code == 200 and a.get(SITE).status_code == 200
    assert a.patch(SITE, json={"limits": {"max_secrets": 50}}).status_code == 200
    assert a.post(f"{SITE}/apps", json={"name": "web"}).status_code == 201
    assert a.get(f"{SITE}/apps").status_code == 200 and a.get(f"{SITE}/apps/web").status_code == 200
    assert a.patch(f"{SITE}/apps/web", json={"site_secrets": True}).status_code == 200
    assert a.post(f"{SITE}/secret-types", json={"key": "pair", "name": "Pair", "schema": {
        "type": "object", "properties": {"user": {"type": "string"}}, "required": ["user"], "additionalProperties": False}}).status_code == 201
    assert a.get(f"{SITE}/secret-types").status_code == 200 and a.get(f"{SITE}/secret-types/pair").status_code == 200
    assert a.patch(f"{SITE}/secret-types/pair", json={"description": "a pair"}).status_code == 200
    for scope in (SITE, f"{SITE}/apps/web"):
        assert a.post(f"{scope}/secrets", json={"name": "PLAIN", "value": value()}).status_code == 201
        assert a.patch(f"{scope}/secrets/PLAIN", json={"value": value(), "expected_version": 1}).status_code == 200
        assert a.patch(f"{scope}/secrets/PLAIN", json={"value": value(), "expected_version": 1}).status_code == 409
        assert a.post(f"{scope}/secrets", json={"name": "PLAIN", "value": value()}).status_code == 409
        assert a.post(f"{scope}/secrets/PLAIN/reveal").status_code == 200
        assert a.get(f"{scope}/secrets").status_code == 200 and a.get(f"{scope}/secrets/PLAIN").status_code == 200
        assert a.post(f"{scope}/secrets", json={"name": "BIG", "value": value() * 3000}).status_code == 413
        assert a.post(f"{scope}/secrets", json={"name": "BAD", "value": value() + "\u0000"}).status_code == 422
    typed = json.dumps({"user": value()})
    values.append(typed)
    assert a.post(f"{SITE}/secrets", json={"name": "TYPED", "value": typed, "type": "pair"}).status_code == 201
    mismatched = json.dumps({"user": 1, "extra": value()})
    assert a.post(f"{SITE}/secrets", json={"name": "MISFIT", "value": mismatched, "type": "pair"}).status_code == 422
    assert a.post(f"{SITE}/secrets", json={"name": "UNPARSED", "value": "{" + value(), "type": "pair"}).status_code == 422
    assert a.post(f"{SITE}/secrets", json={"name": "DOOMED", "value": value()}).status_code == 201
    assert a.get(f"{SITE}/secrets", params={"scope": "all"}).status_code == 200
    assert a.post(f"{SITE}/services", json={"name": "worker", "app": "web", "secrets": [{"name": "PLAIN"}, {"name": "PLAIN", "app": "web"}]}).status_code == 201
    assert a.get(f"{SITE}/services").status_code == 200 and a.get(f"{SITE}/services/worker").status_code == 200
    assert a.patch(f"{SITE}/services/worker", json={"secrets": [{"name": "PLAIN", "app": "web"}, {"name": "TYPED"}]}).status_code == 200
    assert a.get(f"{SITE}/services/worker/env").status_code == 200
    assert a.delete(f"{SITE}/secrets/TYPED").status_code == 409
    assert a.delete(f"{SITE}/secrets/DOOMED").status_code == 204

    made = {}
    for role, extra in (("viewer", {}), ("editor", {"site": "leaky"}), ("admin", {}),
                        ("service", {"site": "leaky", "service": "worker"})):
        response = a.post("/v1/tokens", json={"name": f"leak-{role}", "role": role, **extra})
        assert response.status_code == 201
        made[role] = response.json()
        tokens.append(made[role]["token"])
    assert a.get("/v1/tokens").status_code == 200
    service = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {made['service']['token']}"}, timeout=20)
    assert service.get(f"{SITE}/services/worker/env").status_code == 200
    assert service.get(f"{SITE}/secrets").status_code == 403
    viewer = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {made['viewer']['token']}"}, timeout=20)
    assert viewer.post(f"{SITE}/secrets/PLAIN/reveal").status_code == 403
    assert viewer.post(f"{SITE}/secrets", json={"name": "NOPE", "value": value()}).status_code == 403
    # tokens where they must not be: in the URL, malformed, unknown, revoked
    for name in ("token", "access_token"):
        assert httpx.get(f"{url}/v1/sites", params={name: made["editor"]["token"]}).status_code == 401
        assert a.get("/v1/sites", params={name: made["admin"]["token"]}).status_code == 401
    # a token pasted where its id belongs (`token revoke ss_...`): the path goes to the access log,
    # and, refused, to an audit event
    assert viewer.delete(f"/v1/tokens/{made['editor']['token']}").status_code == 403
    assert a.delete(f"/v1/tokens/{made['service']['token']}").status_code == 404
    for bad in (distinctive("ss_"), distinctive("Basic "), distinctive("")):
        tokens.append(bad)
        assert httpx.get(f"{url}/v1/whoami", headers={"Authorization": f"Bearer {bad}"}).status_code == 401
    assert a.delete(f"/v1/tokens/{made['admin']['id']}").status_code == 204
    assert httpx.get(f"{url}/v1/whoami", headers={"Authorization": f"Bearer {made['admin']['token']}"}).status_code == 401

    # a 500: flip a byte of a stored ciphertext under the running server
    with sqlite3.connect(data_dir / "secrets.db", timeout=30) as conn:
        (blob,) = conn.execute("SELECT ciphertext FROM secrets WHERE name = 'PLAIN' AND app_id IS NULL").fetchone()
        blob = bytearray(blob)
        blob[-1] ^= 0x01
        conn.execute("UPDATE secrets SET ciphertext = ? WHERE name = 'PLAIN' AND app_id IS NULL", (bytes(blob),))
    conn.close()
    assert a.post(f"{SITE}/secrets/PLAIN/reveal").status_code == 500
    assert a.patch(f"{SITE}/secrets/PLAIN", json={"type": "pair"}).status_code == 500
    assert a.patch(f"{SITE}/services/worker", json={"secrets": [{"name": "PLAIN"}]}).status_code == 200
    assert a.get(f"{SITE}/services/worker/env").status_code == 500
    assert a.get(f"{SITE}/audit").status_code == 200 and a.get("/v1/audit", params={"limit": 500}).status_code == 200
    assert a.patch(f"{SITE}/services/worker", json={"secrets": []}).status_code == 200
    assert a.delete(f"{SITE}/services/worker").status_code == 204
    for client in (admin, service, viewer):
        client.close()
    return values, tokens


def test_logs_output_and_audit_hold_no_value_and_no_token(server_process, tmp_path) -> None:
    url, admin_token, data_dir, proc = server_process
    values, tokens = drive_every_route(url, admin_token, data_dir)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    written = {"stdout": (tmp_path / "stdout.txt").read_text(), "stderr": (tmp_path / "stderr.txt").read_text()}
    for log in list(data_dir.rglob("*.log")) + list(data_dir.rglob("*.log.*")):
        written[str(log)] = log.read_text(errors="replace")
    with sqlite3.connect(data_dir / "secrets.db") as conn:
        rows = conn.execute("SELECT * FROM audit_events").fetchall()
    conn.close()
    written["audit"] = "\n".join(repr(r) for r in rows)
    assert " POST " in written["stderr"] and " 500" in written["stderr"]  # the access log did run
    assert any("integrity_error" in repr(r) for r in rows)  # so did the tampered reveal's audit
    for secret in values + tokens:
        needles = {secret, secret[:24], json.dumps(secret)[1:25]}
        for where, text in written.items():
            for needle in needles:
                assert needle not in text, f"{needle[:12]}... is in {where}"


def test_database_files_hold_no_token_and_no_value_in_clear(server_process) -> None:
    url, admin_token, data_dir, proc = server_process
    values, tokens = drive_every_route(url, admin_token, data_dir)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    files = [p for p in data_dir.iterdir() if p.name.startswith("secrets.db")]
    assert files
    for path in files:
        data = path.read_bytes()
        for secret in values + tokens:
            assert secret[:24].encode() not in data, f"{secret[:12]}... is in clear in {path.name}"
