"""The server's queries in SQLite's dialect: `SqlTx` (which holds them all) on a `sqlite3` connection."""

from __future__ import annotations

import sqlite3
from typing import Any

from .sql_tx import SqlTx


class SqliteTx(SqlTx):
    """The queries of one transaction on the store's connection. `wants_wipe[0]` is set when the
    transaction deleted a ciphertext or a data key, for the store to clear the WAL after the commit."""

    BINDING_ORDER = "b.rowid"

    def __init__(self, conn: sqlite3.Connection, wants_wipe: list[bool] | None = None) -> None:
        super().__init__(conn)
        self._wants_wipe = wants_wipe if wants_wipe is not None else [False]

    def _execute(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def _many(self, sql: str, rows: list[tuple]) -> None:
        self._conn.executemany(sql, rows)

    def _insert_id(self, sql: str, *params: Any) -> int:
        return self._execute(sql, params).lastrowid

    def _forget_deleted(self) -> None:
        # secure_delete zeroes the row in the database, but the WAL still holds the page as it was;
        # ask the store to checkpoint and truncate the WAL once this commits
        self._wants_wipe[0] = True

    def _audit_index(self, name: str) -> str:
        # without statistics SQLite may walk a common action's index to find a rare target
        return f" INDEXED BY {name}"

    def get_meta_locked(self, key: str, *, exclusive: bool = False) -> str | None:
        # one writer (and BEGIN IMMEDIATE for another process's): no other write runs meanwhile
        return self.get_meta(key)
