"""What is at rest: no plaintext in the database, its WAL or the audit rows; tampered or moved
ciphertexts fail their integrity check alone; restarts keep everything; the master key is checked
at start-up and can be rotated without touching a value."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

import dbbackend
from dbbackend import settings_for
from server import crypto, files, keys
from server.app import create_app
from server.datadir import DataDirError, open_state, rotate_master_key

from apihelpers import SITE, audit_rows, create_secret, expect_error, reveal

APP = f"{SITE}/apps/web"


def db_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (data_dir / "secrets.db", data_dir / "secrets.db-wal") if p.exists())


def sql(data_dir: Path, statement: str, *params) -> list[tuple]:
    """Run one statement straight against the database, as an attacker with the database would."""
    return [tuple(row.values()) for row in dbbackend.rows(data_dir, statement, *params)]


def _where(name: str, app: str | None, site: str) -> tuple[str, tuple]:
    """The one row of secret `name` in `site` (and `app`): with a second site holding the same name,
    a query by name alone reads either row first on PostgreSQL, which keeps no row order."""
    app_clause = "app_id IS NULL" if app is None else "app_id = (SELECT id FROM apps WHERE name = ?)"
    return (f"name = ? AND site_id = (SELECT id FROM sites WHERE name = ?) AND {app_clause}",
            (name, site) + (() if app is None else (app,)))


def ciphertext(data_dir: Path, name: str, app: str | None = None, site: str = "default") -> bytes:
    where, params = _where(name, app, site)
    return sql(data_dir, f"SELECT ciphertext FROM secrets WHERE {where}", *params)[0][0]


def set_ciphertext(data_dir: Path, name: str, blob: bytes, app: str | None = None, site: str = "default") -> None:
    where, params = _where(name, app, site)
    sql(data_dir, f"UPDATE secrets SET ciphertext = ? WHERE {where}", blob, *params)


@pytest.mark.sqlite_only(reason="reads the bytes of the SQLite file and its WAL")
def test_no_plaintext_in_database_wal_or_audit_rows(api, data_dir) -> None:
    api.post(f"{SITE}/apps", json={"name": "web"})
    first, second = secrets.token_hex(32), secrets.token_urlsafe(48)
    create_secret(api, "SITE_VALUE", first)
    create_secret(api, "APP_VALUE", first, scope=APP)
    api.patch(f"{SITE}/secrets/SITE_VALUE", json={"value": second})
    assert reveal(api, "SITE_VALUE").json()["value"] == second
    assert reveal(api, "APP_VALUE", scope=APP).json()["value"] == first
    api.post(f"{SITE}/services", json={"name": "worker", "app": "web", "secrets": [{"name": "APP_VALUE", "app": "web"}]})
    assert api.get(f"{SITE}/services/worker/env").json()["env"] == {"APP_VALUE": first}
    raw = db_bytes(data_dir)
    assert (data_dir / "secrets.db-wal").exists()
    for value in (first, second):
        for needle in (value.encode(), value[:16].encode(), value.encode("utf-16-le")[:32]):
            assert needle not in raw
    audit_text = repr(audit_rows(data_dir))
    assert first not in audit_text and second not in audit_text and first[:16] not in audit_text


@pytest.fixture
def three_secrets(api) -> dict[str, str]:
    api.post(f"{SITE}/apps", json={"name": "web"})
    values = {"A": "alpha-value", "B": "bravo-value", "C": "charlie-value"}
    for name, value in values.items():
        create_secret(api, name, value)
    create_secret(api, "A", "app-alpha-value", scope=APP)
    return values


def assert_integrity_error_alone(api, data_dir, broken: str, values: dict[str, str]) -> None:
    response = reveal(api, broken)
    expect_error(response, 500, "integrity_error")
    assert values[broken] not in response.text
    [event] = audit_rows(data_dir, action="secret.reveal", outcome="error")
    assert event["target"] == f"secret:site/{broken}"
    for name, value in values.items():
        if name != broken:
            assert reveal(api, name).json()["value"] == value
    assert reveal(api, "A", scope=APP).json()["value"] == "app-alpha-value"


@pytest.mark.parametrize("position", [0, 5, 20, -1], ids=["format-byte", "nonce", "body", "tag"])
def test_flipped_byte_in_a_ciphertext_is_integrity_error_audited_and_alone(api, data_dir, three_secrets, position) -> None:
    blob = bytearray(ciphertext(data_dir, "B"))
    blob[position] ^= 0x01
    set_ciphertext(data_dir, "B", bytes(blob))
    assert_integrity_error_alone(api, data_dir, "B", three_secrets)


def test_ciphertext_copied_from_another_row_is_integrity_error(api, data_dir, three_secrets) -> None:
    set_ciphertext(data_dir, "B", ciphertext(data_dir, "C"))
    assert_integrity_error_alone(api, data_dir, "B", three_secrets)


def test_ciphertext_copied_from_the_same_name_in_another_scope_is_integrity_error(api, data_dir, three_secrets) -> None:
    set_ciphertext(data_dir, "A", ciphertext(data_dir, "A", app="web"))
    assert_integrity_error_alone(api, data_dir, "A", three_secrets)


def test_older_version_replayed_into_a_row_is_integrity_error(api, data_dir, three_secrets) -> None:
    old = ciphertext(data_dir, "B")
    api.patch(f"{SITE}/secrets/B", json={"value": "bravo-2"})
    set_ciphertext(data_dir, "B", old)
    assert_integrity_error_alone(api, data_dir, "B", three_secrets | {"B": "bravo-value"})


def test_ciphertext_moved_to_another_site_is_integrity_error(api, data_dir, three_secrets) -> None:
    api.post("/v1/sites", json={"name": "shop"})
    create_secret(api, "B", "shop-value", scope="/v1/sites/shop")
    set_ciphertext(data_dir, "B", ciphertext(data_dir, "B"), site="shop")
    expect_error(reveal(api, "B", scope="/v1/sites/shop"), 500, "integrity_error")
    assert reveal(api, "B").json()["value"] == "bravo-value"


def test_tampered_secret_fails_the_env_fetch_whole_and_audited(api, data_dir, three_secrets) -> None:
    api.post(f"{SITE}/services", json={"name": "worker", "secrets": [{"name": "A"}, {"name": "B"}]})
    set_ciphertext(data_dir, "B", ciphertext(data_dir, "C"))
    response = api.get(f"{SITE}/services/worker/env")
    expect_error(response, 500, "integrity_error")
    assert "alpha-value" not in response.text
    [event] = audit_rows(data_dir, action="service.env")
    assert event["outcome"] == "error"
    assert api.get(f"{SITE}/services/worker").json()["loaded_at"] is None


def test_tampered_wrapped_data_key_fails_that_site_alone(api, data_dir, three_secrets) -> None:
    api.post("/v1/sites", json={"name": "shop"})
    create_secret(api, "S", "shop-value", scope="/v1/sites/shop")
    wrapped = bytearray(sql(data_dir, "SELECT wrapped_key FROM sites WHERE name = 'shop'")[0][0])
    wrapped[-1] ^= 0x80
    sql(data_dir, "UPDATE sites SET wrapped_key = ? WHERE name = 'shop'", bytes(wrapped))
    expect_error(reveal(api, "S", scope="/v1/sites/shop"), 500, "integrity_error")
    assert reveal(api, "A").json()["value"] == "alpha-value"


def client_over(state, token: str) -> httpx.Client:
    transport = httpx.WSGITransport(app=create_app(state), raise_app_exceptions=False)
    return httpx.Client(transport=transport, base_url="http://testserver", headers={"Authorization": f"Bearer {token}"})


def test_restart_on_the_same_data_directory_keeps_everything(state, api, data_dir, admin_token, mint) -> None:
    api.post(f"{SITE}/apps", json={"name": "web", "site_secrets": False})
    api.post(f"{SITE}/secret-types", json={"key": "num", "name": "Number", "schema": {"type": "integer"}})
    create_secret(api, "A", "site-a", description="kept")
    create_secret(api, "N", "42", type="num")
    create_secret(api, "A", "app-a", scope=APP)
    api.patch(f"{SITE}/secrets/A", json={"value": "site-a-2"})
    api.post(f"{SITE}/services", json={"name": "worker", "app": "web", "secrets": [{"name": "A", "app": "web"}]})
    viewer = mint("viewer")
    views = {path: api.get(path).json() for path in (
        "/v1/sites", f"{SITE}/apps", f"{SITE}/secrets?scope=all", f"{SITE}/secret-types", f"{SITE}/services", "/v1/tokens")}
    audit_before = api.get(f"{SITE}/audit").json()["items"]
    state.store.close()

    reopened = open_state(settings_for(data_dir), environ={})
    try:
        with client_over(reopened, admin_token) as again:
            for path, before in views.items():
                after = again.get(path).json()
                if path == "/v1/tokens":  # last use moves on; identity does not
                    after = [{k: v for k, v in t.items() if k != "last_used_at"} for t in after["items"]]
                    before = [{k: v for k, v in t.items() if k != "last_used_at"} for t in before["items"]]
                assert after == before, path
            assert reveal(again, "A").json() == {"value": "site-a-2", "version": 2}
            assert reveal(again, "A", scope=APP).json() == {"value": "app-a", "version": 1}
            assert again.get(f"{SITE}/services/worker/env").json()["env"] == {"A": "app-a"}
            assert again.get(f"{SITE}/audit").json()["items"][-len(audit_before):] == audit_before
        with client_over(reopened, viewer) as viewer_again:
            assert viewer_again.get("/v1/whoami").status_code == 200
    finally:
        reopened.store.close()


def test_wrong_master_key_refuses_to_open(state, data_dir) -> None:
    state.store.close()
    (data_dir / keys.KEY_FILE).unlink()
    files.write_private_file(data_dir / keys.KEY_FILE, keys.encode_key(crypto.new_key()) + "\n")
    with pytest.raises(DataDirError):
        open_state(settings_for(data_dir), environ={})


def test_wrong_master_key_in_the_environment_refuses_to_open(state, data_dir) -> None:
    state.store.close()
    with pytest.raises(DataDirError):
        open_state(settings_for(data_dir), environ={keys.ENV_VAR: keys.encode_key(crypto.new_key())})


def test_missing_master_key_refuses_to_open(state, data_dir) -> None:
    state.store.close()
    (data_dir / keys.KEY_FILE).unlink()
    with pytest.raises(DataDirError):
        open_state(settings_for(data_dir), environ={})


def test_right_master_key_in_the_environment_opens(state, data_dir) -> None:
    state.store.close()
    key_text = (data_dir / keys.KEY_FILE).read_text().strip()
    (data_dir / keys.KEY_FILE).unlink()
    open_state(settings_for(data_dir), environ={keys.ENV_VAR: key_text}).store.close()


def test_rotated_master_key_keeps_every_value_and_retires_the_old_key(state, api, data_dir, admin_token) -> None:
    api.post("/v1/sites", json={"name": "shop"})
    api.post(f"{SITE}/apps", json={"name": "web"})
    values = {(SITE, "A"): "one", (APP, "A"): "two", ("/v1/sites/shop", "B"): "three"}
    for (scope, name), value in values.items():
        create_secret(api, name, value, scope=scope)
    ciphertexts_before = sql(data_dir, "SELECT id, ciphertext FROM secrets ORDER BY id")
    old_key = keys.read_key_file(data_dir / keys.KEY_FILE)
    state.store.close()

    rotate_master_key(data_dir, environ={}, database_url=dbbackend.database_url(data_dir))

    new_key = keys.read_key_file(data_dir / keys.KEY_FILE)
    assert new_key != old_key and not (data_dir / keys.NEW_KEY_FILE).exists()
    assert sql(data_dir, "SELECT id, ciphertext FROM secrets ORDER BY id") == ciphertexts_before  # no value re-encrypted
    for site, wrapped in sql(data_dir, "SELECT name, wrapped_key FROM sites"):
        with pytest.raises(crypto.IntegrityError):
            crypto.unwrap_data_key(old_key, site, wrapped)
        assert len(crypto.unwrap_data_key(new_key, site, wrapped)) == crypto.KEY_BYTES
    reopened = open_state(settings_for(data_dir), environ={})
    try:
        with client_over(reopened, admin_token) as again:
            for (scope, name), value in values.items():
                assert reveal(again, name, scope=scope).json()["value"] == value
    finally:
        reopened.store.close()
    (data_dir / keys.KEY_FILE).unlink()
    files.write_private_file(data_dir / keys.KEY_FILE, keys.encode_key(old_key) + "\n")
    with pytest.raises(DataDirError):
        open_state(settings_for(data_dir), environ={})
