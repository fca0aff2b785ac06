"""The site's trash: deleting a secret moves it there for `trash_days`, with its kept versions;
from there it is restored, purged by an admin, or purged by the server once it expires.

A trashed secret is out of every listing, count, binding and environment because it is no longer
in the `secrets` table at all (see migration 4). Each scope's trash holds one entry per name: a
secret deleted while an older one of its name waits in the trash replaces it (that one is purged,
and the purge audited with reason `replaced`). A site's trash holds at most its `max_secrets`
entries, the oldest deletion purged first (reason `trash_full`). Every purge wipes the ciphertexts
as a delete does.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shared import models
from shared.models import ErrorCode
from shared.wording import plural

from .. import audit
from ..audit import secret_target
from ..context import Call
from ..http import ApiError, not_found
from ..store import AppRow, AuditRecord, SiteRow, Store, Transaction
from ..store.base import TrashRow
from .common import check_room, create_unique, in_batches, load_scope, load_site, site_limits
from .secrets import load_secret, secret_model


def trashed_model(row: TrashRow) -> models.TrashedSecret:
    return models.TrashedSecret(name=row.name, app=row.app, version=row.version, deleted_at=row.deleted_at,
                                deleted_by=row.deleted_by, purge_at=row.purge_at)


def purge_time(now: str, days: int) -> str:
    moment = datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) + timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def delete_secret(call: Call, site: str, name: str, app: str | None = None) -> None:
    """Move the secret to the trash (or, with `trash_days` 0, delete and wipe it at once); a secret
    a service binds is 409 `secret_in_use`, as ever."""

    def write(tx: Transaction) -> None:
        site_row, app_row = load_scope(tx, site, app)
        row = load_secret(tx, site_row, app_row, name)
        services = tx.services_using(site_row.id, row.app_id, name)
        if services:
            raise ApiError(ErrorCode.secret_in_use, f"secret {name!r} is used by {plural(len(services), 'service')}; unbind it first",
                           {"services": services})
        target = secret_target(app, name)
        days = site_limits(call, site_row).trash_days
        if days == 0:
            tx.delete_secret(row.id)
            audit.record(tx, call.event("secret.delete", site=site, target=target, details={"version": row.version, "trash": False}))
            return
        older = tx.get_trashed(site_row.id, row.app_id, name)
        if older is not None:
            purge(call, tx, site, older, "replaced")
        purge_at = purge_time(call.now, days)
        tx.trash_secret(row.id, call.now, call.principal.name, purge_at)
        audit.record(tx, call.event("secret.delete", site=site, target=target,
                                    details={"version": row.version, "trash": True, "purge_at": purge_at}))
        make_room(call, tx, site_row, site_limits(call, site_row).max_secrets)

    call.store.write(write)


def make_room(call: Call, tx: Transaction, site: SiteRow, room: int) -> None:
    """Hold the site's trash to `room` entries (its `max_secrets`), the oldest deletions purged
    first (reason `trash_full`). The trash counts toward no limit, and a scope's trash keeps one
    entry per name: without a bound, a secret of 64 KiB made under a new name and deleted, again
    and again, filled the disk that every tenant's writes need."""
    entries = tx.list_trash(site.id)
    for entry in sorted(entries, key=lambda e: (e.deleted_at, e.id))[:max(0, len(entries) - room)]:
        purge(call, tx, site.name, entry, "trash_full")


def purge(call: Call, tx: Transaction, site: str, entry: TrashRow, reason: str) -> None:
    if tx.purge_trashed(entry.id):
        audit.record(tx, call.event("secret.purge", site=site, target=secret_target(entry.app, entry.name),
                                    details={"version": entry.version, "reason": reason}))


def purge_scope_trash(call: Call, tx: Transaction, site: SiteRow, app: AppRow | None = None) -> None:
    """Purge the trash of a site (or of one of its apps) that is being deleted: trash never keeps a
    site or app alive, and nothing could restore into a scope that is gone."""
    reason = "app.delete" if app else "site.delete"
    for entry in tx.list_trash(site.id):
        if app is None or entry.app_id == app.id:
            purge(call, tx, site.name, entry, reason)


def retime_trash(call: Call, tx: Transaction, site: SiteRow, days: int) -> int:
    """Hold the site's trash to a changed `trash_days`: each entry is due `days` after it was
    deleted, as if it had been deleted under the new setting, and those due already are purged
    now (reason `trash_days`), as lowering `max_versions` wipes the surplus at once. Returns how
    many were purged."""
    purged = 0
    for entry in tx.list_trash(site.id):
        due = purge_time(entry.deleted_at, days)
        if days == 0 or due <= call.now:
            purge(call, tx, site.name, entry, "trash_days")
            purged += 1
        elif due != entry.purge_at:
            tx.set_purge_at(entry.id, due)
    return purged


def load_trashed(tx: Transaction, site: SiteRow, app_id: int | None, name: str) -> TrashRow:
    entry = tx.get_trashed(site.id, app_id, name)
    if entry is None:
        raise not_found("secret in the trash", name)
    return entry


def list_trash(call: Call, site: str) -> models.TrashList:
    """Every scope's trash of the site, site-level entries first."""
    return call.store.read(lambda tx: models.TrashList(items=[trashed_model(r) for r in tx.list_trash(load_site(tx, site).id)]))


def restore_secret(call: Call, site: str, name: str, app: str | None = None) -> models.Secret:
    def write(tx: Transaction) -> models.Secret:
        site_row, app_row = load_scope(tx, site, app)
        app_id = app_row.id if app_row else None
        entry = load_trashed(tx, site_row, app_id, name)
        if tx.get_secret(site_row.id, app_id, name):
            raise ApiError(ErrorCode.already_exists, f"secret {name!r} exists again in this scope; delete or rename it first")
        check_room(call, site_row, "max_secrets", tx.count_in_site(site_row.id, "secrets"), "secrets")
        tx.restore_trashed(entry.id)
        audit.record(tx, call.event("secret.restore", site=site, target=secret_target(app, name), details={"version": entry.version}))
        return secret_model(load_secret(tx, site_row, app_row, name), tx.services_using(site_row.id, app_id, name))

    return create_unique(call, write, f"secret {name!r}")


def purge_secret(call: Call, site: str, name: str, app: str | None = None) -> None:
    def write(tx: Transaction) -> None:
        site_row, app_row = load_scope(tx, site, app)
        purge(call, tx, site, load_trashed(tx, site_row, app_row.id if app_row else None, name), "requested")

    call.store.write(write)


PURGE_BATCH = 100
"""Expired trash entries purged per write, so a sweep holds the writer every tenant shares a few
milliseconds at a time, as retention's batches do."""


def purge_expired(store: Store, now: str) -> int:
    """Purge every trash entry whose time has come, each audited as `secret.purge` (reason
    `expired`, by the server), `PURGE_BATCH` to a write; returns how many. Safe to run in several
    processes at once: an entry another one purged first is neither purged nor audited twice."""

    def write(tx: Transaction) -> tuple[int, bool]:
        batch, purged = tx.expired_trash(now, PURGE_BATCH), 0
        for entry in batch:
            if tx.purge_trashed(entry.id):
                purged += 1
                audit.record(tx, AuditRecord.of("secret.purge", at=now, outcome="ok", site=entry.site,
                                                target=secret_target(entry.app, entry.name), actor="sitesecrets-server",
                                                source="server", details={"version": entry.version, "reason": "expired"}))
        return purged, len(batch) == PURGE_BATCH

    return in_batches(store, lambda tx: tx.expired_trash(now, 1), write)
