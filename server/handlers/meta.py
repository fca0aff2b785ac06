"""Health, the OpenAPI document, and the audit log."""

from __future__ import annotations

import re

from shared import __version__, models

from ..context import Call
from ..http import Response, validation_error
from ..openapi import document
from .common import load_site

MAX_AUDIT_PAGE = 500
_WHOLE_NUMBER = re.compile(r"[0-9]{1,19}")
_MAX_CURSOR = 2**63 - 1  # the largest row id


def health(call: Call) -> models.Health:
    return models.Health(version=__version__)


def openapi(call: Call) -> Response:
    return Response(200, document(call.routes), [("Content-Type", "application/json")])


def _audit_page(call: Call, site: str | None) -> models.AuditPage:
    query = call.request.query
    for name in ("limit", "before"):  # int() would also take " 5", "1_000" and other scripts' digits
        if name in query and not (_WHOLE_NUMBER.fullmatch(query[name]) and int(query[name]) <= _MAX_CURSOR):
            raise validation_error([{"path": f"/{name}", "message": f"{name} must be a whole number"}])
    limit = int(query.get("limit") or "100")
    before = int(query["before"]) if query.get("before") else None
    if not 1 <= limit <= MAX_AUDIT_PAGE:
        raise validation_error([{"path": "/limit", "message": f"must be between 1 and {MAX_AUDIT_PAGE}"}])
    filters = {k: query[k] for k in ("action", "actor", "target") if query.get(k)}

    def read(tx):
        if site is not None:
            load_site(tx, site)
        return tx.list_audit(site, filters, limit, before)

    rows = call.store.read(read)
    next_cursor = str(rows[-1]["id"]) if len(rows) == limit else None
    return models.AuditPage(items=[models.AuditEvent(**r) for r in rows], next=next_cursor)


def site_audit(call: Call, site: str) -> models.AuditPage:
    return _audit_page(call, site)


def all_audit(call: Call) -> models.AuditPage:
    """Every event, including those of no site (tokens, denied attempts); for the operator (see the route)."""
    return _audit_page(call, None)


def verify_site_audit(call: Call, site: str) -> models.AuditVerification:
    """Walk the site's chain (see `audit_chain.verify_chain`): on demand, it reads the whole log;
    `audit_walker.WALKS` shares a walk under way, bounds how many run at once and walks a long
    chain in a process of its own."""
    from ..audit_walker import WALKS

    chain = call.store.read(lambda tx: load_site(tx, site) and tx.chain_of(site))
    report = WALKS.verify(call.store, chain, call.store.audit_key)  # (a serving store has its key: see `open_state`)
    return models.AuditVerification(ok=report.ok, events=report.events, unsealed=report.unsealed, unkeyed=report.unkeyed,
                                    anchor_id=report.anchor_id, broken_id=report.broken_id, reason=report.reason)
