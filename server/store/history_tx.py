"""The queries of a secret's life over time: its kept versions and the site's trash (migration 4).

A mixin of `SqlTx`, written in the SQL both dialects read, on `SqlTx`'s `_one`, `_all`, `_run`,
`_insert_id` and `_forget_deleted`. Every query that removes a ciphertext (a version falling off,
a purge) calls `_forget_deleted`, so SQLite clears it from its WAL as a delete does.

Trashing moves rows rather than flagging them (see migration 4 for why); the moves are
`INSERT ... SELECT` then `DELETE`, inside the caller's transaction, so they are all or nothing.
"""

from __future__ import annotations

from typing import Any

from .base import ExpiredTrash, TrashRow, VersionRow

_VERSION_COLUMNS = "version, ciphertext, fingerprint, type_key, created_at, created_by"
# the columns a secret and its trash entry share, in one order
_SHARED = ("site_id, app_id, name, type_id, description, version, ciphertext, fingerprint, "
           "created_at, updated_at, created_by, updated_by, last_used_at, rotate_every_days, value_updated_at")
_TRASH_COLUMNS = "x.id, x.site_id, x.app_id, a.name, x.name, x.version, x.deleted_at, x.deleted_by, x.purge_at"
_TRASH_FROM = "FROM trashed_secrets x LEFT JOIN apps a ON a.id = x.app_id"


class HistoryQueries:
    """Versions and trash; see `base.Transaction` for each method's contract."""

    _one: Any
    _all: Any
    _run: Any
    _insert_id: Any
    _forget_deleted: Any

    # ------------------------------------------------------------ versions

    def insert_version(self, secret_id: int, row: VersionRow) -> None:
        self._run(
            f"INSERT INTO secret_versions (secret_id, {_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            secret_id, row.version, row.ciphertext, row.fingerprint, row.type_key, row.created_at, row.created_by,
        )

    def list_versions(self, secret_id: int) -> list[VersionRow]:
        rows = self._all(f"SELECT {_VERSION_COLUMNS} FROM secret_versions WHERE secret_id = ? ORDER BY version DESC", secret_id)
        return [VersionRow(*r) for r in rows]

    def get_version(self, secret_id: int, version: int) -> VersionRow | None:
        row = self._one(f"SELECT {_VERSION_COLUMNS} FROM secret_versions WHERE secret_id = ? AND version = ?", secret_id, version)
        return VersionRow(*row) if row else None

    def set_version_type(self, secret_id: int, version: int, type_key: str | None) -> None:
        self._run("UPDATE secret_versions SET type_key = ? WHERE secret_id = ? AND version = ?", type_key, secret_id, version)

    def trim_versions(self, secret_id: int, keep: int) -> int:
        gone = self._run(
            "DELETE FROM secret_versions WHERE secret_id = ? AND version <= "
            "(SELECT max(v.version) FROM secret_versions v WHERE v.secret_id = ?) - ?",
            secret_id, secret_id, keep,
        ).rowcount
        if gone:
            self._forget_deleted()
        return gone

    def trim_site_versions(self, site_id: int, keep: int) -> int:
        gone = self._run(
            "DELETE FROM secret_versions WHERE secret_id IN (SELECT id FROM secrets WHERE site_id = ?) AND version <= "
            "(SELECT s.version FROM secrets s WHERE s.id = secret_versions.secret_id) - ?",
            site_id, keep,
        ).rowcount
        # the trash's too: a restore must not bring back values the site no longer keeps
        gone += self._run(
            "DELETE FROM trashed_versions WHERE trash_id IN (SELECT id FROM trashed_secrets WHERE site_id = ?) AND version <= "
            "(SELECT x.version FROM trashed_secrets x WHERE x.id = trashed_versions.trash_id) - ?",
            site_id, keep,
        ).rowcount
        if gone:
            self._forget_deleted()
        return gone

    def unfingerprinted(self) -> list[tuple]:
        rows = self._all(
            "SELECT 'secrets', s.id, 0, s.site_id, a.name, s.name, s.version, s.ciphertext FROM secrets s "
            "LEFT JOIN apps a ON a.id = s.app_id WHERE s.fingerprint IS NULL "
            "UNION ALL SELECT 'secret_versions', v.secret_id, v.version, s.site_id, a.name, s.name, v.version, v.ciphertext "
            "FROM secret_versions v JOIN secrets s ON s.id = v.secret_id LEFT JOIN apps a ON a.id = s.app_id "
            "WHERE v.fingerprint IS NULL"
        )
        return [(table, (key, version), site_id, app, name, value_version, bytes(blob))
                for table, key, version, site_id, app, name, value_version, blob in rows]

    def fill_fingerprints(self, table: str, key: tuple, fingerprint: str) -> None:
        if table == "secrets":
            self._run("UPDATE secrets SET fingerprint = ? WHERE id = ? AND fingerprint IS NULL", fingerprint, key[0])
        elif table == "secret_versions":
            self._run("UPDATE secret_versions SET fingerprint = ? WHERE secret_id = ? AND version = ? AND fingerprint IS NULL",
                      fingerprint, *key)
        else:  # table names come from `unfingerprinted`, never from a request
            raise ValueError(f"no fingerprints in {table}")

    # ------------------------------------------------------------ trash

    def trash_secret(self, secret_id: int, deleted_at: str, deleted_by: str, purge_at: str) -> int:
        trash_id = self._insert_id(
            f"INSERT INTO trashed_secrets ({_SHARED}, deleted_at, deleted_by, purge_at) "
            f"SELECT {_SHARED}, ?, ?, ? FROM secrets WHERE id = ?",
            deleted_at, deleted_by, purge_at, secret_id,
        )
        self._run(
            f"INSERT INTO trashed_versions (trash_id, {_VERSION_COLUMNS}) "
            f"SELECT ?, {_VERSION_COLUMNS} FROM secret_versions WHERE secret_id = ?",
            trash_id, secret_id,
        )
        self._run("DELETE FROM secret_versions WHERE secret_id = ?", secret_id)
        self._run("DELETE FROM secrets WHERE id = ?", secret_id)
        return trash_id

    def restore_trashed(self, trash_id: int) -> int:
        secret_id = self._insert_id(f"INSERT INTO secrets ({_SHARED}) SELECT {_SHARED} FROM trashed_secrets WHERE id = ?", trash_id)
        self._run(
            f"INSERT INTO secret_versions (secret_id, {_VERSION_COLUMNS}) "
            f"SELECT ?, {_VERSION_COLUMNS} FROM trashed_versions WHERE trash_id = ?",
            secret_id, trash_id,
        )
        self._run("DELETE FROM trashed_versions WHERE trash_id = ?", trash_id)
        self._run("DELETE FROM trashed_secrets WHERE id = ?", trash_id)
        return secret_id

    def purge_trashed(self, trash_id: int) -> bool:
        self._run("DELETE FROM trashed_versions WHERE trash_id = ?", trash_id)
        gone = self._run("DELETE FROM trashed_secrets WHERE id = ?", trash_id).rowcount > 0
        if gone:
            self._forget_deleted()
        return gone

    def list_trash(self, site_id: int) -> list[TrashRow]:
        rows = self._all(f"SELECT {_TRASH_COLUMNS} {_TRASH_FROM} WHERE x.site_id = ? ORDER BY a.name NULLS FIRST, x.name", site_id)
        return [TrashRow(*r) for r in rows]

    def set_purge_at(self, trash_id: int, purge_at: str) -> None:
        self._run("UPDATE trashed_secrets SET purge_at = ? WHERE id = ?", purge_at, trash_id)

    def get_trashed(self, site_id: int, app_id: int | None, name: str) -> TrashRow | None:
        row = self._one(
            f"SELECT {_TRASH_COLUMNS} {_TRASH_FROM} WHERE x.site_id = ? AND coalesce(x.app_id, 0) = ? AND x.name = ?",
            site_id, app_id or 0, name,
        )
        return TrashRow(*row) if row else None

    def expired_trash(self, now: str, limit: int) -> list[ExpiredTrash]:
        rows = self._all(
            "SELECT x.id, s.name, a.name, x.name, x.version FROM trashed_secrets x JOIN sites s ON s.id = x.site_id "
            "LEFT JOIN apps a ON a.id = x.app_id WHERE x.purge_at <= ? ORDER BY x.purge_at, x.id LIMIT ?",
            now, limit,
        )
        return [ExpiredTrash(*r) for r in rows]
