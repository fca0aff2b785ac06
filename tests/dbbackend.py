"""The database under the server tests: SQLite (always) and PostgreSQL (when
`SITESECRETS_TEST_DATABASE_URL` names a server), behind a few helpers that work on either.

A test's data directory is `DIR/data`; for PostgreSQL, `DIR/database.url` beside it names the
test's own schema (on the search path of that URL), so copying a data directory copies its
database too (`clone`) and tests stay independent. A schema is cheap where a database per test
costs a checkpoint to drop; cheaper still, a test's schemas go back to a free list when it ends
(`release_test_schemas`) and the next clone empties and refills one, with no DDL.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from server.config import Settings
from server.store.copy import TABLES
from server.store.postgres import migrate

TEST_URL_ENV = "SITESECRETS_TEST_DATABASE_URL"
HOW_TO_RUN = (f"PostgreSQL test runs left out: set {TEST_URL_ENV}=postgresql://postgres@127.0.0.1:5432/test "
              "(any database you may create schemas in) to run them")
URL_FILE = "database.url"
SCHEMA_PREFIX = "sitesecrets_test_"
_made: list[str] = []
_free: list[str] = []  # schemas of finished tests, migrated, ready to be emptied and refilled
_this_test: list[str] = []  # schemas cloned for the running test
EXACT_TABLES = (*TABLES, "service_env_changes")
"""What a clone copies: `copy`'s tables, and the per-service change counters that `copy` leaves to
the target's triggers to make (a clone's triggers do not fire, see `_copy_rows`)."""


def base_url() -> str | None:
    return os.environ.get(TEST_URL_ENV) or None


def database_url(data_dir: Path) -> str | None:
    """The PostgreSQL URL of this data directory's database, or None when it is the SQLite file."""
    path = Path(data_dir).parent / URL_FILE
    return path.read_text().strip() if path.exists() else None


def settings_for(data_dir: Path, **kwargs: Any) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url(data_dir), **kwargs)


_sessions: dict[str, Any] = {}  # URL -> an open autocommit connection, most recently used last
_MAX_SESSIONS = 4


def _session(url: str):
    """An autocommit connection to `url`, kept open for the next statement. A test reads the
    database dozens of times (`db_rows` reads every table), and a new connection costs
    PostgreSQL a process: over the suite that was most of a PostgreSQL test's time."""
    import psycopg

    conn = _sessions.pop(url, None)
    if conn is None or conn.closed:
        conn = psycopg.connect(url, autocommit=True)
    _sessions[url] = conn
    while len(_sessions) > _MAX_SESSIONS:
        _sessions.pop(next(iter(_sessions))).close()
    return conn


def _execute(url: str, statement: str, params: tuple = ()):
    """`statement` on the kept connection; once more on a new one if that connection had been cut
    (a test that restarts or terminates PostgreSQL's sessions cuts ours too)."""
    import psycopg

    conn = _session(url)
    try:
        return conn.execute(statement, params)
    except psycopg.OperationalError:
        if not conn.broken:
            raise
        conn.close()
        return _session(url).execute(statement, params)


def _admin():
    return _session(base_url())


def new_schema_url() -> str:
    """A URL of the test database whose search path is a new, empty schema of its own."""
    name = f"{SCHEMA_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    _execute(base_url(), f"CREATE SCHEMA {name}")
    _made.append(name)
    return _url(name)


def drop_schemas() -> None:
    """Drop every schema this process made (when the PostgreSQL runs end)."""
    _free.clear()
    if not _made:
        return
    for name in _made:
        _execute(base_url(), f"DROP SCHEMA IF EXISTS {name} CASCADE")
    _made.clear()


def _url(schema: str) -> str:
    base = base_url()
    return f"{base}{'&' if '?' in base else '?'}options={quote(f'-csearch_path={schema}')}"


def _schema_of(url: str) -> str:
    return url.rsplit("search_path%3D", 1)[1]


def clone(source: Path, into: Path, keep: bool = False) -> Path:
    """Copy a closed data directory (and the files beside it, its database included) into `into`.
    The copy's schema is recycled when the test ends, unless `keep` (a module's template)."""
    shutil.copytree(source.parent, into, dirs_exist_ok=True)
    url = database_url(source)
    if url is not None:
        schema = _fill(_schema_of(url))
        if not keep:
            _this_test.append(schema)
        (into / URL_FILE).write_text(_url(schema))
    return into / source.name


def _fill(source: str) -> str:
    """A schema holding exactly the rows of `source`: a recycled one emptied, else a new one."""
    import psycopg

    conn = _admin()
    while _free:
        schema = _free.pop()
        try:
            with conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '2s'")  # a store left open must not hang the run
                _copy_rows(conn, source, schema)
            return schema
        except (psycopg.errors.LockNotAvailable, psycopg.errors.UndefinedTable):
            continue  # still in use (or gone): leave it to the end-of-run drop
    url = new_schema_url()
    with psycopg.connect(url, autocommit=True) as fresh:
        migrate(fresh)
    with conn.transaction():
        _copy_rows(conn, source, _schema_of(url))
    return _schema_of(url)


def _copy_rows(conn, source: str, target: str) -> None:
    # An exact copy: no trigger of the target fires (migration 5's would count the copied secrets
    # as changes, and their functions name tables by the search path, which here is not `target`'s).
    conn.execute("SET LOCAL session_replication_role = replica")
    # a test's starting rows, not a write the product acknowledged: no need to wait for the WAL's flush
    conn.execute("SET LOCAL synchronous_commit = off")
    conn.execute(f"DROP TRIGGER IF EXISTS no_audit ON {target}.audit_events")  # `refuse_audit_inserts` leftovers
    conn.execute(f"DROP FUNCTION IF EXISTS {target}.no_audit()")
    for table in reversed(EXACT_TABLES):
        conn.execute(f"DELETE FROM {target}.{table}")
    for table in EXACT_TABLES:
        if table == "bindings":
            columns = "service_id, app_id, name, loaded_version"
            conn.execute(f"INSERT INTO {target}.bindings ({columns}) SELECT {columns} FROM {source}.bindings ORDER BY seq")
        else:
            conn.execute(f"INSERT INTO {target}.{table} SELECT * FROM {source}.{table}")
    for table in TABLES:
        if table not in ("meta", "tokens", "bindings", "secret_versions", "trashed_versions"):  # keyed otherwise than by id
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{target}.{table}', 'id'), "
                         f"coalesce((SELECT max(id) FROM {target}.{table}), 0) + 1, false)")


def release_test_schemas() -> None:
    """The running test is over: its schemas may be emptied and reused."""
    _free.extend(_this_test)
    _this_test.clear()


def rows(data_dir: Path, statement: str, *params: Any) -> list[dict[str, Any]]:
    """Run one statement straight against the data directory's database (as someone holding the
    database would), in SQLite's `?` style; returns the rows as dicts."""
    url = database_url(data_dir)
    if url is None:
        conn = sqlite3.connect(data_dir / "secrets.db")
        try:
            with conn:
                cursor = conn.execute(statement, params)
                names = [c[0] for c in cursor.description or []]
                return [dict(zip(names, r)) for r in cursor.fetchall()]
        finally:
            conn.close()
    return rows_at(url, statement, *params)


def rows_at(url: str, statement: str, *params: Any) -> list[dict[str, Any]]:
    """`rows` for a PostgreSQL URL that belongs to no data directory."""
    cursor = _execute(url, statement.replace("?", "%s"), params)
    names = [c.name for c in cursor.description or []]
    return [dict(zip(names, r)) for r in cursor.fetchall()] if cursor.description else []


def tables(data_dir: Path) -> list[str]:
    """The server's tables (not the migrations' bookkeeping)."""
    if database_url(data_dir) is None:
        found = [r["name"] for r in rows(data_dir, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    else:
        found = [r["table_name"] for r in rows(
            data_dir, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")]
    return [t for t in found if t not in ("sqlite_sequence", "schema_migrations")]


def refuse_audit_inserts(data_dir: Path) -> None:
    """Make the audit table refuse every insert, as a full or broken log would."""
    if database_url(data_dir) is None:
        rows(data_dir, "CREATE TRIGGER no_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit refused'); END")
        return
    rows(data_dir, "CREATE FUNCTION no_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$")
    rows(data_dir, "CREATE TRIGGER no_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION no_audit()")


if __name__ == "__main__":  # `make test`: print the default server's URL if one answers there
    DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
    try:
        import psycopg

        psycopg.connect(DEFAULT, connect_timeout=2).close()
        print(DEFAULT)
    except Exception:  # noqa: BLE001 - no server (or no driver): the PostgreSQL runs are skipped
        pass
