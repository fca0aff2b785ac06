"""Moving a whole database between backends: `sitesecrets-server copy --from URL --to URL`.

URLs are `sqlite:///path/to/secrets.db` (or `sqlite:///path/to/data-dir`) and `postgresql://...`.
Every row of every table is copied as it is, ids included: ciphertexts and wrapped keys move
untouched, so the target opens with the same master key (which is never in either database).
The source is read in one snapshot, so a server may keep serving from it; the target must be
empty and is written in one transaction, then every table's count is compared with the source's.
A SQLite target must be a new file: it is built privately and appears only once the copy is
complete and verified (see `server.files`).
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .. import files
from ..config import DB_FILE
from .base import StoreError
from .migrations import MIGRATIONS

# parents before children, so every foreign key points at a row already copied; not
# `service_env_changes`: the target's triggers give each service copied a counter of its own
TABLES = ("meta", "sites", "apps", "secret_types", "secrets", "secret_versions", "trashed_secrets", "trashed_versions",
          "services", "bindings", "tokens", "audit_events", "audit_chains")
_PRIVATE_COLUMNS = {"seq"}  # PostgreSQL's bindings order: regenerated in copy order, as SQLite's rowid is
_BATCH = 1000


class CopyError(StoreError):
    """The copy cannot be done as asked; the message is one sentence for the user."""


class ExposedCopyEnd(files.Exposed, CopyError):
    """A SQLite file group or others may read (exit 2: see `files.Exposed`)."""


def sqlite_path(url: str) -> Path:
    """The database file a `sqlite://` URL names (a data directory means its `secrets.db`)."""
    path = Path(url[len("sqlite://"):])
    return path / DB_FILE if path.is_dir() else path


def migrate_url(url: str) -> int:
    """Upgrade the database at `url` to the current schema; returns the schema version."""
    endpoint = _open(url)
    try:
        return endpoint.migrate()
    finally:
        endpoint.close()


def copy_database(source_url: str, target_url: str) -> dict[str, int]:
    """Copy every row from `source_url` into the empty database at `target_url`; returns each
    table's row count, verified equal in both."""
    source = _open(source_url)
    try:
        version = source.version()
        if version != MIGRATIONS[-1].version:
            raise CopyError(f"the source is at schema version {version}, not {MIGRATIONS[-1].version}; run sitesecrets-server migrate on it first")
        with _open_target(target_url) as target:
            target.migrate()
            if any(target.count(table) for table in TABLES):
                raise CopyError("the target already holds data; copy only into an empty database")
            source.begin_snapshot()
            counts = {table: source.count(table) for table in TABLES}
            target.begin_write()
            for table in TABLES:
                columns = source.columns(table)
                if columns != target.columns(table):
                    raise CopyError(f"table {table} differs between the two databases; migrate both first")
                for rows in source.batches(table, columns):
                    target.insert(table, columns, rows)
            target.finish_write()
            copied = {table: target.count(table) for table in TABLES}
            if copied != counts:
                differing = [t for t in TABLES if copied[t] != counts[t]]
                raise CopyError(f"the copy's counts differ from the source's in {', '.join(differing)}")
    finally:
        source.close()
    return counts


class _Sqlite:
    mark = "?"

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise CopyError(f"{path} does not exist")
        from .sqlite import connect

        _refuse_foreign(path, _sqlite_tables(path))  # before `connect`, which would turn on WAL in it
        if (problem := files.exposed_database(path)) is not None:
            raise ExposedCopyEnd(problem)  # ours, migrated in place or copied from: refused as `serve` refuses it
        self.conn = connect(path)

    def migrate(self) -> int:
        from .sqlite import migrate

        return migrate(self.conn)

    def version(self) -> int | None:
        try:
            return self.conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
        except sqlite3.OperationalError:
            return None

    def columns(self, table: str) -> list[str]:
        return [r[1] for r in self.conn.execute(f"PRAGMA table_info({table})") if r[1] not in _PRIVATE_COLUMNS]

    def count(self, table: str) -> int:
        return self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def begin_snapshot(self) -> None:
        self.conn.execute("BEGIN")

    def batches(self, table: str, columns: list[str]) -> Iterator[list[tuple]]:
        cursor = self.conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid")
        while rows := cursor.fetchmany(_BATCH):
            yield rows

    def begin_write(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def insert(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        marks = ", ".join(self.mark for _ in columns)
        self.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def finish_write(self) -> None:
        self.conn.execute("COMMIT")

    def close(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        self.conn.close()


class _Postgres:
    def __init__(self, url: str) -> None:
        from .postgres import connect

        self.conn = connect(url)
        tables = {r[0] for r in self.conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
        try:
            _refuse_foreign("the database", tables)
        except CopyError:
            self.conn.close()
            raise

    def migrate(self) -> int:
        from .postgres import migrate

        return migrate(self.conn)

    def version(self) -> int | None:
        exists = self.conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
        return self.conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] if exists else None

    def columns(self, table: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s "
            "ORDER BY ordinal_position", (table,),
        )
        return [r[0] for r in rows if r[0] not in _PRIVATE_COLUMNS]

    def count(self, table: str) -> int:
        return self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def begin_snapshot(self) -> None:
        self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def batches(self, table: str, columns: list[str]) -> Iterator[list[tuple]]:
        order = "seq" if table == "bindings" else "1"
        with self.conn.cursor(name=f"copy_{table}") as cursor:  # server-side: a big audit log streams
            cursor.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
            while rows := cursor.fetchmany(_BATCH):
                yield rows

    def begin_write(self) -> None:
        self.conn.execute("BEGIN")

    def insert(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        marks = ", ".join("%s" for _ in columns)
        with self.conn.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def finish_write(self) -> None:
        # rows came with their ids; the identity sequences must continue after them
        for table in TABLES:
            if "id" in self.columns(table) and table not in ("meta", "tokens"):
                self.conn.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, 'id'), coalesce(max(id), 0) + 1, false) FROM {table}", (table,)
                )
        self.conn.execute("COMMIT")

    def close(self) -> None:
        if not self.conn.closed and self.conn.info.transaction_status != 0:  # not idle: undo what did not commit
            self.conn.execute("ROLLBACK")
        self.conn.close()


def _sqlite_tables(path: Path) -> set[str]:
    try:
        probe = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise CopyError(f"cannot open {path} ({error})") from None
    try:
        return {r[0] for r in probe.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError:
        raise CopyError(f"{path} is not a SQLite database; nothing was changed") from None
    finally:
        probe.close()


def _refuse_foreign(where: object, tables: set[str]) -> None:
    """Refuse a database that holds tables but not ours: another application's, named by mistake,
    must not be given our schema (migrate) nor be copied from or into."""
    if tables and "schema_migrations" not in tables:
        raise CopyError(f"{where} is not a Site Secrets database (it holds other tables); nothing was changed")


def _open(url: str) -> Any:
    from .postgres import is_postgres_url

    if url.startswith("sqlite://"):
        return _Sqlite(sqlite_path(url))
    if is_postgres_url(url):
        return _Postgres(url)
    raise CopyError(f"not a database URL: {url.split(':', 1)[0]}:...; use sqlite:///path or postgresql://...")


@contextmanager
def _open_target(url: str) -> Iterator[Any]:
    """The database to copy into, closed when the block ends; a SQLite target is a new file that
    appears at its path only if the block completes."""
    if not url.startswith("sqlite://"):
        target = _open(url)
        try:
            yield target
        finally:
            target.close()
        return
    path = sqlite_path(url)
    from .sqlite import leftover_logs

    if not path.exists() and (leftover := leftover_logs(path)) is not None:
        raise CopyError(f"cannot copy to {path}: {leftover}")
    try:
        with files.new_file(path) as built:
            target = _Sqlite(built)
            try:
                yield target
                from .sqlite import fold_wal

                fold_wal(target.conn)
            finally:
                target.close()
    except FileExistsError:
        raise CopyError(f"{path} exists; copy only into a new file, which is created 0600") from None
