"""Tokens: minted once, stored as hashes, listed without the secret part, bound, expiring, revoked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sqlite3

import pytest

import dbbackend
from apihelpers import audit_rows, expect_error, expire_token, racing_the_token_sweep
from server import crypto, keys
from server.context import utc_now
from server.handlers.tokens import remove_expired_tokens
from server.datadir import DataDirError, create_token_offline
from shared.models import Role

TOKEN_FIELDS = {"id", "name", "role", "site", "service", "created_at", "expires_at", "last_used_at"}


def test_created_token_is_shown_once_and_works(api, client, data_dir) -> None:
    response = api.post("/v1/tokens", json={"name": "ci", "role": "editor", "site": "default", "expires_in_days": 30})
    assert response.status_code == 201
    created = response.json()
    assert set(created) == TOKEN_FIELDS | {"token"}
    assert re.fullmatch(r"ss_[A-Za-z0-9_-]{43,}", created["token"])
    assert (created["role"], created["site"], created["service"]) == ("editor", "default", None)
    assert created["expires_at"] is not None
    assert client(created["token"]).get("/v1/whoami").json()["id"] == created["id"]
    listed = {t["id"]: t for t in api.get("/v1/tokens").json()["items"]}
    assert set(listed[created["id"]]) == TOKEN_FIELDS
    assert created["token"] not in api.get("/v1/tokens").text


@pytest.mark.sqlite_only(reason="reads the bytes of the SQLite file and its WAL")
def test_only_a_keyed_hash_of_the_token_is_stored(api, data_dir) -> None:
    token = api.post("/v1/tokens", json={"name": "ci", "role": "viewer"}).json()["token"]
    raw = (data_dir / "secrets.db").read_bytes() + (data_dir / "secrets.db-wal").read_bytes()
    assert token.encode() not in raw
    plain = hashlib.sha256(token.encode()).hexdigest()
    assert plain.encode() not in raw
    with sqlite3.connect(data_dir / "secrets.db") as conn:
        hashes = {r[0] for r in conn.execute("SELECT hash FROM tokens")}
        wrapped = conn.execute("SELECT value FROM meta WHERE key = 'token_hash_key'").fetchone()[0]
    conn.close()
    token_key = crypto.unwrap_token_key(keys.read_key_file(data_dir / keys.KEY_FILE), base64.b64decode(wrapped))
    assert hmac.new(token_key, plain.encode(), hashlib.sha256).hexdigest() in hashes


def test_token_creation_is_audited_without_the_token(api, data_dir) -> None:
    created = api.post("/v1/tokens", json={"name": "ci", "role": "viewer"}).json()
    [event] = audit_rows(data_dir, action="token.create", actor="admin")
    assert event["target"] == f"token:{created['id']}" and created["token"] not in str(event)


def test_service_token_needs_an_existing_service_and_a_site(api, db_rows) -> None:
    before = db_rows()
    expect_error(api.post("/v1/tokens", json={"name": "s", "role": "service", "service": "worker"}), 422, "validation_error")
    expect_error(api.post("/v1/tokens", json={"name": "s", "role": "service", "site": "default"}), 422, "validation_error")
    expect_error(api.post("/v1/tokens", json={"name": "s", "role": "service", "site": "default", "service": "nope"}), 404, "not_found")
    expect_error(api.post("/v1/tokens", json={"name": "s", "role": "viewer", "site": "default", "service": "x"}), 422, "validation_error")
    assert db_rows() == before


@pytest.mark.parametrize("role, site, service", [
    (Role.service, "default", "nope"),  # it would fetch the environment of a service made later under that name
    (Role.service, None, "worker"),  # bound to no site, it would fetch every site's "worker" environment
    (Role.service, "default", None),
    (Role.viewer, "default", "worker"),
])
def test_offline_token_create_refuses_what_the_api_refuses(api, data_dir, db_rows, role, site, service) -> None:
    assert api.post("/v1/sites/default/services", json={"name": "worker", "secrets": []}).status_code == 201
    before = db_rows()
    with pytest.raises(DataDirError):
        create_token_offline(data_dir, "s", role, site, service, database_url=dbbackend.database_url(data_dir), environ={})
    assert db_rows() == before


def test_token_for_unknown_site_is_404(api, db_rows) -> None:
    before = db_rows()
    expect_error(api.post("/v1/tokens", json={"name": "t", "role": "viewer", "site": "nope"}), 404, "not_found")
    assert db_rows() == before


@pytest.mark.parametrize("body", [
    {"name": "t", "role": "superuser"},
    {"name": "", "role": "viewer"},
    {"name": "tab\there", "role": "viewer"},
    {"name": "esc\x1b]52;c;eA==\x07", "role": "viewer"},
    {"name": "c1 csi\x9b2J", "role": "viewer"},
    {"name": "del\x7f", "role": "viewer"},
    {"name": "admin\u202egnp.exe", "role": "viewer"},
    {"name": "isolate\u2066x\u2069", "role": "viewer"},
    {"name": "mark\u200f", "role": "viewer"},
    {"name": "arabic mark\u061c", "role": "viewer"},
    {"name": "t", "role": "viewer", "expires_in_days": 0},
    {"name": "t", "role": "viewer", "expires_in_days": "7"},
])
def test_malformed_token_request_is_422(api, db_rows, body) -> None:
    before = db_rows()
    expect_error(api.post("/v1/tokens", json=body), 422, "validation_error")
    assert db_rows() == before


def test_token_name_may_hold_any_printable_unicode(api) -> None:
    name = "déploiement 🔑 — 日本語 👩\u200d💻"
    response = api.post("/v1/tokens", json={"name": name, "role": "viewer"})
    assert response.status_code == 201, response.text
    assert response.json()["name"] == name


def test_site_bound_admin_mints_only_for_its_site_and_lists_only_its_tokens(api, client, mint, db_rows) -> None:
    api.post("/v1/sites", json={"name": "shop"})
    shop_admin = client(mint("admin", site="shop"))
    minted = shop_admin.post("/v1/tokens", json={"name": "shop-viewer", "role": "viewer"})
    assert minted.status_code == 201 and minted.json()["site"] == "shop"
    before = db_rows()
    expect_error(shop_admin.post("/v1/tokens", json={"name": "x", "role": "admin", "site": "default"}), 403, "forbidden")
    assert db_rows() == before
    assert {t["site"] for t in shop_admin.get("/v1/tokens").json()["items"]} == {"shop"}
    first_admin = api.get("/v1/whoami").json()["id"]
    expect_error(shop_admin.delete(f"/v1/tokens/{first_admin}"), 404, "not_found")


def test_revoked_token_is_unlisted_and_audited(api, mint, client, data_dir) -> None:
    caller = client(mint("viewer"))
    token_id = caller.get("/v1/whoami").json()["id"]
    assert api.delete(f"/v1/tokens/{token_id}").status_code == 204
    assert token_id not in {t["id"] for t in api.get("/v1/tokens").json()["items"]}
    assert len(audit_rows(data_dir, action="token.delete")) == 1
    expect_error(api.delete(f"/v1/tokens/{token_id}"), 404, "not_found")


def test_a_token_expired_a_week_ago_is_removed_by_the_server_and_audited(api, mint, client, state, data_dir) -> None:
    """Tokens made to expire (a deploy's, each day) would otherwise pile up in every listing: a
    week after its expiry (time to see why a client stopped working), a token goes as if revoked."""
    ids = {}
    for name, expired_at in (("old", utc_now(-8 * 86400)), ("recent", utc_now(-6 * 86400)), ("live", None)):
        made = api.post("/v1/tokens", json={"name": name, "role": "viewer", "site": "default", "expires_in_days": 1}).json()
        ids[name] = made["id"]
        if expired_at:
            expire_token(state, data_dir, made["id"], expired_at)
    assert remove_expired_tokens(state.store) == 1
    assert {t["name"] for t in api.get("/v1/tokens?site=default").json()["items"]} == {"recent", "live"}
    [event] = audit_rows(data_dir, action="token.delete")
    assert (event["target"], event["actor"], event["site"]) == (f"token:{ids['old']}", "sitesecrets-server", "default")
    assert json.loads(event["details"]) == {"name": "old", "reason": "expired"}
    assert remove_expired_tokens(state.store) == 0


@pytest.mark.postgresql_only(reason="only PostgreSQL runs two writes at once: SQLite's one writer reads after the other commits")
def test_a_revoke_that_loses_the_race_to_the_sweep_is_404_and_audits_nothing(api, data_dir) -> None:
    """The sweep (or an admin on another replica) removes a token while a revoke of it is under
    way: only the one that removed it says so, in its answer and in the audit log."""
    made = api.post("/v1/tokens", json={"name": "old", "role": "viewer", "site": "default", "expires_in_days": 1}).json()
    expect_error(racing_the_token_sweep(data_dir, made["id"], lambda: api.delete(f"/v1/tokens/{made['id']}")), 404, "not_found")
    assert audit_rows(data_dir, action="token.delete") == []


def test_a_token_that_expires_mints_none_that_outlives_it(api, client, db_rows) -> None:
    """An admin token given for a week (a contractor's) must not mint itself a lasting successor."""
    temporary = api.post("/v1/tokens", json={"name": "contractor", "role": "admin", "site": "default", "expires_in_days": 7}).json()
    contractor = client(temporary["token"])
    before = db_rows()
    details = expect_error(contractor.post("/v1/tokens", json={"name": "later", "role": "admin", "expires_in_days": 8}), 403, "forbidden")
    assert details == {"expires_at": temporary["expires_at"]}
    assert db_rows() == before
    unasked = contractor.post("/v1/tokens", json={"name": "successor", "role": "viewer"})
    assert unasked.status_code == 201 and unasked.json()["expires_at"] == temporary["expires_at"]
    shorter = contractor.post("/v1/tokens", json={"name": "ci", "role": "editor", "expires_in_days": 1})
    assert shorter.status_code == 201 and shorter.json()["expires_at"] < temporary["expires_at"]


def test_a_token_that_never_expires_mints_tokens_of_any_lifetime(api) -> None:
    forever = api.post("/v1/tokens", json={"name": "forever", "role": "viewer"})
    assert forever.status_code == 201 and forever.json()["expires_at"] is None
    assert api.post("/v1/tokens", json={"name": "decade", "role": "viewer", "expires_in_days": 3650}).status_code == 201


def test_revoking_a_token_reads_that_token_alone(api, client, mint, monkeypatch) -> None:
    """A revoke runs in the writer every site shares: it must not read every tenant's tokens (a site
    that minted thousands made each operator revoke hold all writes up for a tenth of a second)."""
    from server.store.sql_tx import SqlTx

    api.post("/v1/sites", json={"name": "shop"})
    shop_admin = client(mint("admin", site="shop"))
    for n in range(5):
        mint("viewer", site="shop")
    default_token = api.post("/v1/tokens", json={"name": "d", "role": "viewer", "site": "default"}).json()["id"]
    read: list[int] = []
    listed = SqlTx.list_tokens
    monkeypatch.setattr(SqlTx, "list_tokens", lambda self, site=None: read.append(len(rows := listed(self, site))) or rows)
    expect_error(shop_admin.delete(f"/v1/tokens/{default_token}"), 404, "not_found")  # another site's: as if it did not exist
    victim = shop_admin.post("/v1/tokens", json={"name": "v", "role": "viewer"}).json()["id"]
    assert api.delete(f"/v1/tokens/{victim}").status_code == 204
    assert api.delete(f"/v1/tokens/{default_token}").status_code == 204
    assert sum(read) == 0
