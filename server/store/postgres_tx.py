"""The server's queries in PostgreSQL's dialect: `SqlTx` (which holds them all) on a psycopg connection.

Most queries are the same text in both dialects, so `PostgresTx` runs `SqlTx`'s with `?`
placeholders turned into psycopg's `%s`, and supplies only what differs: ids come back through
`RETURNING`, bindings keep their order in `seq` rather than `rowid` (`BINDING_ORDER`), and
batches go through a cursor's `executemany`.

In a write transaction `get_site` locks the site's row (`SELECT ... FOR UPDATE`): see
`postgres.py` for why that one lock is what keeps every per-site rule true across replicas.

Deletes are plain `DELETE`s, with no SQLite-style wipe: under MVCC the deleted row (ciphertext and
all) stays in the table as a dead row until VACUUM, and zeroing it first would only add a new
version beside the old one. The README ("What deleting means on PostgreSQL") says what holds.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import psycopg

from .sql_tx import SqlTx


@lru_cache(maxsize=512)
def dialect(sql: str) -> str:
    """`SqlTx`'s `?` placeholders as psycopg's `%s` (no query of ours holds a literal `?` or `%`)."""
    return sql.replace("?", "%s")


class PostgresTx(SqlTx):
    """The queries of one transaction on one psycopg connection; `writing` says whether it may write."""

    BINDING_ORDER = "b.seq"

    def __init__(self, conn: psycopg.Connection, writing: bool, *, defer_audit: bool = False) -> None:
        super().__init__(conn)
        self._writing = writing
        self.defer_audit = defer_audit
        self._cursor: psycopg.Cursor | None = None

    def _execute(self, sql: str, params: tuple[Any, ...]) -> psycopg.Cursor:
        # one cursor for the transaction's statements (each read at once by `_one`, `_all` or
        # `_run`'s caller): `Connection.execute` makes a new one, with its adapters, every time
        if self._cursor is None:
            self._cursor = self._conn.cursor()
        return self._cursor.execute(dialect(sql), params)

    def _many(self, sql: str, rows: list[tuple]) -> None:
        with self._conn.cursor() as cursor:
            cursor.executemany(dialect(sql), rows)

    def _insert_id(self, sql: str, *params: Any) -> int:
        return self._one(f"{sql} RETURNING id", *params)[0]

    def _site_lock(self) -> str:
        # the lock every per-site rule rests on; a read-only snapshot may not (and need not) take it
        return " FOR UPDATE" if self._writing else ""

    def get_meta_locked(self, key: str, *, exclusive: bool = False) -> str | None:
        # FOR SHARE lets site creations run side by side; FOR UPDATE (the rotation) waits for them
        # and makes them wait, and at READ COMMITTED each then reads what the other committed
        lock = " FOR UPDATE" if exclusive else " FOR SHARE"
        row = self._one(f"SELECT value FROM meta WHERE key = ?{lock}", key)
        return row[0] if row else None


