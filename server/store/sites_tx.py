"""The queries of the operator's view of sites (API.md "Operator views"): what each site holds,
and the wholesale deletion of a site's contents.

A mixin of `SqlTx`, in the SQL both dialects read, on `SqlTx`'s `_one`, `_all`, `_run` and
`_forget_deleted`. Usage is counted with one grouped query per table, for every site at once, so
listing many sites costs the same six queries as reading one.
"""

from __future__ import annotations

from typing import Any

from .base import SiteUsageRow

# children before parents: no table may lose a row another still points at
_CONTENT_DELETES = (
    ("bindings", "DELETE FROM bindings WHERE service_id IN (SELECT id FROM services WHERE site_id = ?)"),
    ("services", "DELETE FROM services WHERE site_id = ?"),
    ("versions", "DELETE FROM secret_versions WHERE secret_id IN (SELECT id FROM secrets WHERE site_id = ?)"),
    ("secrets", "DELETE FROM secrets WHERE site_id = ?"),
    ("trashed_versions", "DELETE FROM trashed_versions WHERE trash_id IN (SELECT id FROM trashed_secrets WHERE site_id = ?)"),
    ("trash", "DELETE FROM trashed_secrets WHERE site_id = ?"),
    ("secret_types", "DELETE FROM secret_types WHERE site_id = ?"),
    ("apps", "DELETE FROM apps WHERE site_id = ?"),
)


class SiteQueries:
    """Usage and cascade deletion; see `base.Transaction` for each method's contract."""

    _one: Any
    _all: Any
    _run: Any
    _forget_deleted: Any

    def site_usage(self, now: str, site_id: int | None = None) -> dict[int, SiteUsageRow]:
        where, params = ("WHERE site_id = ?", (site_id,)) if site_id is not None else ("", ())
        secrets = {r[0]: r[1:] for r in self._all(
            f"SELECT site_id, count(*), coalesce(sum(length(ciphertext)), 0) FROM secrets {where} GROUP BY site_id", *params)}
        services, apps, types = (dict(self._all(f"SELECT site_id, count(*) FROM {table} {where} GROUP BY site_id", *params))
                                 for table in ("services", "apps", "secret_types"))
        token_where, token_params = ("AND s.id = ?", (site_id,)) if site_id is not None else ("", ())
        tokens = dict(self._all(
            f"SELECT s.id, count(*) FROM tokens t JOIN sites s ON s.name = t.site "
            f"WHERE (t.expires_at IS NULL OR t.expires_at > ?) {token_where} GROUP BY s.id", now, *token_params))
        trash = {r[0]: r[1:] for r in self._all(
            f"SELECT site_id, count(*), coalesce(sum(length(ciphertext)), 0) FROM trashed_secrets {where} GROUP BY site_id", *params)}
        ids = [site_id] if site_id is not None else [r[0] for r in self._all("SELECT id FROM sites")]
        return {
            i: SiteUsageRow(secrets.get(i, (0, 0))[0], int(secrets.get(i, (0, 0))[1]), services.get(i, 0), tokens.get(i, 0),
                            trash.get(i, (0, 0))[0], int(trash.get(i, (0, 0))[1]), apps.get(i, 0), types.get(i, 0))
            for i in ids
        }

    def count_live_tokens(self, site: str, now: str) -> int:
        return self._one("SELECT count(*) FROM tokens WHERE site = ? AND (expires_at IS NULL OR expires_at > ?)", site, now)[0]

    def delete_site_contents(self, site_id: int) -> dict[str, int]:
        deleted = {what: self._run(sql, site_id).rowcount for what, sql in _CONTENT_DELETES}
        if deleted["versions"] or deleted["trashed_versions"]:
            self._forget_deleted()
        return deleted
