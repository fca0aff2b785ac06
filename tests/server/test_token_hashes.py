"""Token hashes are keyed and token rows sealed: writing the database mints no token and makes
none stronger, and tokens made before the token key (plain SHA-256 rows) or before row MACs keep
working once the database is upgraded, through rotations, copies and restores alike. See
`server/tokenkey.py`."""

from __future__ import annotations

import base64
import hashlib
import logging
from pathlib import Path

import httpx
import pytest

import dbbackend
from apihelpers import expect_error
from server import crypto, files, keys
from shared.models import Role
from server.app import create_app
from server.auth import TokenHasher
from server.backup import backup, restore
from server.datadir import DataDirError, create_token_offline, open_state, rotate_master_key
from server.tokenkey import TOKEN_KEY_META

CHOSEN = "ss_" + "a" * 43  # a token of the attacker's choosing


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def meta(data_dir: Path, key: str) -> str | None:
    found = dbbackend.rows(data_dir, "SELECT value FROM meta WHERE key = ?", key)
    return found[0]["value"] if found else None


def token_hasher(data_dir: Path) -> TokenHasher:
    master = keys.read_key_file(data_dir / keys.KEY_FILE)
    return TokenHasher(crypto.unwrap_token_key(master, base64.b64decode(meta(data_dir, TOKEN_KEY_META))))


def plant_token_row(data_dir: Path, token_hash: str, token_id: str = "tok_planted") -> None:
    """What a writer of the database would do to mint an operator's admin token."""
    dbbackend.rows(data_dir, "INSERT INTO tokens (id, name, role, site, service, hash, created_at) "
                   "VALUES (?, 'planted', 'admin', NULL, NULL, ?, '2024-01-01T00:00:00Z')", token_id, token_hash)


def make_legacy(data_dir: Path, tokens: list[str]) -> None:
    """Turn the database into what the code before the token key left: plain SHA-256 token
    hashes, no token key, and the legacy key check value."""
    master, hasher = keys.read_key_file(data_dir / keys.KEY_FILE), token_hasher(data_dir)
    for token in tokens:
        dbbackend.rows(data_dir, "UPDATE tokens SET hash = ? WHERE hash = ?", sha256(token), hasher.hash(token))
    dbbackend.rows(data_dir, "UPDATE tokens SET mac = NULL")
    dbbackend.rows(data_dir, "DELETE FROM meta WHERE key = ?", TOKEN_KEY_META)
    dbbackend.rows(data_dir, "UPDATE meta SET value = ? WHERE key = 'master_key_check'", crypto.legacy_key_check_value(master, 1))


def make_unsealed(data_dir: Path) -> None:
    """Turn the database into what the code before token row MACs left: keyed hashes, the token
    key, rows without a MAC, and that code's key check value."""
    master = keys.read_key_file(data_dir / keys.KEY_FILE)
    dbbackend.rows(data_dir, "UPDATE tokens SET mac = NULL")
    dbbackend.rows(data_dir, "UPDATE meta SET value = ? WHERE key = 'master_key_check'", crypto.legacy_key_check_value(master, 2))


def token_rows(data_dir: Path) -> list[dict]:
    return dbbackend.rows(data_dir, "SELECT id, hash, mac FROM tokens ORDER BY id")


class Opened:
    """The application over a data directory, opened as a starting server opens it."""

    def __init__(self, data_dir: Path) -> None:
        self.state = open_state(dbbackend.settings_for(data_dir), environ={})
        self.transport = httpx.WSGITransport(app=create_app(self.state), raise_app_exceptions=False)

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(transport=self.transport, base_url="http://testserver", headers={"Authorization": f"Bearer {token}"})

    def status(self, token: str) -> int:
        with self.client(token) as client:
            return client.get("/v1/whoami").status_code

    def __enter__(self) -> "Opened":
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.store.close()


def status_after_open(data_dir: Path, token: str) -> int:
    with Opened(data_dir) as opened:
        return opened.status(token)


# ------------------------------------------------------------ writing the database mints nothing


@pytest.mark.parametrize("forged_hash", [sha256(CHOSEN), CHOSEN, sha256(sha256(CHOSEN))], ids=["sha256", "plain", "sha256-twice"])
def test_a_row_planted_with_a_hash_of_a_chosen_token_gets_401(data_dir, client, forged_hash) -> None:
    plant_token_row(data_dir, forged_hash)
    expect_error(client(CHOSEN).get("/v1/whoami"), 401, "unauthorized")


def test_a_planted_row_gets_401_after_a_restart_too(data_dir) -> None:
    plant_token_row(data_dir, sha256(CHOSEN))
    assert status_after_open(data_dir, CHOSEN) == 401


def test_deleting_the_token_key_to_pass_for_a_legacy_database_stops_the_server_instead(data_dir) -> None:
    plant_token_row(data_dir, sha256(CHOSEN))
    dbbackend.rows(data_dir, "DELETE FROM meta WHERE key = ?", TOKEN_KEY_META)
    with pytest.raises(DataDirError, match="no token key"):
        open_state(dbbackend.settings_for(data_dir), environ={})
    assert dbbackend.rows(data_dir, "SELECT hash FROM tokens WHERE id = 'tok_planted'") == [{"hash": sha256(CHOSEN)}]


def test_a_token_key_wrapped_under_another_master_key_is_refused(data_dir) -> None:
    chosen_key = base64.b64encode(crypto.wrap_token_key(crypto.new_key(), crypto.new_key())).decode()
    dbbackend.rows(data_dir, "UPDATE meta SET value = ? WHERE key = ?", chosen_key, TOKEN_KEY_META)
    with pytest.raises(DataDirError, match="does not open with the master key"):
        open_state(dbbackend.settings_for(data_dir), environ={})


# ------------------------------------------------------------ writing the database makes no token stronger

EDITS = {
    # what a writer holding a viewer's or a service's token would change to gain power
    "role": (("viewer", "default"), {}, "role = 'admin'"),
    "site": (("viewer", "default"), {}, "site = NULL"),
    "service": (("service", "default", "api"), {}, "service = 'billing'"),
    "expiry": (("viewer", "default"), {"expires_in_days": 1}, "expires_at = NULL"),
    "mac removed": (("viewer", "default"), {}, "mac = NULL"),
}


@pytest.fixture
def services(api) -> None:
    for name in ("api", "billing"):
        assert api.post("/v1/sites/default/services", json={"name": name, "secrets": []}).status_code == 201


def token_id(client, token: str) -> str:
    return client(token).get("/v1/whoami").json()["id"]


@pytest.mark.parametrize("edit", EDITS)
def test_a_token_whose_row_was_edited_in_the_database_gets_401(api, client, mint, services, data_dir, edit) -> None:
    args, extra, assignment = EDITS[edit]
    token = mint(*args, **extra)
    dbbackend.rows(data_dir, f"UPDATE tokens SET {assignment} WHERE id = ?", token_id(client, token))
    expect_error(client(token).get("/v1/whoami"), 401, "unauthorized")


def test_tokens_whose_rows_were_not_edited_keep_working(api, client, mint, data_dir) -> None:
    viewer, editor = mint("viewer", "default"), mint("editor", "default")
    dbbackend.rows(data_dir, "UPDATE tokens SET role = 'admin' WHERE id = ?", token_id(client, viewer))
    assert (client(viewer).get("/v1/whoami").status_code, client(editor).get("/v1/whoami").status_code) == (401, 200)
    assert api.get("/v1/sites").status_code == 200


def test_a_row_given_another_tokens_hash_gets_401(api, client, mint, data_dir, admin_token) -> None:
    viewer = mint("viewer", "default")
    viewer_id = token_id(client, viewer)
    viewer_hash = dbbackend.rows(data_dir, "SELECT hash FROM tokens WHERE id = ?", viewer_id)[0]["hash"]
    dbbackend.rows(data_dir, "DELETE FROM tokens WHERE id = ?", viewer_id)
    dbbackend.rows(data_dir, "UPDATE tokens SET hash = ? WHERE id = ?", viewer_hash, token_id(client, admin_token))
    expect_error(client(viewer).get("/v1/sites"), 401, "unauthorized")


def test_an_edited_row_is_logged_once_by_id_without_token_material(client, mint, data_dir, caplog) -> None:
    viewer = mint("viewer", "default")
    viewer_id = token_id(client, viewer)
    stored = dbbackend.rows(data_dir, "SELECT hash, mac FROM tokens WHERE id = ?", viewer_id)[0]
    dbbackend.rows(data_dir, "UPDATE tokens SET role = 'admin', site = NULL WHERE id = ?", viewer_id)
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        expect_error(client(viewer).get("/v1/whoami"), 401, "unauthorized")
    refusals = [r for r in caplog.records if "MAC does not match" in r.getMessage()]
    assert len(refusals) == 1 and viewer_id in refusals[0].getMessage()
    for text in (viewer, sha256(viewer), stored["hash"], stored["mac"]):
        assert text not in caplog.text


def test_stripping_the_macs_of_edited_rows_does_not_get_them_sealed_at_the_next_start(data_dir, admin_token) -> None:
    with Opened(data_dir) as opened, opened.client(admin_token) as admin:
        viewer = admin.post("/v1/tokens", json={"name": "v", "role": "viewer", "site": "default"}).json()["token"]
    dbbackend.rows(data_dir, "UPDATE tokens SET role = 'admin', site = NULL, mac = NULL WHERE name = 'v'")
    with Opened(data_dir) as opened:
        assert (opened.status(viewer), opened.status(admin_token)) == (401, 200)
    assert dbbackend.rows(data_dir, "SELECT mac FROM tokens WHERE name = 'v'") == [{"mac": None}]


# ------------------------------------------------------------ upgrading a database from before token row MACs


def mint_viewer(data_dir: Path, admin_token: str) -> str:
    with Opened(data_dir) as opened, opened.client(admin_token) as admin:
        return admin.post("/v1/tokens", json={"name": "v", "role": "viewer", "site": "default"}).json()["token"]


def assert_sealed(data_dir: Path) -> None:
    master = keys.read_key_file(data_dir / keys.KEY_FILE)
    assert meta(data_dir, "master_key_check") == crypto.key_check_value(master)
    assert all(row["mac"] for row in token_rows(data_dir))


def test_tokens_made_before_row_macs_get_them_at_the_next_start_and_keep_working(data_dir, admin_token) -> None:
    viewer = mint_viewer(data_dir, admin_token)
    make_unsealed(data_dir)
    with Opened(data_dir) as opened:
        assert (opened.status(admin_token), opened.status(viewer)) == (200, 200)
    assert_sealed(data_dir)


def test_rows_edited_after_the_upgrade_of_a_database_from_before_row_macs_get_401(data_dir, admin_token) -> None:
    viewer = mint_viewer(data_dir, admin_token)
    make_unsealed(data_dir)
    assert status_after_open(data_dir, viewer) == 200
    dbbackend.rows(data_dir, "UPDATE tokens SET role = 'admin', site = NULL, mac = NULL WHERE name = 'v'")
    assert status_after_open(data_dir, viewer) == 401


def test_offline_token_create_seals_a_database_from_before_row_macs_and_every_token_works(data_dir, admin_token) -> None:
    viewer = mint_viewer(data_dir, admin_token)
    make_unsealed(data_dir)
    minted = create_token_offline(data_dir, "recovery", Role.admin, None, database_url=dbbackend.database_url(data_dir), environ={})
    assert_sealed(data_dir)
    with Opened(data_dir) as opened:
        assert (opened.status(admin_token), opened.status(viewer), opened.status(minted)) == (200, 200, 200)


def test_rotating_a_database_from_before_row_macs_seals_it_and_keeps_its_tokens(data_dir, admin_token) -> None:
    viewer = mint_viewer(data_dir, admin_token)
    make_unsealed(data_dir)
    rotate_master_key(data_dir, environ={}, database_url=dbbackend.database_url(data_dir))
    assert_sealed(data_dir)
    with Opened(data_dir) as opened:
        assert (opened.status(admin_token), opened.status(viewer)) == (200, 200)


@pytest.mark.sqlite_only(reason="backup and restore copy the SQLite file")
def test_a_backup_from_before_row_macs_restores_into_working_tokens(data_dir, admin_token, tmp_path) -> None:
    make_unsealed(data_dir)
    backup(data_dir, tmp_path / "secrets.backup")
    restored = tmp_path / "restored"
    restored.mkdir(mode=0o700)
    files.write_private_file(restored / keys.KEY_FILE, (data_dir / keys.KEY_FILE).read_text())
    restore(tmp_path / "secrets.backup", restored, environ={})
    assert status_after_open(restored, admin_token) == 200
    assert_sealed(restored)


# ------------------------------------------------------------ upgrading a database from before the token key


def test_tokens_made_before_the_token_key_still_work_after_the_upgrade(data_dir, admin_token) -> None:
    make_legacy(data_dir, [admin_token])
    assert status_after_open(data_dir, admin_token) == 200
    assert dbbackend.rows(data_dir, "SELECT hash FROM tokens") == [{"hash": token_hasher(data_dir).hash(admin_token)}]
    assert_sealed(data_dir)


def test_the_upgrade_keys_the_hashes_once_however_often_the_server_starts(data_dir, admin_token) -> None:
    make_legacy(data_dir, [admin_token])
    assert status_after_open(data_dir, admin_token) == 200
    upgraded = (meta(data_dir, TOKEN_KEY_META), token_rows(data_dir))
    assert status_after_open(data_dir, admin_token) == 200
    assert (meta(data_dir, TOKEN_KEY_META), token_rows(data_dir)) == upgraded


def test_offline_token_create_upgrades_a_legacy_database_and_both_tokens_work(data_dir, admin_token) -> None:
    make_legacy(data_dir, [admin_token])
    minted = create_token_offline(data_dir, "recovery", Role.admin, None, database_url=dbbackend.database_url(data_dir), environ={})
    with Opened(data_dir) as opened:
        assert (opened.status(admin_token), opened.status(minted)) == (200, 200)


def test_rotating_a_legacy_database_upgrades_it_and_keeps_its_tokens(data_dir, admin_token) -> None:
    make_legacy(data_dir, [admin_token])
    rotate_master_key(data_dir, environ={}, database_url=dbbackend.database_url(data_dir))
    assert meta(data_dir, TOKEN_KEY_META) is not None
    assert status_after_open(data_dir, admin_token) == 200


# ------------------------------------------------------------ the token key travels with the database


def test_tokens_survive_rotate_master_key(data_dir, admin_token) -> None:
    with Opened(data_dir) as opened, opened.client(admin_token) as admin:
        viewer = admin.post("/v1/tokens", json={"name": "v", "role": "viewer", "site": "default"}).json()["token"]
    wrapped = meta(data_dir, TOKEN_KEY_META)
    rotate_master_key(data_dir, environ={}, database_url=dbbackend.database_url(data_dir))
    assert meta(data_dir, TOKEN_KEY_META) != wrapped  # re-wrapped under the new key
    with Opened(data_dir) as opened:
        assert (opened.status(admin_token), opened.status(viewer)) == (200, 200)


def test_offline_token_create_makes_a_working_token(data_dir) -> None:
    minted = create_token_offline(data_dir, "recovery", Role.admin, None, database_url=dbbackend.database_url(data_dir), environ={})
    assert status_after_open(data_dir, minted) == 200
    assert sha256(minted) not in repr(dbbackend.rows(data_dir, "SELECT hash FROM tokens"))


@pytest.mark.sqlite_only(reason="backup and restore copy the SQLite file")
def test_tokens_work_after_backup_and_restore(data_dir, admin_token, tmp_path) -> None:
    backup(data_dir, tmp_path / "secrets.backup")
    restored = tmp_path / "restored"
    restored.mkdir(mode=0o700)
    files.write_private_file(restored / keys.KEY_FILE, (data_dir / keys.KEY_FILE).read_text())
    restore(tmp_path / "secrets.backup", restored, environ={})
    assert status_after_open(restored, admin_token) == 200


def test_no_token_nor_hash_reaches_the_log_through_upgrade_and_refusals(data_dir, admin_token, caplog) -> None:
    make_legacy(data_dir, [admin_token])
    caplog.set_level(logging.DEBUG)
    with Opened(data_dir) as opened:
        plant_token_row(data_dir, sha256(CHOSEN))
        assert (opened.status(admin_token), opened.status(CHOSEN)) == (200, 401)
        hasher = opened.state.tokens
    logged = caplog.text
    for text in (admin_token, CHOSEN, sha256(admin_token), sha256(CHOSEN), hasher.hash(admin_token), hasher.hash(CHOSEN)):
        assert text not in logged
