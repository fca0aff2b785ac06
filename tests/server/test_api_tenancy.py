"""Tenants of one host stay apart: one tenant's mistakes or attacks never reach another's data,
limits, audit log or access (docs/API.md, "Tenancy")."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import httpx
import pytest

import dbbackend
from apihelpers import SITE, audit_rows, create_secret, expect_error
from server.store import postgres, sqlite
from server.store.migrations import MIGRATIONS
from server.store.postgres_tx import PostgresTx
from server.store.sqlite_tx import SqliteTx
from server.wsgiserver import WSGIServer

BAD_TOKEN = "ss_" + "A" * 43


def test_bad_tokens_from_a_shared_address_never_throttle_valid_tokens(app, client, api) -> None:
    guesser = client(BAD_TOKEN)  # every client here connects from 127.0.0.1, as a host's tenants do
    statuses = [guesser.get("/v1/whoami").status_code for _ in range(app.limiter.threshold + 1)]
    assert statuses == [401] * app.limiter.threshold + [429]
    assert api.get(f"{SITE}/secrets").status_code == 200
    details = expect_error(guesser.get("/v1/whoami"), 429, "rate_limited")
    assert details["reason"] == "bad_tokens"  # a client can tell this 429 from its own token's


def test_site_bound_admin_may_not_change_its_sites_limits(api, as_role, data_dir, db_rows) -> None:
    tenant = as_role("admin", site="default")
    before = db_rows()
    expect_error(tenant.patch(SITE, json={"limits": {"max_secrets": 100_000, "max_value_bytes": 512 * 1024}}), 403, "forbidden")
    after = db_rows()
    assert after.pop("audit_events")[0][0] == before.pop("audit_events")[0][0] + 1
    assert after == before
    [denied] = audit_rows(data_dir, action="site.update")
    assert (denied["outcome"], denied["actor"], denied["site"]) == ("denied", "admin-default", "default")
    assert api.patch(SITE, json={"limits": {"max_secrets": 150}}).json()["limits"]["max_secrets"] == 150


def test_site_bound_admin_still_manages_its_own_apps_tokens_and_audit(as_role) -> None:
    tenant = as_role("admin", site="default")
    assert tenant.post(f"{SITE}/apps", json={"name": "web"}).status_code == 201
    assert tenant.post("/v1/tokens", json={"name": "ci", "role": "editor"}).status_code == 201
    assert tenant.get(f"{SITE}/audit").status_code == 200


def test_a_site_created_again_under_a_deleted_sites_name_starts_with_an_empty_audit_log(api, mint) -> None:
    gamma = "/v1/sites/gamma"
    assert api.post("/v1/sites", json={"name": "gamma"}).status_code == 201
    create_secret(api, "OLD_TENANT_DB_PASSWORD", scope=gamma)
    mint("viewer", site="gamma")
    assert api.delete(f"{gamma}/secrets/OLD_TENANT_DB_PASSWORD").status_code == 204
    assert api.delete(gamma).status_code == 204
    assert api.post("/v1/sites", json={"name": "gamma"}).status_code == 201
    assert [e["action"] for e in api.get(f"{gamma}/audit").json()["items"]] == ["site.create"]
    whole = [(e["action"], e["site"]) for e in api.get("/v1/audit").json()["items"]]
    # the deleted secret waited in the trash, which the site's deletion purged (audited, as every purge is)
    assert whole[:7] == [("site.create", "gamma"), ("site.delete", "gamma"), ("secret.purge", "gamma"), ("secret.delete", "gamma"),
                         ("token.create", "gamma"), ("secret.create", "gamma"), ("site.create", "gamma")]


V1_EVENTS = [  # (site, action) of a log written before audit rows knew a site's lifetime
    ("gamma", "site.create"), ("gamma", "secret.create"), ("gamma", "site.delete"),
    ("gone", "site.create"), (None, "token.create"), ("gamma", "site.create"), ("gamma", "secret.create"),
]


def test_migration_gives_existing_events_to_the_current_site_only_from_its_last_creation(backend, tmp_path) -> None:
    store = version_1_database(backend, tmp_path)
    try:
        store.migrate()
        events = store.tx.list_audit("gamma", {}, 100, None)
        assert [(e["id"], e["action"]) for e in events] == [(7, "secret.create"), (6, "site.create")]
        assert len(store.tx.list_audit(None, {}, 100, None)) == len(V1_EVENTS)
        [uid] = [r[0] for r in store.tx._all("SELECT uid FROM sites")]
        assert len(uid) == 32
    finally:
        store.close()


HUGE = "A" * 60_000


@pytest.mark.parametrize("method, path", [
    ("POST", f"{SITE}/secrets/{HUGE}/reveal"), ("GET", f"{SITE}/apps/web/secrets/{HUGE}"),
    ("GET", f"{SITE}/services/{HUGE.lower()}"), ("GET", f"/v1/sites/{HUGE.lower()}/audit"), ("DELETE", f"/v1/tokens/{HUGE}"),
], ids=["secret-reveal", "app-secret", "service", "site", "token"])
def test_a_path_parameter_longer_than_any_name_is_refused_before_anything_is_stored(as_role, db_rows, method, path) -> None:
    viewer = as_role("viewer")
    before = db_rows()
    details = expect_error(viewer.request(method, path), 404, "not_found")
    assert details["max_length"] < 5000
    assert db_rows() == before


def test_a_denied_request_audits_only_a_bounded_prefix_of_its_path(as_role, data_dir) -> None:
    name = "A" * 4000  # as long as a name may ever be, so it reaches the roles check
    expect_error(as_role("viewer").post(f"{SITE}/secrets/{name}/reveal"), 403, "forbidden")
    [denied] = audit_rows(data_dir, action="secret.reveal", outcome="denied")
    assert len(denied["details"]) < 400 and f"{SITE}/secrets/AAAA" in denied["details"]


def test_the_access_log_keeps_only_a_bounded_prefix_of_a_path(app, capsys) -> None:
    server = WSGIServer(app, "127.0.0.1", 0, access_log=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert httpx.get(f"{server.url}{SITE}/secrets/{HUGE}", timeout=30).status_code == 404
        logged = wait_for_output(capsys, " 404")
    finally:
        server.shutdown()
        thread.join()
    assert len(logged) < 400 and "more characters" in logged


@pytest.mark.parametrize("pasted", ["ss%5F", "%73s_", "%73%73%5f"], ids=["underscore", "first-s", "prefix"])
def test_the_access_log_masks_a_token_pasted_into_a_path_percent_encoded(app, capsys, pasted) -> None:
    # the audit event and the error name the decoded path, which is masked; the access line keeps
    # the request target as sent, so a token's percent-encoded form must be masked there too
    body = "Ab0-_" * 8 + "xyz"
    server = WSGIServer(app, "127.0.0.1", 0, access_log=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=30) as conn:  # sent as is: no client normalises it
            conn.sendall(f"DELETE /v1/tokens/{pasted}{body} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
            while conn.recv(65536):
                pass
        logged = wait_for_output(capsys, " 401")
    finally:
        server.shutdown()
        thread.join()
    assert body not in logged and body[:24] not in logged and "/v1/tokens/ss_***" in logged


def wait_for_output(capsys, text: str, ceiling: float = 30.0) -> str:
    """The server's stderr once it holds `text` (the access line is written after the answer is sent)."""
    seen, deadline = "", time.monotonic() + ceiling
    while text not in seen and time.monotonic() < deadline:
        seen += capsys.readouterr().err
        time.sleep(0.01)
    assert text in seen, seen
    return seen


def test_deleting_a_service_revokes_its_tokens_audited(api, client, mint, data_dir) -> None:
    assert api.post(f"{SITE}/services", json={"name": "worker", "secrets": [{"name": "OLD"}]}).status_code == 201
    old_token = client(mint("service", site="default", service="worker"))
    assert old_token.get(f"{SITE}/services/worker/env").status_code == 200
    assert api.delete(f"{SITE}/services/worker").status_code == 204
    create_secret(api, "NEW_TENANT_KEY", "new-value")
    assert api.post(f"{SITE}/services", json={"name": "worker", "secrets": [{"name": "NEW_TENANT_KEY"}]}).status_code == 201
    expect_error(old_token.get(f"{SITE}/services/worker/env"), 401, "unauthorized")
    [revoked] = audit_rows(data_dir, action="token.delete")
    assert revoked["site"] == "default" and "service.delete" in revoked["details"]


def test_switching_off_site_secrets_under_services_that_bind_them_is_409_naming_them(api, db_rows) -> None:
    assert api.post(f"{SITE}/apps", json={"name": "web"}).status_code == 201
    for name, secrets in (("worker", [{"name": "SHARED"}]), ("cron", [{"name": "SHARED"}]), ("own-only", [])):
        assert api.post(f"{SITE}/services", json={"name": name, "app": "web", "secrets": secrets}).status_code == 201
    before = db_rows()
    refused = api.patch(f"{SITE}/apps/web", json={"site_secrets": False})
    assert expect_error(refused, 409, "secret_in_use")["services"] == ["cron", "worker"]
    assert refused.json()["error"]["message"] == "2 services of app 'web' bind site-level secrets; unbind them first"
    assert db_rows() == before
    for name in ("worker", "cron"):
        assert api.patch(f"{SITE}/services/{name}", json={"secrets": []}).status_code == 200
    assert api.patch(f"{SITE}/apps/web", json={"site_secrets": False}).json()["site_secrets"] is False


def test_a_site_secret_withheld_from_an_app_is_listed_as_missing_so_run_refuses_to_start(api, data_dir) -> None:
    create_secret(api, "SHARED", "site-value")
    assert api.post(f"{SITE}/apps", json={"name": "web"}).status_code == 201
    assert api.post(f"{SITE}/services", json={"name": "worker", "app": "web", "secrets": [{"name": "SHARED"}]}).status_code == 201
    dbbackend.rows(data_dir, "UPDATE apps SET site_secrets = 0 WHERE name = 'web'")  # as a database from before the 409 may hold
    env = api.get(f"{SITE}/services/worker/env").json()
    assert env["env"] == {} and env["missing"] == [{"name": "SHARED", "app": None}]


@dataclass
class OldDatabase:
    tx: Any
    migrate: Callable[[], int]
    close: Callable[[], None]


def version_1_database(backend: str, tmp_path) -> OldDatabase:
    """A database at schema version 1 holding site `gamma` (its second lifetime) and `V1_EVENTS`."""
    if backend == "sqlite":
        conn = sqlite.connect(tmp_path / "v1.db")
        conn.executescript(MIGRATIONS[0].sqlite)
        db = OldDatabase(SqliteTx(conn), lambda: sqlite.migrate(conn), conn.close)
        mark = "?"
    else:
        conn = postgres.connect(dbbackend.new_schema_url())
        conn.execute(MIGRATIONS[0].postgresql)
        db = OldDatabase(PostgresTx(conn, writing=False), lambda: postgres.migrate(conn), conn.close)
        mark = "%s"
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    conn.execute("INSERT INTO schema_migrations VALUES (1, 'initial schema', '2026-01-01T00:00:00Z')")
    conn.execute(f"INSERT INTO sites (name, created_at, wrapped_key) VALUES ('gamma', '2026-01-01T00:00:00Z', {mark})", (b"key",))
    for site, action in V1_EVENTS:
        conn.execute(f"INSERT INTO audit_events (at, action, site, outcome, details) VALUES ('2026-01-01T00:00:00Z', {mark}, {mark}, 'ok', '{{}}')",
                     (action, site))
    return db
