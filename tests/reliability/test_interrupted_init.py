"""A first start cut short (ctrl+c, a crash) at any step of making a data directory leaves nothing
the next start minds: `local` starts, `init` initialises, and the key on disk opens the database.
The interruption is injected in-process between two steps, so each test hits the same moment
every time."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

import dbbackend
from server import datadir, files, keys
from server.app import create_app
from server.config import Settings
from server.datadir import DataDirError, init_data_dir, open_state
from server.embedded import EmbeddedServer


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def role_of(data_dir: Path, token: str, database_url: str | None = None) -> str:
    """The role `token` has on the server over `data_dir`: opening it checks the key too."""
    state = open_state(Settings(data_dir=data_dir, database_url=database_url), environ={})
    try:
        transport = httpx.WSGITransport(app=create_app(state))
        with httpx.Client(transport=transport, base_url="http://testserver") as client:
            return client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"}).json()["role"]
    finally:
        state.store.close()


def local_start_works(data_dir: Path) -> bool:
    with EmbeddedServer.start(data_dir) as server, httpx.Client(base_url=server.url) as client:
        answer = client.get("/v1/whoami", headers={"Authorization": f"Bearer {server.admin_token}"})
    return answer.json()["role"] == "admin"


def test_local_cut_short_after_its_key_before_its_database_starts_the_next_time(tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(datadir, "Keyring", interrupt)  # the database is being seeded
        with pytest.raises(KeyboardInterrupt):
            EmbeddedServer.start(tmp_path / "data")
    assert local_start_works(tmp_path / "data")
    assert sorted(os.listdir(tmp_path / "data")) == ["local-admin.token", "master.key", "secrets.db", "server.lock", "write.lock"]


def test_local_cut_short_while_writing_its_key_starts_the_next_time(tmp_path, monkeypatch):
    def cut_short(path: Path, content: str) -> None:
        path.touch(mode=0o600)  # the file is there, its bytes are not
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(files, "write_private_file", cut_short)
        with pytest.raises(KeyboardInterrupt):
            EmbeddedServer.start(tmp_path / "data")
    assert local_start_works(tmp_path / "data")


def test_local_cut_short_after_its_database_commit_finishes_at_the_next_start(tmp_path, monkeypatch):
    create_database = datadir._create_database

    def then_interrupt(*args):
        create_database(*args)
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(datadir, "_create_database", then_interrupt)
        with pytest.raises(KeyboardInterrupt):
            EmbeddedServer.start(tmp_path / "data")
    assert local_start_works(tmp_path / "data")
    assert sorted(os.listdir(tmp_path / "data")) == ["local-admin.token", "master.key", "secrets.db", "server.lock", "write.lock"]


def test_init_cut_short_before_its_commit_initialises_on_the_next_run(backend, tmp_path, monkeypatch):
    url = dbbackend.new_schema_url() if backend == "postgresql" else None
    with monkeypatch.context() as patch:
        patch.setattr(datadir, "Keyring", interrupt)
        with pytest.raises(KeyboardInterrupt):
            init_data_dir(tmp_path / "data", environ={}, database_url=url)
    token = init_data_dir(tmp_path / "data", environ={}, database_url=url)
    assert role_of(tmp_path / "data", token, url) == "admin"
    assert not (tmp_path / "data" / keys.NEW_KEY_FILE).exists()


def test_init_still_refuses_a_master_key_it_did_not_write(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    files.write_private_file(data_dir / keys.KEY_FILE, "a key kept for a restore\n")
    with pytest.raises(DataDirError, match="exists without a database"):
        init_data_dir(data_dir, environ={})
    assert os.listdir(data_dir) == [keys.KEY_FILE]
    assert (data_dir / keys.KEY_FILE).read_text() == "a key kept for a restore\n"
