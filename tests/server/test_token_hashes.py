"""Token hashes are keyed: writing the database mints no token, and tokens made before the token
key (plain SHA-256 rows) keep working once the database is upgraded, through rotations, copies
and restores alike. See `server/tokenkey.py`."""

from __future__ import annotations

import base64
import hashlib
import logging
from pathlib import Path

import httpx
import pytest

import dbbackend
from apihelpers import expect_error
from server import crypto, keys
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
    dbbackend.rows(data_dir, "DELETE FROM meta WHERE key = ?", TOKEN_KEY_META)
    dbbackend.rows(data_dir, "UPDATE meta SET value = ? WHERE key = 'master_key_check'", crypto.legacy_key_check_value(master))


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


# ------------------------------------------------------------ upgrading a database from before the token key


def test_tokens_made_before_the_token_key_still_work_after_the_upgrade(data_dir, admin_token) -> None:
    make_legacy(data_dir, [admin_token])
    assert status_after_open(data_dir, admin_token) == 200
    assert meta(data_dir, "master_key_check") == crypto.key_check_value(keys.read_key_file(data_dir / keys.KEY_FILE))
    assert dbbackend.rows(data_dir, "SELECT hash FROM tokens") == [{"hash": token_hasher(data_dir).hash(admin_token)}]


def test_the_upgrade_keys_the_hashes_once_however_often_the_server_starts(data_dir, admin_token) -> None:
    make_legacy(data_dir, [admin_token])
    assert status_after_open(data_dir, admin_token) == 200
    upgraded = (meta(data_dir, TOKEN_KEY_META), dbbackend.rows(data_dir, "SELECT hash FROM tokens"))
    assert status_after_open(data_dir, admin_token) == 200
    assert (meta(data_dir, TOKEN_KEY_META), dbbackend.rows(data_dir, "SELECT hash FROM tokens")) == upgraded


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
    keys.write_private_file(restored / keys.KEY_FILE, (data_dir / keys.KEY_FILE).read_text())
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
