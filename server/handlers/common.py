"""Look-ups and conversions that several handler modules share."""

from __future__ import annotations

from typing import Any, Callable

from shared.limits import MAX_NAME_LENGTH_CEILING, Limits
from shared import models

from ..context import Call
from ..http import ApiError, not_found, validation_error
from ..crypto import SEAL_OVERHEAD
from ..store import AppRow, Conflict, SiteRow, SiteUsageRow, Store, Transaction
from shared.models import ErrorCode


def load_site(tx: Transaction, name: str) -> SiteRow:
    site = tx.get_site(name)
    if site is None:
        raise not_found("site", name)
    return site


def load_app(tx: Transaction, site: SiteRow, name: str) -> AppRow:
    app = tx.get_app(site.id, name)
    if app is None:
        raise not_found("app", name)
    return app


def load_scope(tx: Transaction, site_name: str, app_name: str | None) -> tuple[SiteRow, AppRow | None]:
    """The site and (for an app-level path) the app a `{scope}` path names; 404 for either unknown."""
    site = load_site(tx, site_name)
    return site, (load_app(tx, site, app_name) if app_name is not None else None)


def site_limits(call: Call, site: SiteRow) -> Limits:
    """The limits `site` works under. The name length never passes the ceiling, whatever a site
    stored under an older, higher one or the server's flag says: both databases must index it."""
    default = call.state.settings.limits
    return Limits(
        max_secrets=site.max_secrets or default.max_secrets,
        max_value_bytes=site.max_value_bytes or default.max_value_bytes,
        max_name_length=min(site.max_name_length or default.max_name_length, MAX_NAME_LENGTH_CEILING),
        max_versions=site.max_versions or default.max_versions,
        trash_days=default.trash_days if site.trash_days is None else site.trash_days,  # 0 is a setting: no trash
        audit_retention_days=default.audit_retention_days if site.audit_retention_days is None else site.audit_retention_days,
        max_apps=site.max_apps or default.max_apps,
        max_services=site.max_services or default.max_services,
        max_types=site.max_types or default.max_types,
        max_tokens=site.max_tokens or default.max_tokens,
    )


def check_room(call: Call, site: SiteRow, setting: str, held: int, what: str) -> None:
    """409 `limit_exceeded` when `site` already holds its limit `setting` (`max_apps`...) of
    `what` (`held` of them, counted in the writing transaction, so concurrent creates cannot pass it)."""
    limit = getattr(site_limits(call, site), setting)
    if held >= limit:
        raise ApiError(ErrorCode.limit_exceeded, f"site {site.name!r} already holds its limit of {what}: {limit}",
                       {"limit": limit, "setting": setting})


def in_batches(store: Store, pending: Callable[[Transaction], Any], batch: Callable[[Transaction], tuple[int, bool]]) -> int:
    """Run `batch` (one write: how many it did, and whether more may remain) until none remain;
    returns the total. A background chore's work goes in batches so the writer every site shares
    is never held long; and `pending` is looked at first, outside the writer, since most sweeps
    find nothing and a write would wait its turn (with several workers, for the data directory's
    write lock) to learn that."""
    if not store.read(pending):
        return 0
    total, more = 0, True
    while more:
        done, more = store.write(batch)
        total += done
    return total


def site_model(call: Call, site: SiteRow, usage: SiteUsageRow) -> models.Site:
    limits = site_limits(call, site)
    return models.Site(
        name=site.name, created_at=site.created_at, secret_count=usage.secrets,
        limits=models.LimitsModel(**limits.__dict__),
        usage=models.SiteUsage(secrets=usage.secrets, value_bytes=usage.sealed_bytes - SEAL_OVERHEAD * usage.secrets,
                               services=usage.services, tokens=usage.tokens, trash=usage.trash,
                               trash_value_bytes=usage.trash_sealed_bytes - SEAL_OVERHEAD * usage.trash,
                               apps=usage.apps, types=usage.types),
    )


def read_site_model(call: Call, tx: Transaction, site: SiteRow) -> models.Site:
    """`site` as the API shows it, with its usage read in `tx`."""
    return site_model(call, site, tx.site_usage(call.now, site.id)[site.id])


def query_flag(call: Call, name: str, default: bool) -> bool:
    """A `true`/`false` query parameter; anything else is refused, as a typo must not quietly
    switch (or not switch) what the request does."""
    value = call.request.query.get(name)
    if value is None:
        return default
    if value not in ("true", "false"):
        raise validation_error([{"path": f"/{name}", "message": f"{name} must be 'true' or 'false'"}])
    return value == "true"


def app_model(app: AppRow) -> models.App:
    return models.App(name=app.name, site_secrets=app.site_secrets, created_at=app.created_at)


def create_unique(call: Call, write, what: str):
    """Run a create; a name taken by a concurrent request is `already_exists`, as if it had been first."""
    try:
        return call.store.write(write)
    except Conflict:
        raise ApiError(ErrorCode.already_exists, f"{what} already exists") from None
