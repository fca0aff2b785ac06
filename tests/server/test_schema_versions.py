"""A database whose schema a newer server has migrated: an older server (a replica not yet
upgraded, a rollback of the package) refuses to serve or migrate it, in one sentence, and changes
nothing, on SQLite and PostgreSQL alike. It would not know the newer tables and columns, so its
writes could break rules it has never heard of (a change without the rows a newer version keeps
beside it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

import dbbackend
from server.store.migrations import MIGRATIONS

REPO = Path(__file__).resolve().parents[2]
KNOWN = MIGRATIONS[-1].version
FUTURE = KNOWN + 1


def command(data_dir: Path, *args: str) -> list[str]:
    url = dbbackend.database_url(data_dir)
    return [sys.executable, "-m", "server", *args, "--data-dir", str(data_dir), *(["--database-url", url] if url else [])]


ENV = {k: v for k, v in os.environ.items() if not k.startswith("SITESECRETS_")}


def server_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(data_dir, *args), cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)


def serve(data_dir: Path, *args: str) -> tuple[int | None, str, str]:
    """`serve`'s exit status, first line and stderr; a server that started listening is stopped
    (status None), so a test that expects a refusal fails rather than hangs."""
    proc = subprocess.Popen(command(data_dir, "serve", "--port", "0", *args), cwd=REPO, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()  # "listening on ..." or nothing: it exited
    if first.startswith("listening"):
        proc.terminate()
    _, err = proc.communicate(timeout=60)
    return (None if first.startswith("listening") else proc.returncode), first, err


@pytest.fixture
def newer(data_dir: Path) -> Iterator[Path]:
    """The test's data directory, its database migrated by a newer server (the row taken out again
    afterwards: a PostgreSQL test schema is reused, its `schema_migrations` as it is)."""
    dbbackend.rows(data_dir, "INSERT INTO schema_migrations VALUES (?, 'from a newer server', '2027-01-01T00:00:00Z')", FUTURE)
    yield data_dir
    dbbackend.rows(data_dir, "DELETE FROM schema_migrations WHERE version = ?", FUTURE)


def applied(data_dir: Path) -> list[int]:
    return [r["version"] for r in dbbackend.rows(data_dir, "SELECT version FROM schema_migrations ORDER BY version")]


def test_serve_refuses_a_database_a_newer_server_migrated_and_says_to_upgrade(newer) -> None:
    data_dir = newer
    status, first, err = serve(data_dir, "--workers", "1")
    assert status == 1, first + err
    assert err.strip() == (f"sitesecrets-server: the database's schema is at version {FUTURE}, newer than "
                                     f"this server's {KNOWN}; upgrade this server to serve it")
    assert applied(data_dir) == [m.version for m in MIGRATIONS] + [FUTURE]


def test_serve_with_workers_refuses_it_before_any_worker_starts(newer) -> None:
    data_dir = newer
    status, first, err = serve(data_dir, "--workers", "2")
    assert status == 1, first + err
    assert f"newer than this server's {KNOWN}" in err


def test_migrate_refuses_it_rather_than_report_an_older_version(newer) -> None:
    data_dir = newer
    result = server_cli(data_dir, "migrate")
    assert result.returncode == 1
    assert f"schema is at version {FUTURE}, newer than this server's {KNOWN}" in result.stderr
    assert f"at schema version {KNOWN}" not in result.stderr
    assert applied(data_dir) == [m.version for m in MIGRATIONS] + [FUTURE]


def test_a_database_at_this_servers_own_version_still_serves_and_migrates(data_dir) -> None:
    result = server_cli(data_dir, "migrate")
    assert result.returncode == 0 and f"at schema version {KNOWN}" in result.stderr
    status, first, err = serve(data_dir, "--workers", "1")
    assert status is None and first.startswith("listening"), err
