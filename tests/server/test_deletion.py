"""What deleting leaves behind. A deleted site takes its wrapped data key with it, so whatever of
its ciphertexts outlives the delete (a PostgreSQL dead row, a backup) cannot be opened even with
the master key; on SQLite the key's bytes are wiped from the file and its WAL as well."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import dbbackend
from apihelpers import create_secret, stored_values

GONE = "/v1/sites/gone"


def delete_a_site_that_held_a_secret(api: httpx.Client, data_dir: Path) -> tuple[bytes, bytes]:
    """The wrapped data key and the last ciphertext of a site that is then deleted."""
    assert api.post("/v1/sites", json={"name": "gone"}).status_code == 201
    create_secret(api, "DOOMED", "doomed-value", scope=GONE)
    [row] = dbbackend.rows(data_dir, "SELECT wrapped_key FROM sites WHERE name = ?", "gone")
    [secret] = dbbackend.rows(data_dir, "SELECT ciphertext FROM secrets WHERE name = ?", "DOOMED")
    assert api.delete(f"{GONE}/secrets/DOOMED").status_code == 204
    assert api.delete(GONE).status_code == 204
    return bytes(row["wrapped_key"]), bytes(secret["ciphertext"])


def test_a_deleted_site_leaves_no_wrapped_data_key_in_the_database(api, data_dir, backend) -> None:
    wrapped_key, ciphertext = delete_a_site_that_held_a_secret(api, data_dir)
    values = stored_values(data_dir)
    assert values, "the default site's key is still there"
    assert not any(wrapped_key in v or ciphertext in v for v in values)


@pytest.mark.sqlite_only(reason="reads the bytes of the SQLite file and its WAL")
def test_a_deleted_sites_wrapped_data_key_is_wiped_from_the_sqlite_file_and_wal(api, data_dir) -> None:
    wrapped_key, _ = delete_a_site_that_held_a_secret(api, data_dir)
    for path in (data_dir / "secrets.db", data_dir / "secrets.db-wal"):
        held = path.exists() and wrapped_key in path.read_bytes()
        assert not held, f"{path.name} still holds the deleted site's wrapped data key"


def test_a_deleted_sites_data_key_is_dropped_from_the_servers_memory(api, data_dir, state) -> None:
    assert api.post("/v1/sites", json={"name": "gone"}).status_code == 201
    create_secret(api, "DOOMED", "doomed-value", scope=GONE)
    assert api.post(f"{GONE}/secrets/DOOMED/reveal").status_code == 200  # unwraps and caches the key
    [site] = dbbackend.rows(data_dir, "SELECT id FROM sites WHERE name = ?", "gone")
    assert any(site_id == site["id"] for site_id, _ in state.keyring._data_keys)
    assert api.delete(f"{GONE}/secrets/DOOMED").status_code == 204
    assert api.delete(GONE).status_code == 204
    assert not any(site_id == site["id"] for site_id, _ in state.keyring._data_keys)
