"""Every query of the server in PostgreSQL's dialect, written as its differences from SQLite's.

Most queries are the same text in both dialects, so `PostgresTx` reuses `SqliteTx` with `?`
placeholders turned into psycopg's `%s`, and overrides only what differs: ids come back through
`RETURNING`, bindings keep their order in `seq` rather than `rowid` (`BINDING_ORDER`), and
batches go through a cursor's `executemany`. Shared queries avoid `IS ?` on purpose: they
compare `coalesce(app_id, 0)`, which both dialects read the same way.

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

from .base import SiteRow
from .sqlite_tx import _SITE_COLUMNS, SqliteTx


@lru_cache(maxsize=512)
def dialect(sql: str) -> str:
    """SQLite's `?` placeholders as psycopg's `%s` (no query of ours holds a literal `?` or `%`)."""
    return sql.replace("?", "%s")


class PostgresTx(SqliteTx):
    """The queries of one transaction on one psycopg connection; `writing` says whether it may write."""

    BINDING_ORDER = "b.seq"

    def __init__(self, conn: psycopg.Connection, writing: bool) -> None:
        super().__init__(conn)  # type: ignore[arg-type]
        self._writing = writing

    def _one(self, sql: str, *params: Any) -> tuple | None:
        return self._conn.execute(dialect(sql), params).fetchone()

    def _all(self, sql: str, *params: Any) -> list[tuple]:
        return self._conn.execute(dialect(sql), params).fetchall()

    def _run(self, sql: str, *params: Any) -> Any:
        return self._conn.execute(dialect(sql), params)

    def _many(self, sql: str, rows: list[tuple]) -> None:
        with self._conn.cursor() as cursor:
            cursor.executemany(dialect(sql), rows)

    # ------------------------------------------------------------ meta

    def get_meta_locked(self, key: str, *, exclusive: bool = False) -> str | None:
        # FOR SHARE lets site creations run side by side; FOR UPDATE (the rotation) waits for them
        # and makes them wait, and at READ COMMITTED each then reads what the other committed
        lock = " FOR UPDATE" if exclusive else " FOR SHARE"
        row = self._one(f"SELECT value FROM meta WHERE key = ?{lock}", key)
        return row[0] if row else None

    # ------------------------------------------------------------ sites

    def get_site(self, name: str) -> SiteRow | None:
        # the lock every per-site rule rests on; a read-only snapshot may not (and need not) take it
        lock = " FOR UPDATE" if self._writing else ""
        row = self._one(f"SELECT {_SITE_COLUMNS} FROM sites WHERE name = ?{lock}", name)
        return SiteRow(*row) if row else None

    # ------------------------------------------------------------ secrets

    def insert_secret(self, row: dict[str, Any]) -> int:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        return self._one(f"INSERT INTO secrets ({columns}) VALUES ({marks}) RETURNING id", *row.values())[0]

    # ------------------------------------------------------------ services

    def insert_service(self, site_id: int, app_id: int | None, name: str, now: str) -> int:
        return self._one(
            "INSERT INTO services (site_id, app_id, name, created_at) VALUES (?, ?, ?, ?) RETURNING id",
            site_id, app_id, name, now,
        )[0]
