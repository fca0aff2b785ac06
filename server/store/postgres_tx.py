"""Every query of the server in PostgreSQL's dialect, written as its differences from SQLite's.

Most queries are the same text in both dialects, so `PostgresTx` reuses `SqliteTx` with `?`
placeholders turned into psycopg's `%s`, and overrides only what differs: ids come back through
`RETURNING`, `IS ?` is `IS [NOT] DISTINCT FROM`, bindings keep their order in `seq` rather than
`rowid`, and batches go through a cursor's `executemany`.

In a write transaction `get_site` locks the site's row (`SELECT ... FOR UPDATE`): see
`postgres.py` for why that one lock is what keeps every per-site rule true across replicas.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import psycopg

from .base import BindingRow, BoundSecret, SecretRow, SiteRow
from .sqlite_tx import _SECRET_COLUMNS, _SECRET_FROM, _SITE_COLUMNS, SqliteTx


@lru_cache(maxsize=512)
def dialect(sql: str) -> str:
    """SQLite's `?` placeholders as psycopg's `%s` (no query of ours holds a literal `?` or `%`)."""
    return sql.replace("?", "%s")


class PostgresTx(SqliteTx):
    """The queries of one transaction on one psycopg connection; `writing` says whether it may write."""

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

    # ------------------------------------------------------------ sites

    def get_site(self, name: str) -> SiteRow | None:
        # the lock every per-site rule rests on; a read-only snapshot may not (and need not) take it
        lock = " FOR UPDATE" if self._writing else ""
        row = self._one(f"SELECT {_SITE_COLUMNS} FROM sites WHERE name = ?{lock}", name)
        return SiteRow(*row) if row else None

    # ------------------------------------------------------------ secrets

    def list_secrets(self, site_id: int, app_id: int | None, all_scopes: bool = False) -> list[SecretRow]:
        if all_scopes:
            return super().list_secrets(site_id, app_id, all_scopes)
        rows = self._all(
            f"SELECT {_SECRET_COLUMNS} {_SECRET_FROM} WHERE s.site_id = ? AND s.app_id IS NOT DISTINCT FROM ? ORDER BY s.name",
            site_id, app_id,
        )
        return [SecretRow(*row) for row in rows]

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

    def bindings(self, service_ids: list[int]) -> list[BindingRow]:
        if not service_ids:
            return []
        rows = self._all(
            """SELECT b.service_id, b.app_id, a.name, b.name, b.loaded_version, s.version
               FROM bindings b JOIN services v ON v.id = b.service_id
               LEFT JOIN apps a ON a.id = b.app_id
               LEFT JOIN secrets s ON s.site_id = v.site_id AND coalesce(s.app_id, 0) = coalesce(b.app_id, 0) AND s.name = b.name
               WHERE b.service_id = ANY(?) ORDER BY b.seq""",
            list(service_ids),
        )
        return [BindingRow(*r) for r in rows]

    def replace_bindings(self, service_id: int, refs: list[tuple[int | None, str]]) -> None:
        loaded = {
            (app_id, name): version
            for app_id, name, version in self._all("SELECT app_id, name, loaded_version FROM bindings WHERE service_id = ?", service_id)
        }
        self._run("DELETE FROM bindings WHERE service_id = ?", service_id)
        if refs:
            self._many(
                "INSERT INTO bindings (service_id, app_id, name, loaded_version) VALUES (?, ?, ?, ?)",
                [(service_id, app_id, name, loaded.get((app_id, name))) for app_id, name in refs],
            )

    def bound_secrets(self, service_id: int) -> list[BoundSecret]:
        rows = self._all(
            """SELECT b.app_id, a.name, b.name, s.id, s.version, s.ciphertext, b.loaded_version, s.last_used_at
               FROM bindings b JOIN services v ON v.id = b.service_id
               LEFT JOIN apps a ON a.id = b.app_id
               LEFT JOIN secrets s ON s.site_id = v.site_id AND coalesce(s.app_id, 0) = coalesce(b.app_id, 0) AND s.name = b.name
               WHERE b.service_id = ? ORDER BY b.seq""",
            service_id,
        )
        return [BoundSecret(*r) for r in rows]

    def record_load(self, service_id: int, versions: dict[tuple[int | None, str], int], secret_ids: list[int], now: str) -> None:
        if versions:
            self._many(
                "UPDATE bindings SET loaded_version = ? WHERE service_id = ? AND coalesce(app_id, 0) = ? AND name = ?",
                [(version, service_id, app_id or 0, name) for (app_id, name), version in versions.items()],
            )
        self._run("UPDATE services SET loaded_at = ? WHERE id = ? AND loaded_at IS DISTINCT FROM ?", now, service_id, now)
        if secret_ids:
            self._run("UPDATE secrets SET last_used_at = ? WHERE id = ANY(?)", now, list(secret_ids))
