"""Tokens (admins) and `whoami` (everyone)."""

from __future__ import annotations

from shared import models
from shared.limits import EXPIRED_TOKEN_GRACE_DAYS
from shared.models import ErrorCode, Role

from .. import audit
from ..auth import issue_token, requested_expiry
from ..context import Call, utc_now
from ..http import ApiError, not_found, too_long, validation_error
from ..routing import SLUG_MAX_LENGTH
from ..store import AuditRecord, Store, TokenRow, Transaction
from .common import check_room, in_batches, load_site


def token_model(row: TokenRow) -> models.Token:
    return models.Token(id=row.id, name=row.name, role=row.role, site=row.site, service=row.service,
                        created_at=row.created_at, expires_at=row.expires_at, last_used_at=row.last_used_at)


def whoami(call: Call) -> models.WhoAmI:
    row = call.store.read(lambda tx: tx.get_token(call.principal.token_id))
    if row is None:  # revoked between authentication and now
        raise ApiError(ErrorCode.unauthorized, "a valid bearer token is required", headers=[("WWW-Authenticate", "Bearer")])
    return models.WhoAmI.model_validate(token_model(row).model_dump())


def list_tokens(call: Call) -> models.TokenList:
    """The live tokens the caller may see (revoked ones are deleted, so never listed); `?site=S`
    keeps those bound to S. A site-bound admin sees only its own site: another site is 404, as
    if it did not exist."""
    wanted = call.request.query.get("site")
    if wanted is not None and len(wanted) > SLUG_MAX_LENGTH:  # as an overlong path parameter: refused, never echoed
        raise too_long("site", SLUG_MAX_LENGTH)

    def read(tx: Transaction) -> models.TokenList:
        if wanted is None:
            return models.TokenList(items=[token_model(t) for t in tx.list_tokens(call.principal.site)])
        if not call.principal.sees_site(wanted):
            raise not_found("site", wanted)
        load_site(tx, wanted)
        return models.TokenList(items=[token_model(t) for t in tx.list_tokens(wanted)])

    return call.store.read(read)


def check_token_request(call: Call, body: models.TokenCreate) -> str | None:
    """The site the new token is bound to; a site-bound admin may only mint tokens for its own site."""
    bound = call.principal.site
    site = body.site or bound
    if bound is not None and site != bound:
        raise ApiError(ErrorCode.forbidden, "a token bound to one site may only create tokens for that site")
    if body.role is Role.service and (site is None or body.service is None):
        raise validation_error([{"path": "/service", "message": "a service token needs both a site and a service"}])
    if body.role is not Role.service and body.service is not None:
        raise validation_error([{"path": "/service", "message": "only a service token names a service"}])
    return site


def create_token(call: Call) -> models.CreatedToken:
    body = call.request.parse(models.TokenCreate)
    site = check_token_request(call, body)

    def write(tx: Transaction) -> models.CreatedToken:
        if site is not None:
            site_row = load_site(tx, site)
            if body.service is not None and tx.get_service(site_row.id, body.service) is None:
                raise not_found("service", body.service)
            check_room(call, site_row, "max_tokens", tx.count_live_tokens(site, call.now),
                       "live tokens (revoke unused ones; expired ones do not count)")
        row, token = issue_token(tx, call.state.tokens, body, site, call.now, bounded_expiry(tx, call, body))
        audit.record(tx, call.event("token.create", site=site, target=f"token:{row.id}",
                                    details={"name": row.name, "role": row.role, "service": row.service}))
        return models.CreatedToken(**token_model(row).model_dump(), token=token)

    return call.store.write(write)


def bounded_expiry(tx: Transaction, call: Call, body: models.TokenCreate) -> str | None:
    """The new token's expiry: a token that expires may not mint one that outlives it, else a
    token given for a week (a contractor's) could leave behind a successor that never expires. One
    asked without an expiry expires with its creator; one asked to outlive it is 403."""
    creator = tx.get_token(call.principal.token_id)
    limit = creator.expires_at if creator is not None else None
    asked = requested_expiry(body, call.now)
    if limit is None:
        return asked
    if asked is not None and asked > limit:
        raise ApiError(ErrorCode.forbidden, "a token that expires may not create a token that outlives it", {"expires_at": limit})
    return asked or limit


def delete_token(call: Call, id: str) -> None:
    """Revoke one token. Only that token's row is read (in the writer every site shares, however
    many tokens other sites hold); a site-bound admin sees another site's token, or an unbound
    one, as if it did not exist."""

    def write(tx: Transaction) -> None:
        row = tx.get_token(id)
        if row is None or not call.principal.sees_site(row.site):
            raise not_found("token", id)
        if not tx.delete_token(id):  # on PostgreSQL another write (the sweep, a replica) removed it after our read
            raise not_found("token", id)
        audit.record(tx, call.event("token.delete", site=row.site, target=f"token:{id}", details={"name": row.name}))

    call.store.write(write)


REMOVE_BATCH = 100
"""Expired tokens removed to one write, so that the writer every site shares is never held long."""


def remove_expired_tokens(store: Store) -> int:
    """Remove every token expired more than `EXPIRED_TOKEN_GRACE_DAYS` ago, each audited as
    `token.delete` (reason `expired`, by the server), as a revoke would be; returns how many.
    Without this, tokens made to expire (a deploy's, each day) would pile up in every listing
    for ever. Safe in several processes at once: a token another removed first is not audited twice."""
    now = utc_now()
    before = utc_now(-EXPIRED_TOKEN_GRACE_DAYS * 86400)

    def write(tx: Transaction) -> tuple[int, bool]:
        batch, removed = tx.expired_tokens(before, REMOVE_BATCH), 0
        for row in batch:
            if tx.delete_token(row.id):
                removed += 1
                audit.record(tx, AuditRecord.of("token.delete", at=now, outcome="ok", site=row.site, target=f"token:{row.id}",
                                                actor="sitesecrets-server", source="server",
                                                details={"name": row.name, "reason": "expired"}))
        return removed, len(batch) == REMOVE_BATCH

    return in_batches(store, lambda tx: tx.expired_tokens(before, 1), write)
