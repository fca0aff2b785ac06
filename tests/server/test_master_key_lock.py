"""The master key is never rotated under a running server: `rotate-master-key` refuses (one
sentence, non-zero, nothing changed) while a server holds the server lock, through the data
directory on SQLite and through the database on PostgreSQL; a server refuses to start during a
rotation; and a server whose key was changed under it anyway (a rotation that got past the lock)
answers 503 `master_key_changed` rather than write or reveal with the stale key."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import httpx
import pytest

import dbbackend
from apihelpers import SITE, create_secret, expect_error, reveal, waiting_for_a_lock
from server import crypto, keys
from server.datadir import open_store
from waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


def command(data_dir: Path, *args: str, database_url: str | None = None) -> list[str]:
    url = ["--database-url", database_url] if database_url else []
    return [sys.executable, "-m", "server", *args, "--data-dir", str(data_dir), *url]


def server_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SITESECRETS_")}


def run(data_dir: Path, *args: str, database_url: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command(data_dir, *args, database_url=database_url), cwd=REPO, capture_output=True,
                          text=True, env=server_env(), timeout=60)


class Served:
    """A real `serve` process; ready once it printed where it listens (its socket is bound by then)."""

    def __init__(self, data_dir: Path, database_url: str | None, *options: str) -> None:
        self.proc = subprocess.Popen(command(data_dir, "serve", "--port", "0", *options, database_url=database_url), cwd=REPO,
                                     env=server_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), line
        self.url = line.split()[-1]

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


@pytest.fixture
def served(data_dir: Path) -> Iterator[Served]:
    server = Served(data_dir, dbbackend.database_url(data_dir))
    yield server
    server.stop()


def key_state(data_dir: Path) -> tuple:
    """What a rotation changes: the key file, a pending key file, and the database's wrapped keys and key check."""
    return ((data_dir / keys.KEY_FILE).read_text(), (data_dir / keys.NEW_KEY_FILE).exists(),
            sorted((r["name"], bytes(r["wrapped_key"])) for r in dbbackend.rows(data_dir, "SELECT name, wrapped_key FROM sites")),
            dbbackend.rows(data_dir, "SELECT value FROM meta WHERE key = 'master_key_check'"))


def one_sentence(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


def holder(pid: int, backend: str) -> str:
    return f"pid {pid}" if backend == "sqlite" else f"pid {pid} on {socket.gethostname()}"


def rotate_behind_the_servers_back(data_dir: Path) -> None:
    """What a rotation does, done straight in the database past the server lock (as a lost
    advisory-lock session, or a tool that ignores the lock, would): every data key re-wrapped
    under a new key, and the key check value changed."""
    old, new = keys.read_key_file(data_dir / keys.KEY_FILE), crypto.new_key()
    for site in dbbackend.rows(data_dir, "SELECT id, name, wrapped_key FROM sites"):
        data_key = crypto.unwrap_data_key(old, site["name"], bytes(site["wrapped_key"]))
        dbbackend.rows(data_dir, "UPDATE sites SET wrapped_key = ? WHERE id = ?",
                       crypto.wrap_data_key(new, site["name"], data_key), site["id"])
    dbbackend.rows(data_dir, "UPDATE meta SET value = ? WHERE key = 'master_key_check'", crypto.key_check_value(new))


# ------------------------------------------------------------ the lock


def test_rotate_master_key_refuses_while_a_server_runs_and_changes_nothing(served, data_dir, admin_token, backend):
    with served.client(admin_token) as api:
        create_secret(api, "A", "alpha")
        before = key_state(data_dir)

        stderr = one_sentence(run(data_dir, "rotate-master-key", database_url=dbbackend.database_url(data_dir)))

        where = "this data directory" if backend == "sqlite" else "this database"
        assert f"a server is running on {where} ({holder(served.proc.pid, backend)})" in stderr
        assert "before rotating the master key" in stderr
        assert key_state(data_dir) == before
        assert reveal(api, "A").json() == {"value": "alpha", "version": 1}
        assert api.post("/v1/sites", json={"name": "shop"}).status_code == 201


def test_rotate_master_key_works_once_the_server_has_stopped(served, data_dir, admin_token, backend):
    url = dbbackend.database_url(data_dir)
    with served.client(admin_token) as api:
        create_secret(api, "A", "alpha")
    served.stop()

    result = run(data_dir, "rotate-master-key", database_url=url)

    assert result.returncode == 0, result.stderr
    how = "(`sitesecrets-server backup`)" if backend == "sqlite" else "(pg_dump, or `sitesecrets-server copy`)"
    assert result.stderr.endswith(f"take a new backup {how}\n"), result.stderr
    again = Served(data_dir, url)
    try:
        with again.client(admin_token) as api:
            assert reveal(api, "A").json() == {"value": "alpha", "version": 1}
    finally:
        again.stop()


@pytest.mark.postgresql_only(reason="the refusal goes through the database, whatever the data directory")
def test_rotate_master_key_refuses_through_the_database_from_another_data_directory(served, data_dir, tmp_path, backend):
    other = tmp_path / "other-host"
    other.mkdir(mode=0o700)
    shutil.copy2(data_dir / keys.KEY_FILE, other / keys.KEY_FILE)
    before = key_state(data_dir)

    stderr = one_sentence(run(other, "rotate-master-key", database_url=dbbackend.database_url(data_dir)))

    assert f"a server is running on this database ({holder(served.proc.pid, backend)})" in stderr
    assert key_state(data_dir) == before and (other / keys.KEY_FILE).read_text() == before[0]


def test_two_servers_share_the_lock_of_one_data_directory(served, data_dir, admin_token):
    second = Served(data_dir, dbbackend.database_url(data_dir))
    try:
        with second.client(admin_token) as api:
            assert api.get("/v1/whoami").status_code == 200
    finally:
        second.stop()


def test_a_server_refuses_to_start_while_a_rotation_holds_the_lock(data_dir):
    url = dbbackend.database_url(data_dir)
    rotation = open_store(data_dir, url)
    try:
        rotation.hold_lock(exclusive=True)
        stderr = one_sentence(run(data_dir, "serve", "--port", "0", database_url=url))
    finally:
        rotation.close()
    assert "is being rotated; start the server once that has finished" in stderr


def _lock_sessions(url: str) -> set[int]:
    """The database sessions holding this database's server lock."""
    return {r["pid"] for r in dbbackend.rows_at(
        url, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = 'meta'::regclass::oid")}


@pytest.mark.postgresql_only(reason="a database session, and the advisory lock it holds, can end under a running server")
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_server_whose_lock_session_ended_takes_the_lock_again_and_rotation_still_refuses(data_dir, backend, workers):
    url = dbbackend.database_url(data_dir)
    served = Served(data_dir, url, "--workers", workers)
    try:
        ended = _lock_sessions(url)
        assert ended
        # what a restart of PostgreSQL (or pg_terminate_backend, or a network cut) does to the sessions
        dbbackend.rows_at(url, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                               "AND granted AND objid = 'meta'::regclass::oid")
        wait_until(lambda: _lock_sessions(url) - ended, "the server to take its lock again in a new session")
        before = key_state(data_dir)

        stderr = one_sentence(run(data_dir, "rotate-master-key", database_url=url))

        assert f"a server is running on this database ({holder(served.proc.pid, backend)})" in stderr
        assert key_state(data_dir) == before
    finally:
        served.stop()


@pytest.mark.sqlite_only(reason="the lock file lives in the SQLite data directory")
def test_the_lock_file_is_private_and_never_followed_through_a_symlink(served, data_dir, tmp_path):
    assert stat.S_IMODE((data_dir / "server.lock").stat().st_mode) == 0o600
    served.stop()
    (data_dir / "server.lock").unlink()
    (data_dir / "server.lock").symlink_to(tmp_path / "elsewhere")

    one_sentence(run(data_dir, "serve", "--port", "0"))

    assert not (tmp_path / "elsewhere").exists()


# ------------------------------------------------------------ a rotation that fails


def test_a_rotation_that_cannot_unwrap_a_site_key_is_one_sentence_and_changes_nothing(api, state, data_dir):
    api.post("/v1/sites", json={"name": "shop"})
    stranded = crypto.wrap_data_key(crypto.new_key(), "shop", crypto.new_key())  # as a server with another key made it
    dbbackend.rows(data_dir, "UPDATE sites SET wrapped_key = ? WHERE name = 'shop'", stranded)
    state.store.close()
    before = key_state(data_dir)

    stderr = one_sentence(run(data_dir, "rotate-master-key", database_url=dbbackend.database_url(data_dir)))

    assert "the data key of site 'shop' does not open with the current master key" in stderr
    assert key_state(data_dir) == before


# ------------------------------------------------------------ a key changed under a server


def test_a_server_whose_master_key_changed_creates_no_site_under_the_stale_key(api, data_dir):
    rotate_behind_the_servers_back(data_dir)

    expect_error(api.post("/v1/sites", json={"name": "shop"}), 503, "master_key_changed")

    assert dbbackend.rows(data_dir, "SELECT name FROM sites WHERE name = 'shop'") == []


def test_a_server_whose_master_key_changed_answers_reveals_with_503_not_integrity_errors(api, data_dir):
    create_secret(api, "A", "alpha")
    rotate_behind_the_servers_back(data_dir)

    expect_error(reveal(api, "A"), 503, "master_key_changed")


def test_a_server_that_found_its_master_key_changed_serves_nothing_more(api, data_dir):
    create_secret(api, "A", "alpha")
    rotate_behind_the_servers_back(data_dir)
    expect_error(reveal(api, "A"), 503, "master_key_changed")

    for response in (api.get(f"{SITE}/secrets"), api.get("/v1/health"), api.post(f"{SITE}/secrets", json={"name": "B", "value": "b"})):
        expect_error(response, 503, "master_key_changed")
        assert "restarted with the new key" in response.json()["error"]["message"]
    assert dbbackend.rows(data_dir, "SELECT name FROM secrets WHERE name = 'B'") == []


@pytest.mark.postgresql_only(reason="only PostgreSQL runs a rotation and a site creation at once")
def test_a_site_created_while_a_rotation_commits_is_refused_not_wrapped_under_the_old_key(api, data_dir):
    import psycopg

    old, new = keys.read_key_file(data_dir / keys.KEY_FILE), crypto.new_key()
    # a rotation that got past the server lock (here: never asked for it), mid-transaction
    with psycopg.connect(dbbackend.database_url(data_dir), autocommit=True) as rotation:
        rotation.execute("BEGIN")
        # what `_rewrap_every_site` does first: lock the key check row, then re-wrap
        rotation.execute("SELECT value FROM meta WHERE key = 'master_key_check' FOR UPDATE")
        for site_id, name, wrapped in rotation.execute("SELECT id, name, wrapped_key FROM sites").fetchall():
            rewrapped = crypto.wrap_data_key(new, name, crypto.unwrap_data_key(old, name, bytes(wrapped)))
            rotation.execute("UPDATE sites SET wrapped_key = %s WHERE id = %s", (rewrapped, site_id))
        rotation.execute("UPDATE meta SET value = %s WHERE key = 'master_key_check'", (crypto.key_check_value(new),))
        answer: list[httpx.Response] = []
        creating = threading.Thread(target=lambda: answer.append(api.post("/v1/sites", json={"name": "shop"})))
        creating.start()
        wait_until(lambda: waiting_for_a_lock(rotation, "FOR SHARE"))
        rotation.execute("COMMIT")
        creating.join(timeout=60)

    expect_error(answer[0], 503, "master_key_changed")
    assert dbbackend.rows(data_dir, "SELECT name FROM sites WHERE name = 'shop'") == []


@pytest.mark.postgresql_only(reason="a data directory that holds a SQLite database beside a PostgreSQL one")
def test_rotating_for_postgresql_refuses_while_the_data_directory_holds_a_sqlite_database_the_key_opens(data_dir):
    """After `copy` to PostgreSQL the old secrets.db often stays in the data directory as the way
    back; a rotation through --database-url replaced master.key and left that database unopenable."""
    from server.config import Settings
    from server.datadir import DataDirError, open_state, rotate_master_key
    from server.store.copy import copy_database

    url = dbbackend.database_url(data_dir)
    copy_database(url, f"sqlite://{data_dir}")
    key = (data_dir / keys.KEY_FILE).read_bytes()
    with pytest.raises(DataDirError, match="secrets.db"):
        rotate_master_key(data_dir, environ={}, database_url=url)
    assert (data_dir / keys.KEY_FILE).read_bytes() == key
    assert not (data_dir / keys.NEW_KEY_FILE).exists()
    open_state(Settings(data_dir=data_dir), environ={}).store.close()  # the SQLite copy still opens
