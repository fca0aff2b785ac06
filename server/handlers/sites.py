"""Sites and apps: create, read (with what each site holds), change limits, delete when empty
(or, for the operator, with everything in it)."""

from __future__ import annotations

from shared import models
from shared.models import ErrorCode
from shared.wording import plural

from .. import audit
from ..context import Call
from ..http import ApiError
from ..store import SiteRow, SiteUsageRow, Transaction
from .trash import purge_scope_trash, retime_trash
from .common import app_model, check_room, create_unique, load_app, load_site, query_flag, read_site_model, site_limits, site_model


def list_sites(call: Call) -> models.SiteList:
    """Every site for a token bound to none; a site-bound token's own site alone, read without
    the rest, so that what a tenant's list costs does not grow with the other tenants."""

    def read(tx: Transaction) -> models.SiteList:
        bound = call.principal.site
        if bound is not None:
            site = tx.get_site(bound)
            return models.SiteList(items=[read_site_model(call, tx, site)] if site is not None else [])
        usage = tx.site_usage(call.now)
        return models.SiteList(items=[site_model(call, s, usage[s.id]) for s in tx.list_sites()])

    return call.store.read(read)


def create_site(call: Call) -> models.Site:
    body = call.request.parse(models.SiteCreate)

    def write(tx: Transaction) -> models.Site:
        if tx.get_site(body.name):
            raise ApiError(ErrorCode.already_exists, f"site {body.name!r} already exists")
        # wrapped in the transaction that checks the master key is still the database's
        site = tx.insert_site(body.name, call.state.keyring.new_wrapped_data_key(tx, body.name), call.now)
        audit.record(tx, call.event("site.create", site=site.name, target=f"site:{site.name}"))
        return site_model(call, site, SiteUsageRow(0, 0, 0, 0))

    return create_unique(call, write, f"site {body.name!r}")


def get_site(call: Call, site: str) -> models.Site:
    def read(tx: Transaction) -> models.Site:
        return read_site_model(call, tx, load_site(tx, site))

    return call.store.read(read)


def update_site(call: Call, site: str) -> models.Site:
    body = call.request.parse(models.SiteUpdate)
    changes = body.limits.model_dump(exclude_unset=True)

    def write(tx: Transaction) -> models.Site:
        row = load_site(tx, site)
        details: dict = {"limits": changes}
        if changes:
            tx.update_site_limits(row.id, changes)
        updated = tx.get_site(site)
        if "max_versions" in changes:  # fewer kept versions: the ones past the new limit are wiped now
            wiped = tx.trim_site_versions(row.id, site_limits(call, updated).max_versions)
            if wiped:
                details["versions_wiped"] = wiped
        if "trash_days" in changes:  # the trash already there is held to the new setting too
            purged = retime_trash(call, tx, updated, site_limits(call, updated).trash_days)
            if purged:
                details["trash_purged"] = purged
        audit.record(tx, call.event("site.update", site=site, target=f"site:{site}", details=details))
        return read_site_model(call, tx, updated)

    return call.store.write(write)


def delete_site(call: Call, site: str) -> None:
    """Delete an empty site; with `?cascade=true` (the operator only, as every site deletion) one
    with everything in it: its secrets wiped, its tokens revoked, one audit event saying what went."""
    cascade = query_flag(call, "cascade", False)

    def write(tx: Transaction) -> SiteRow:
        row = load_site(tx, site)
        contents = {k: v for k, v in tx.site_contents(row.id).items() if v}
        if contents and not cascade:
            raise ApiError(ErrorCode.site_not_empty, f"site {site!r} still holds {', '.join(contents)}", {"contents": contents})
        purge_scope_trash(call, tx, row)  # a site's trash goes with it, each purge audited
        details: dict = {}
        if cascade:
            deleted = tx.delete_site_contents(row.id)
            details = {"cascade": True, "deleted": {k: v for k, v in deleted.items() if k in contents},
                       "tokens_revoked": len(tx.list_tokens(site))}
        audit.record(tx, call.event("site.delete", site=site, target=f"site:{site}", details=details))  # while the site's uid still names it
        tx.delete_site_tokens(site)
        tx.delete_site(row.id)
        return row

    deleted = call.store.write(write)
    call.state.keyring.forget(deleted)  # the key is gone from the database; keep no copy in memory either


def list_apps(call: Call, site: str) -> models.AppList:
    return call.store.read(lambda tx: models.AppList(items=[app_model(a) for a in tx.list_apps(load_site(tx, site).id)]))


def get_app(call: Call, site: str, app: str) -> models.App:
    return call.store.read(lambda tx: app_model(load_app(tx, load_site(tx, site), app)))


def create_app(call: Call, site: str) -> models.App:
    body = call.request.parse(models.AppCreate)

    def write(tx: Transaction) -> models.App:
        row = load_site(tx, site)
        if tx.get_app(row.id, body.name):
            raise ApiError(ErrorCode.already_exists, f"app {body.name!r} already exists in site {site!r}")
        check_room(call, row, "max_apps", tx.count_in_site(row.id, "apps"), "apps")
        app = tx.insert_app(row.id, body.name, body.site_secrets, call.now)
        audit.record(tx, call.event("app.create", site=site, target=f"app:{body.name}", details={"site_secrets": body.site_secrets}))
        return app_model(app)

    return create_unique(call, write, f"app {body.name!r}")


def update_app(call: Call, site: str, app: str) -> models.App:
    body = call.request.parse(models.AppUpdate)

    def write(tx: Transaction) -> models.App:
        row = load_app(tx, load_site(tx, site), app)
        if not body.site_secrets:
            # switching off would silently take secrets away from services that run with them
            services = tx.services_binding_site_secrets(row.id)
            if services:
                raise ApiError(ErrorCode.secret_in_use, f"{plural(len(services), 'service')} of app {app!r} {'binds' if len(services) == 1 else 'bind'} "
                               "site-level secrets; unbind them first",
                               {"services": services})
        tx.update_app(row.id, body.site_secrets)
        audit.record(tx, call.event("app.update", site=site, target=f"app:{app}", details={"site_secrets": body.site_secrets}))
        return app_model(tx.get_app(row.site_id, app))

    return call.store.write(write)


def delete_app(call: Call, site: str, app: str) -> None:
    def write(tx: Transaction) -> None:
        row = load_app(tx, load_site(tx, site), app)
        contents = {k: v for k, v in tx.app_contents(row.id).items() if v}
        if contents:
            raise ApiError(ErrorCode.app_not_empty, f"app {app!r} still holds {', '.join(contents)}", {"contents": contents})
        purge_scope_trash(call, tx, load_site(tx, site), row)  # the app's trash goes with it
        tx.delete_app(row.id)
        audit.record(tx, call.event("app.delete", site=site, target=f"app:{app}"))

    call.store.write(write)

