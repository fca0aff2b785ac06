"""Every query of the server, once for both databases (see `base.Transaction` for the contract).

`SqlTx` writes each query in the SQL that SQLite and PostgreSQL read alike, with `?` placeholders,
and leaves to a dialect (`sqlite_tx.SqliteTx`, `postgres_tx.PostgresTx`) only what differs: how a
query runs, how an INSERT gives back its id, which column keeps bindings in order, how a row is
locked, and what a delete does so the deleted ciphertext does not linger. Shared queries avoid
`IS ?` on purpose: they compare `coalesce(app_id, 0)`, which both dialects read the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cache
from operator import itemgetter
from secrets import token_hex
from typing import Any

from .base import AppRow, BindingRow, BoundSecret, EnvService, EnvSite, EnvSnapshot, SecretRow, ServiceRow, SiteRow, TokenRow, TypeRow
from .audit_tx import AuditQueries
from .history_tx import HistoryQueries
from .sites_tx import SiteQueries

_SECRET_COLUMNS = """
    s.id, s.site_id, s.app_id, a.name, s.name, s.type_id, t.key, s.description, s.version,
    s.ciphertext, s.created_at, s.updated_at, s.created_by, s.updated_by, s.last_used_at, s.fingerprint,
    s.rotate_every_days, s.value_updated_at
"""
_SECRET_FROM = """
    FROM secrets s LEFT JOIN apps a ON a.id = s.app_id LEFT JOIN secret_types t ON t.id = s.type_id
"""
_LIMIT_COLUMNS = ("max_secrets", "max_value_bytes", "max_name_length", "max_versions", "trash_days",
                  "audit_retention_days", "max_apps", "max_services", "max_types", "max_tokens")
_SITE_COLUMNS = f"id, name, created_at, wrapped_key, {', '.join(_LIMIT_COLUMNS)}"
_COUNTED = frozenset({"secrets", "apps", "services", "secret_types"})
_TOKEN_COLUMNS = "id, name, role, site, service, hash, created_at, expires_at, last_used_at, mac"
# every request's, so written once; the join reads the site's uid in the same index walk, for a
# denial of the token (`TokenRow.site_uid`), where a query of its own would cost every denial a read
_TOKEN_BY_HASH = (f"SELECT {', '.join('t.' + c for c in _TOKEN_COLUMNS.split(', '))}, s.uid"
                  " FROM tokens t LEFT JOIN sites s ON s.name = t.site WHERE t.hash = ?")
_TYPE_COLUMNS = """
    t.id, t.site_id, t.key, t.name, t.schema, t.description, t.created_at, t.updated_at,
    (SELECT count(*) FROM secrets s WHERE s.type_id = t.id)
"""
_SERVICE_COLUMNS = "v.id, v.site_id, v.app_id, a.name, v.name, v.created_at, v.loaded_at"
_SERVICE_FROM = "FROM services v LEFT JOIN apps a ON a.id = v.app_id"
_first = itemgetter(0)


@cache
def _bound_secrets_sql(binding_order: str) -> str:
    """`bound_secrets`'s query, written once per dialect (it is read on every environment fetch). The
    column that orders the bindings comes first and the rows are sorted by it in Python: an ORDER BY
    made SQLite sort the joined rows, ciphertexts and all, in a temporary b-tree (the index it reads
    them by is not in that order), 7.5 k instructions a fetch against a sort of five tuples."""
    return f"""SELECT {binding_order}, b.app_id, a.name, b.name, s.id, s.version, s.ciphertext, b.loaded_version, s.last_used_at
        FROM bindings b JOIN services v ON v.id = b.service_id
        LEFT JOIN apps a ON a.id = b.app_id
        LEFT JOIN secrets s ON s.site_id = v.site_id AND coalesce(s.app_id, 0) = coalesce(b.app_id, 0) AND s.name = b.name
        WHERE b.service_id = ?"""


_SITE_AND_SERVICE = """SELECT si.id, si.name, si.wrapped_key, v.id, v.loaded_at, coalesce(c.changes, 0), va.site_secrets
    FROM sites si LEFT JOIN services v ON v.site_id = si.id AND v.name = ? LEFT JOIN apps va ON va.id = v.app_id
    LEFT JOIN service_env_changes c ON c.service_id = v.id
    WHERE si.name = ?"""
"""`env_snapshot`'s first query: the site and its service of a name (`EnvSite`, `EnvService` with its
change counter), with the service's app's `site_secrets`; a left join, so that a site without that
service still comes back."""
_ENV_CHANGES_BATCH = 500
"""Services whose counters one query reads: within SQLite's oldest limit of 999 parameters."""


def _set_clause(changes: dict[str, Any], allowed: set[str]) -> tuple[str, list[Any]]:
    unknown = set(changes) - allowed
    if unknown:  # column names come from code, never from a request; this guards a programming slip
        raise ValueError(f"not updatable: {sorted(unknown)}")
    return ", ".join(f"{column} = ?" for column in changes), list(changes.values())


class SqlTx(HistoryQueries, AuditQueries, SiteQueries, ABC):
    """The queries of one transaction on one DB-API connection, in neither dialect in particular."""

    BINDING_ORDER: str
    """The column that keeps bindings in the order they were listed (PostgreSQL has no rowid)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    # ------------------------------------------------------------ what a dialect supplies

    @abstractmethod
    def _execute(self, sql: str, params: tuple[Any, ...]) -> Any:
        """Run one query written with `?` placeholders; the cursor."""

    @abstractmethod
    def _many(self, sql: str, rows: list[tuple]) -> None:
        """Run one statement once per row of parameters."""

    @abstractmethod
    def _insert_id(self, sql: str, *params: Any) -> int:
        """Run an INSERT of one row into a table keyed by `id`; the new row's id."""

    def _site_lock(self) -> str:
        """What `get_site` appends to lock the site's row in a write (see `postgres.py` for why):
        nothing where writes never overlap, as with SQLite's one writer."""
        return ""

    def _forget_deleted(self) -> None:
        """Called after deleting a ciphertext or a wrapped data key. Nothing by default: under
        PostgreSQL's MVCC no wipe would reach the dead row (see `postgres_tx.py`); SQLite clears its WAL."""

    @abstractmethod
    def get_meta_locked(self, key: str, *, exclusive: bool = False) -> str | None:
        """`get_meta`, holding off (or waiting for) the writes that `exclusive` says must not overlap."""

    def _one(self, sql: str, *params: Any) -> tuple | None:
        return self._execute(sql, params).fetchone()

    def _all(self, sql: str, *params: Any) -> list[tuple]:
        return self._execute(sql, params).fetchall()

    def _run(self, sql: str, *params: Any) -> Any:
        return self._execute(sql, params)

    # ------------------------------------------------------------ meta

    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", key)
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._run("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)

    # ------------------------------------------------------------ sites

    def list_sites(self) -> list[SiteRow]:
        return [SiteRow(*row) for row in self._all(f"SELECT {_SITE_COLUMNS} FROM sites ORDER BY name")]

    def get_site(self, name: str) -> SiteRow | None:
        row = self._one(f"SELECT {_SITE_COLUMNS} FROM sites WHERE name = ?{self._site_lock()}", name)
        return SiteRow(*row) if row else None

    def insert_site(self, name: str, wrapped_key: bytes, now: str) -> SiteRow:
        # the uid names this lifetime of the site (its audit log's key); a name can come back, a uid never does
        self._run("INSERT INTO sites (name, created_at, wrapped_key, uid) VALUES (?, ?, ?, ?)", name, now, wrapped_key, token_hex(16))
        return self.get_site(name)  # type: ignore[return-value]

    def update_site_limits(self, site_id: int, limits: dict[str, int | None]) -> None:
        clause, values = _set_clause(limits, set(_LIMIT_COLUMNS))
        self._run(f"UPDATE sites SET {clause} WHERE id = ?", *values, site_id)

    def update_site_key(self, site_id: int, wrapped_key: bytes) -> None:
        self._run("UPDATE sites SET wrapped_key = ? WHERE id = ?", wrapped_key, site_id)

    def delete_site(self, site_id: int) -> None:
        self._run("DELETE FROM sites WHERE id = ?", site_id)
        # the site's wrapped data key goes as a ciphertext does: without it, no copy of the site's
        # ciphertexts can be opened, even with the master key
        self._forget_deleted()

    def site_contents(self, site_id: int) -> dict[str, int]:
        counts = {}
        for table in ("apps", "secrets", "secret_types", "services"):
            counts[table] = self._one(f"SELECT count(*) FROM {table} WHERE site_id = ?", site_id)[0]
        return counts

    def count_in_site(self, site_id: int, table: str) -> int:
        if table not in _COUNTED:  # table names come from code, never from a request
            raise ValueError(f"not counted per site: {table}")
        return self._one(f"SELECT count(*) FROM {table} WHERE site_id = ?", site_id)[0]

    def env_changes(self, service_ids: list[int]) -> dict[int, int]:
        counters: dict[int, int] = {}
        for first in range(0, len(service_ids), _ENV_CHANGES_BATCH):
            batch = service_ids[first:first + _ENV_CHANGES_BATCH]
            marks = ", ".join("?" for _ in batch)
            # from `services`, so that only a service that is gone is left out (the hub's GONE)
            counters.update(self._all(f"""SELECT v.id, coalesce(c.changes, 0) FROM services v
                LEFT JOIN service_env_changes c ON c.service_id = v.id WHERE v.id IN ({marks})""", *batch))
        return counters

    # ------------------------------------------------------------ apps

    def list_apps(self, site_id: int) -> list[AppRow]:
        rows = self._all("SELECT id, site_id, name, site_secrets, created_at FROM apps WHERE site_id = ? ORDER BY name", site_id)
        return [AppRow(r[0], r[1], r[2], bool(r[3]), r[4]) for r in rows]

    def get_app(self, site_id: int, name: str) -> AppRow | None:
        r = self._one("SELECT id, site_id, name, site_secrets, created_at FROM apps WHERE site_id = ? AND name = ?", site_id, name)
        return AppRow(r[0], r[1], r[2], bool(r[3]), r[4]) if r else None

    def insert_app(self, site_id: int, name: str, site_secrets: bool, now: str) -> AppRow:
        self._run("INSERT INTO apps (site_id, name, site_secrets, created_at) VALUES (?, ?, ?, ?)", site_id, name, int(site_secrets), now)
        return self.get_app(site_id, name)  # type: ignore[return-value]

    def update_app(self, app_id: int, site_secrets: bool) -> None:
        self._run("UPDATE apps SET site_secrets = ? WHERE id = ?", int(site_secrets), app_id)

    def delete_app(self, app_id: int) -> None:
        self._run("DELETE FROM apps WHERE id = ?", app_id)

    def app_contents(self, app_id: int) -> dict[str, int]:
        return {
            "secrets": self._one("SELECT count(*) FROM secrets WHERE app_id = ?", app_id)[0],
            "services": self._one("SELECT count(*) FROM services WHERE app_id = ?", app_id)[0],
        }

    def services_binding_site_secrets(self, app_id: int) -> list[str]:
        rows = self._all(
            "SELECT DISTINCT v.name FROM services v JOIN bindings b ON b.service_id = v.id "
            "WHERE v.app_id = ? AND b.app_id IS NULL ORDER BY v.name",
            app_id,
        )
        return [r[0] for r in rows]

    # ------------------------------------------------------------ secrets

    def list_secrets(self, site_id: int, app_id: int | None, all_scopes: bool = False) -> list[SecretRow]:
        if all_scopes:
            rows = self._all(f"SELECT {_SECRET_COLUMNS} {_SECRET_FROM} WHERE s.site_id = ? ORDER BY a.name NULLS FIRST, s.name", site_id)
        else:
            rows = self._all(f"SELECT {_SECRET_COLUMNS} {_SECRET_FROM} WHERE s.site_id = ? AND coalesce(s.app_id, 0) = ? ORDER BY s.name", site_id, app_id or 0)
        return [SecretRow(*row) for row in rows]

    def get_secret(self, site_id: int, app_id: int | None, name: str) -> SecretRow | None:
        row = self._one(
            f"SELECT {_SECRET_COLUMNS} {_SECRET_FROM} WHERE s.site_id = ? AND coalesce(s.app_id, 0) = ? AND s.name = ?",
            site_id, app_id or 0, name,
        )
        return SecretRow(*row) if row else None

    def insert_secret(self, row: dict[str, Any]) -> int:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        return self._insert_id(f"INSERT INTO secrets ({columns}) VALUES ({marks})", *row.values())

    def update_secret(self, secret_id: int, changes: dict[str, Any]) -> None:
        allowed = {"type_id", "description", "version", "ciphertext", "fingerprint", "updated_at", "updated_by",
                   "rotate_every_days"}
        clause, values = _set_clause(changes, allowed)
        self._run(f"UPDATE secrets SET {clause} WHERE id = ?", *values, secret_id)

    def delete_secret(self, secret_id: int) -> None:
        self._run("DELETE FROM secret_versions WHERE secret_id = ?", secret_id)
        self._run("DELETE FROM secrets WHERE id = ?", secret_id)
        self._forget_deleted()

    def secrets_of_type(self, type_id: int) -> list[SecretRow]:
        """Trashed secrets included: they still hold their type, which must neither go from under
        them (a restore would bring back a secret of no type) nor change so they no longer validate."""
        trashed_from = _SECRET_FROM.replace("FROM secrets s", "FROM trashed_secrets s")
        rows = self._all(
            f"SELECT {_SECRET_COLUMNS} {_SECRET_FROM} WHERE s.type_id = ? "
            f"UNION ALL SELECT {_SECRET_COLUMNS} {trashed_from} WHERE s.type_id = ? ORDER BY 4 NULLS FIRST, 5",
            type_id, type_id,
        )
        return [SecretRow(*row) for row in rows]

    def services_using(self, site_id: int, app_id: int | None, name: str) -> list[str]:
        rows = self._all(
            "SELECT DISTINCT v.name FROM bindings b JOIN services v ON v.id = b.service_id "
            "WHERE v.site_id = ? AND coalesce(b.app_id, 0) = ? AND b.name = ? ORDER BY v.name",
            site_id, app_id or 0, name,
        )
        return [r[0] for r in rows]

    def usage_by_secret(self, site_id: int) -> dict[tuple[int | None, str], list[str]]:
        usage: dict[tuple[int | None, str], list[str]] = {}
        rows = self._all(
            "SELECT b.app_id, b.name, v.name FROM bindings b JOIN services v ON v.id = b.service_id "
            "WHERE v.site_id = ? ORDER BY v.name",
            site_id,
        )
        for app_id, name, service in rows:
            usage.setdefault((app_id, name), []).append(service)
        return usage

    # ------------------------------------------------------------ secret types

    def list_types(self, site_id: int) -> list[TypeRow]:
        return [TypeRow(*r) for r in self._all(f"SELECT {_TYPE_COLUMNS} FROM secret_types t WHERE t.site_id = ? ORDER BY t.key", site_id)]

    def get_type(self, site_id: int, key: str) -> TypeRow | None:
        row = self._one(f"SELECT {_TYPE_COLUMNS} FROM secret_types t WHERE t.site_id = ? AND t.key = ?", site_id, key)
        return TypeRow(*row) if row else None

    def insert_type(self, site_id: int, key: str, name: str, schema: str, description: str, now: str) -> None:
        self._run(
            "INSERT INTO secret_types (site_id, key, name, schema, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            site_id, key, name, schema, description, now, now,
        )

    def update_type(self, type_id: int, changes: dict[str, Any]) -> None:
        clause, values = _set_clause(changes, {"name", "schema", "description", "updated_at"})
        self._run(f"UPDATE secret_types SET {clause} WHERE id = ?", *values, type_id)

    def delete_type(self, type_id: int) -> None:
        self._run("DELETE FROM secret_types WHERE id = ?", type_id)

    # ------------------------------------------------------------ services

    def list_services(self, site_id: int) -> list[ServiceRow]:
        return [ServiceRow(*r) for r in self._all(f"SELECT {_SERVICE_COLUMNS} {_SERVICE_FROM} WHERE v.site_id = ? ORDER BY v.name", site_id)]

    def get_service(self, site_id: int, name: str) -> ServiceRow | None:
        row = self._one(f"SELECT {_SERVICE_COLUMNS} {_SERVICE_FROM} WHERE v.site_id = ? AND v.name = ?", site_id, name)
        return ServiceRow(*row) if row else None

    def insert_service(self, site_id: int, app_id: int | None, name: str, now: str) -> int:
        return self._insert_id("INSERT INTO services (site_id, app_id, name, created_at) VALUES (?, ?, ?, ?)", site_id, app_id, name, now)

    def delete_service(self, service_id: int) -> None:
        self._run("DELETE FROM bindings WHERE service_id = ?", service_id)
        self._run("DELETE FROM services WHERE id = ?", service_id)

    def bindings(self, service_ids: list[int]) -> list[BindingRow]:
        if not service_ids:
            return []
        marks = ", ".join("?" for _ in service_ids)
        rows = self._all(
            f"""SELECT b.service_id, b.app_id, a.name, b.name, b.loaded_version, s.version
                FROM bindings b JOIN services v ON v.id = b.service_id
                LEFT JOIN apps a ON a.id = b.app_id
                LEFT JOIN secrets s ON s.site_id = v.site_id AND coalesce(s.app_id, 0) = coalesce(b.app_id, 0) AND s.name = b.name
                WHERE b.service_id IN ({marks}) ORDER BY {self.BINDING_ORDER}""",
            *service_ids,
        )
        return [BindingRow(*r) for r in rows]

    def replace_bindings(self, service_id: int, refs: list[tuple[int | None, str]]) -> None:
        """Set the service's bindings to `refs`, keeping the loaded version of those it already had."""
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
        rows = self._all(_bound_secrets_sql(self.BINDING_ORDER), service_id)
        rows.sort(key=_first)  # in the order the bindings were listed (see `_bound_secrets_sql`)
        return [BoundSecret(*r[1:]) for r in rows]

    def env_snapshot(self, site: str, service: str) -> EnvSnapshot | None:
        row = self._one(_SITE_AND_SERVICE, service, site)
        if row is None:
            return None
        site_id, site_name, wrapped_key, service_id, loaded_at, env_changes, site_secrets = row
        site_row = EnvSite(site_id, site_name, wrapped_key)
        if service_id is None:
            return EnvSnapshot(site_row, None, True, [])
        return EnvSnapshot(site_row, EnvService(service_id, loaded_at, env_changes), site_secrets is None or bool(site_secrets),
                           self.bound_secrets(service_id))

    def record_load(self, service_id: int, versions: dict[tuple[int | None, str], int], secret_ids: list[int], now: str,
                    *, touch_service: bool = True) -> None:
        if versions:
            self._many(
                "UPDATE bindings SET loaded_version = ? WHERE service_id = ? AND coalesce(app_id, 0) = ? AND name = ?",
                [(version, service_id, app_id or 0, name) for (app_id, name), version in versions.items()],
            )
        if touch_service:
            self._run("UPDATE services SET loaded_at = ? WHERE id = ? AND (loaded_at IS NULL OR loaded_at <> ?)", now, service_id, now)
        if secret_ids:
            marks = ", ".join("?" for _ in secret_ids)
            self._run(f"UPDATE secrets SET last_used_at = ? WHERE id IN ({marks})", now, *secret_ids)

    # ------------------------------------------------------------ tokens

    def get_token_by_hash(self, token_hash: str) -> TokenRow | None:
        row = self._one(_TOKEN_BY_HASH, token_hash)
        return TokenRow._make(row) if row else None

    def get_token(self, token_id: str) -> TokenRow | None:
        row = self._one(f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE id = ?", token_id)
        return TokenRow(*row) if row else None

    def list_tokens(self, site: str | None = None) -> list[TokenRow]:
        if site is None:
            rows = self._all(f"SELECT {_TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id")
        else:
            rows = self._all(f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE site = ? ORDER BY created_at, id", site)
        return [TokenRow(*r) for r in rows]

    def insert_token(self, row: TokenRow) -> None:
        self._run(
            f"INSERT INTO tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row.id, row.name, row.role, row.site, row.service, row.hash, row.created_at, row.expires_at, row.last_used_at, row.mac,
        )

    def expired_tokens(self, before: str, limit: int) -> list[TokenRow]:
        rows = self._all(f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE expires_at <= ? ORDER BY expires_at, id LIMIT ?", before, limit)
        return [TokenRow(*r) for r in rows]

    def delete_token(self, token_id: str) -> bool:
        return self._run("DELETE FROM tokens WHERE id = ?", token_id).rowcount > 0

    def delete_site_tokens(self, site: str) -> None:
        self._run("DELETE FROM tokens WHERE site = ?", site)

    def delete_service_tokens(self, site: str, service: str) -> list[TokenRow]:
        rows = [TokenRow(*r) for r in self._all(f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE site = ? AND service = ? ORDER BY id", site, service)]
        # one by one: on PostgreSQL another write (the sweep of expired tokens) may remove one after
        # the read, and a token this did not remove must not be reported (and audited) as revoked
        return [row for row in rows if self.delete_token(row.id)]

    def touch_token(self, token_id: str, now: str) -> None:
        self._run("UPDATE tokens SET last_used_at = ? WHERE id = ?", now, token_id)
