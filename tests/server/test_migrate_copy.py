"""`sitesecrets-server init/migrate/copy` with a PostgreSQL database: migrations from several
replicas at once, and whole databases moved between SQLite and PostgreSQL with every value intact."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import dbbackend
from apihelpers import SITE, create_secret, reveal
from server.app import create_app
from server.config import Settings
from server.datadir import open_state
from server.store.migrations import MIGRATIONS

pytestmark = pytest.mark.postgresql_only(reason="moves data to and from PostgreSQL")

REPO = Path(__file__).resolve().parents[2]


def server_cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITESECRETS_")}
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def admin_over(settings: Settings, token: str):
    state = open_state(settings, environ={})
    transport = httpx.WSGITransport(app=create_app(state), raise_app_exceptions=False)
    client = httpx.Client(transport=transport, base_url="http://testserver", headers={"Authorization": f"Bearer {token}"})
    return state, client


def test_migrate_from_several_replicas_at_once_applies_each_migration_once(backend) -> None:
    url = dbbackend.new_schema_url()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: server_cli("migrate", "--database-url", url), range(4)))
    assert [r.returncode for r in results] == [0] * 4, [r.stderr for r in results]
    assert all(f"schema version {MIGRATIONS[-1].version}" in r.stderr for r in results)
    applied = [r["version"] for r in dbbackend.rows_at(url, "SELECT version FROM schema_migrations ORDER BY version")]
    assert applied == [m.version for m in MIGRATIONS]


def test_init_with_a_database_url_keeps_the_key_in_the_data_directory_and_refuses_a_second_init(backend, tmp_path) -> None:
    url = dbbackend.new_schema_url()
    data_dir = tmp_path / "data"
    first = server_cli("init", "--data-dir", str(data_dir), "--database-url", url)
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert (data_dir / "master.key").exists() and not (data_dir / "secrets.db").exists()
    key_text = (data_dir / "master.key").read_text().strip()
    stored = repr(dbbackend.rows_at(url, "SELECT * FROM meta"))
    assert key_text not in stored and "master_key_check" in stored
    again = server_cli("init", "--data-dir", str(tmp_path / "other"), "--database-url", url)
    assert again.returncode == 1 and "already initialised" in again.stderr
    state, admin = admin_over(Settings(data_dir=data_dir, database_url=url), token)
    with admin:
        assert admin.get("/v1/sites").json()["items"][0]["name"] == "default"
    state.store.close()


def test_inits_from_several_hosts_at_once_initialise_the_database_once_and_the_others_say_so(backend, tmp_path) -> None:
    url = dbbackend.new_schema_url()
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda i: server_cli("init", "--data-dir", str(tmp_path / f"host{i}"), "--database-url", url),
                                range(3)))
    assert sorted(r.returncode for r in results) == [0, 1, 1], [r.stderr for r in results]
    for refused in (r for r in results if r.returncode == 1):
        assert refused.stderr == "sitesecrets-server: that database is already initialised; refusing to touch it\n"
    assert len(dbbackend.rows_at(url, "SELECT id FROM tokens")) == 1


def test_copy_sqlite_to_postgresql_and_back_keeps_every_value(backend, tmp_path) -> None:
    sqlite_dir = tmp_path / "sqlite" / "data"
    init = server_cli("init", "--data-dir", str(sqlite_dir))
    token = init.stdout.strip()
    state, admin = admin_over(Settings(data_dir=sqlite_dir), token)
    with admin:
        admin.post(f"{SITE}/apps", json={"name": "web"})
        admin.post("/v1/sites", json={"name": "shop"})
        values = {(SITE, "A"): "one", (f"{SITE}/apps/web", "A"): "two", ("/v1/sites/shop", "B"): "three"}
        for (scope, name), value in values.items():
            create_secret(admin, name, value, scope=scope)
        admin.patch(f"{SITE}/secrets/A", json={"value": "one-2"})
        values[(SITE, "A")] = "one-2"
        admin.post(f"{SITE}/services", json={"name": "worker", "app": "web", "secrets": [{"name": "A", "app": "web"}, {"name": "A"}]})
        views = {path: admin.get(path).json() for path in (f"{SITE}/secrets?scope=all", f"{SITE}/services", f"{SITE}/audit")}
    state.store.close()

    url = dbbackend.new_schema_url()
    copied = server_cli("copy", "--from", f"sqlite://{sqlite_dir}", "--to", url)
    assert copied.returncode == 0, copied.stderr
    assert "secrets 3" in copied.stderr and "bindings 2" in copied.stderr
    refused = server_cli("copy", "--from", f"sqlite://{sqlite_dir}", "--to", url)
    assert refused.returncode == 1 and "already holds data" in refused.stderr

    back = tmp_path / "back" / "data"
    back.mkdir(parents=True)
    (back / "master.key").write_bytes((sqlite_dir / "master.key").read_bytes())
    os.chmod(back / "master.key", 0o600)
    returned = server_cli("copy", "--from", url, "--to", f"sqlite://{back / 'secrets.db'}")
    assert returned.returncode == 0, returned.stderr

    for settings in (Settings(data_dir=sqlite_dir, database_url=url), Settings(data_dir=back)):
        state, admin = admin_over(settings, token)
        with admin:
            for path, before in views.items():
                assert admin.get(path).json() == before, (settings, path)
            for (scope, name), value in values.items():
                assert reveal(admin, name, scope=scope).json()["value"] == value
            # the copy's ids go on after the copied ones
            create_secret(admin, "NEW", "after-copy")
            assert reveal(admin, "NEW").json()["value"] == "after-copy"
            # the audit chains come across with their keyed links and seals, and go on from them
            for scope in (SITE, "/v1/sites/shop"):
                verified = admin.get(f"{scope}/audit/verify").json()
                assert verified["ok"] and verified["events"] > 0 and verified["unkeyed"] == 0, (settings, scope, verified)
        state.store.close()
