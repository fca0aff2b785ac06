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

from .base import BoundSecret, EnvSnapshot, ServiceRow, SiteRow
from .sql_tx import _SERVICE_COLUMNS, _SERVICE_END, _SITE_COLUMNS, _SITE_WIDTH, SqlTx

_NO_SITE_NOR_SERVICE = ", ".join(["NULL"] * (_SERVICE_END + 1))
_ENV_SNAPSHOT = f"""SELECT 0 AS part, NULL AS seq, {", ".join(f"si.{c.strip()}" for c in _SITE_COLUMNS.split(","))},
            {_SERVICE_COLUMNS.replace("a.name", "va.name")}, va.site_secrets, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
        FROM sites si LEFT JOIN services v ON v.site_id = si.id AND v.name = %s LEFT JOIN apps va ON va.id = v.app_id
        WHERE si.name = %s
    UNION ALL
    SELECT 1, b.seq, {_NO_SITE_NOR_SERVICE},
            b.app_id, a.name, b.name, s.id, s.version, s.ciphertext, b.loaded_version, s.last_used_at
        FROM sites si JOIN services v ON v.site_id = si.id AND v.name = %s JOIN bindings b ON b.service_id = v.id
        LEFT JOIN apps a ON a.id = b.app_id
        LEFT JOIN secrets s ON s.site_id = v.site_id AND coalesce(s.app_id, 0) = coalesce(b.app_id, 0) AND s.name = b.name
        WHERE si.name = %s
    ORDER BY 1, 2"""
"""`env_snapshot` in one statement. Its first row: the site of a name and its service of a name with
the service's app's `site_secrets` (a left join, so that a site without that service still comes
back; `SqlTx`'s first query); then one row per binding of that service, in binding order, with its
secret (`bound_secrets`' columns). Each row leaves the other part's columns NULL, so no binding row
repeats the site's and service's columns. One statement sees one snapshot, so `read_env` runs it with
no transaction around it: one round trip where `read`'s two queries took four (BEGIN, the site and
service, the bindings, ROLLBACK). (SQLite keeps the two: in-process, this one costs more than they do.)"""


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

    def env_snapshot(self, site: str, service: str) -> EnvSnapshot | None:
        rows = self._all(_ENV_SNAPSHOT, service, site, service, site)
        if not rows:
            return None
        row = rows[0]
        site_row = SiteRow._make(row[2:_SITE_WIDTH + 2])
        if row[_SITE_WIDTH + 2] is None:
            return EnvSnapshot(site_row, None, True, [])
        service_row = ServiceRow._make(row[_SITE_WIDTH + 2:_SERVICE_END + 2])
        site_secrets = row[_SERVICE_END + 2] is None or bool(row[_SERVICE_END + 2])
        return EnvSnapshot(site_row, service_row, site_secrets, [BoundSecret(*r[_SERVICE_END + 3:]) for r in rows[1:]])
