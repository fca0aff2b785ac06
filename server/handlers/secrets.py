"""Secrets at site or app scope: list, create, read metadata, update, delete, reveal.

Values are sealed before they reach the store and opened only for a reveal (or an environment
fetch, in `services.py`); no response model but `RevealedValue` has a field that could hold one.
"""

from __future__ import annotations

import json

from shared import models
from shared.limits import value_size
from shared.models import ErrorCode

from .. import audit, schemas
from ..app import Call
from ..audit import secret_target
from ..crypto import IntegrityError
from ..http import ApiError, not_found, validation_error
from ..store import AppRow, SecretRow, SiteRow, Transaction
from .common import create_unique, load_scope, site_limits


def secret_model(row: SecretRow, used_by: list[str]) -> models.Secret:
    return models.Secret(
        name=row.name, app=row.app, type=row.type_key, description=row.description, version=row.version,
        created_at=row.created_at, updated_at=row.updated_at, created_by=row.created_by,
        updated_by=row.updated_by, used_by=used_by, last_used_at=row.last_used_at,
    )


def load_secret(tx: Transaction, site: SiteRow, app: AppRow | None, name: str) -> SecretRow:
    row = tx.get_secret(site.id, app.id if app else None, name)
    if row is None:
        raise not_found("secret", name)
    return row


def list_secrets(call: Call, site: str, app: str | None = None) -> models.SecretList:
    scope = call.request.query.get("scope", "site") if app is None else "site"
    if scope not in ("site", "all"):  # a typo must not quietly list only the site level
        raise validation_error([{"path": "/scope", "message": "scope must be 'site' or 'all'"}])
    all_scopes = scope == "all"

    def read(tx: Transaction) -> models.SecretList:
        site_row, app_row = load_scope(tx, site, app)
        usage = tx.usage_by_secret(site_row.id)
        rows = tx.list_secrets(site_row.id, app_row.id if app_row else None, all_scopes)
        return models.SecretList(items=[secret_model(r, usage.get((r.app_id, r.name), [])) for r in rows])

    return call.store.read(read)


def get_secret(call: Call, site: str, name: str, app: str | None = None) -> models.Secret:
    def read(tx: Transaction) -> models.Secret:
        site_row, app_row = load_scope(tx, site, app)
        row = load_secret(tx, site_row, app_row, name)
        return secret_model(row, tx.services_using(site_row.id, row.app_id, name))

    return call.store.read(read)


def check_name_and_size(call: Call, site: SiteRow, name: str | None, value: str | None) -> None:
    limits = site_limits(call, site)
    if name is not None and len(name) > limits.max_name_length:
        raise validation_error([{"path": "/name", "message": f"must be at most {limits.max_name_length} characters"}])
    if value is not None and value_size(value) > limits.max_value_bytes:
        raise ApiError(ErrorCode.value_too_large, f"the value is over the limit of {limits.max_value_bytes} bytes",
                       {"limit_bytes": limits.max_value_bytes})


def check_typed_value(tx: Transaction, site: SiteRow, type_key: str | None, value: str) -> int | None:
    """The id of the secret type `type_key`, once `value` is known to validate against it."""
    if type_key is None:
        return None
    secret_type = tx.get_type(site.id, type_key)
    if secret_type is None:
        raise validation_error([{"path": "/type", "message": f"no secret type {type_key!r} in this site"}])
    problems = schemas.value_problems(json.loads(secret_type.schema), value)
    if problems:
        raise validation_error(problems, f"the value does not match the secret type {type_key!r}")
    return secret_type.id


def create_secret(call: Call, site: str, app: str | None = None) -> models.Secret:
    body = call.request.parse(models.SecretCreate)
    actor = call.principal.name

    def write(tx: Transaction) -> models.Secret:
        site_row, app_row = load_scope(tx, site, app)
        check_name_and_size(call, site_row, body.name, body.value)
        if tx.get_secret(site_row.id, app_row.id if app_row else None, body.name):
            raise ApiError(ErrorCode.already_exists, f"secret {body.name!r} already exists in this scope")
        limit = site_limits(call, site_row).max_secrets
        if tx.count_secrets(site_row.id) >= limit:
            raise ApiError(ErrorCode.limit_exceeded, f"site {site!r} already holds its limit of {limit} secrets", {"limit": limit})
        type_id = check_typed_value(tx, site_row, body.type, body.value)
        tx.insert_secret({
            "site_id": site_row.id, "app_id": app_row.id if app_row else None, "name": body.name,
            "type_id": type_id, "description": body.description, "version": 1,
            "ciphertext": call.state.keyring.seal_value(site_row, app, body.name, 1, body.value),
            "created_at": call.now, "updated_at": call.now, "created_by": actor, "updated_by": actor,
        })
        audit.record(tx, call.event("secret.create", site=site, target=secret_target(app, body.name),
                                    details={"version": 1, "type": body.type}))
        return secret_model(load_secret(tx, site_row, app_row, body.name), tx.services_using(site_row.id, app_row.id if app_row else None, body.name))

    return create_unique(call, write, f"secret {body.name!r}")


def update_secret(call: Call, site: str, name: str, app: str | None = None) -> models.Secret:
    body = call.request.parse(models.SecretUpdate)
    sent = body.model_fields_set

    def write(tx: Transaction) -> models.Secret:
        site_row, app_row = load_scope(tx, site, app)
        row = load_secret(tx, site_row, app_row, name)
        if body.expected_version is not None and body.expected_version != row.version:
            raise ApiError(ErrorCode.version_conflict, f"secret {name!r} is at version {row.version}, not {body.expected_version}",
                           {"current_version": row.version})
        changes = _changes(call, tx, site_row, row, body, sent)
        if changes:
            tx.update_secret(row.id, changes | {"updated_at": call.now, "updated_by": call.principal.name})
        changed = sorted(k for k in changes if k != "ciphertext")
        audit.record(tx, call.event("secret.update", site=site, target=secret_target(app, name),
                                    details={"changed": changed, "version": changes.get("version", row.version)}))
        return secret_model(load_secret(tx, site_row, app_row, name), tx.services_using(site_row.id, row.app_id, name))

    return call.store.write(write)


def _changes(call: Call, tx: Transaction, site: SiteRow, row: SecretRow, body: models.SecretUpdate, sent: set[str]) -> dict:
    """The columns an update changes; a new value is a new version, sealed under its version number."""
    changes: dict = {}
    if "description" in sent and body.description is not None:
        changes["description"] = body.description
    type_key = body.type if "type" in sent else row.type_key
    value = body.value if "value" in sent and body.value is not None else None
    check_name_and_size(call, site, None, value)
    if value is not None or type_key != row.type_key:
        current = value if value is not None else _open(call, site, row)
        type_id = check_typed_value(tx, site, type_key, current)
        if type_id != row.type_id:
            changes["type_id"] = type_id
    if value is not None:
        version = row.version + 1
        changes["version"] = version
        changes["ciphertext"] = call.state.keyring.seal_value(site, row.app, row.name, version, value)
    return changes


def _open(call: Call, site: SiteRow, row: SecretRow) -> str:
    try:
        return call.state.keyring.open_value(site, row.app, row.name, row.version, row.ciphertext)
    except IntegrityError:
        raise ApiError(ErrorCode.integrity_error, f"the stored value of {row.name!r} failed its integrity check") from None


def delete_secret(call: Call, site: str, name: str, app: str | None = None) -> None:
    def write(tx: Transaction) -> None:
        site_row, app_row = load_scope(tx, site, app)
        row = load_secret(tx, site_row, app_row, name)
        services = tx.services_using(site_row.id, row.app_id, name)
        if services:
            raise ApiError(ErrorCode.secret_in_use, f"secret {name!r} is used by {len(services)} service(s); unbind it first",
                           {"services": services})
        tx.delete_secret(row.id)
        audit.record(tx, call.event("secret.delete", site=site, target=secret_target(app, name), details={"version": row.version}))

    call.store.write(write)


def reveal_secret(call: Call, site: str, name: str, app: str | None = None) -> models.RevealedValue:
    """The value, once the reveal is durably audited; a tampered value is audited as an error."""

    def write(tx: Transaction) -> models.RevealedValue | None:
        site_row, app_row = load_scope(tx, site, app)
        row = load_secret(tx, site_row, app_row, name)
        target = secret_target(app, name)
        try:
            value = call.state.keyring.open_value(site_row, row.app, row.name, row.version, row.ciphertext)
        except IntegrityError:
            audit.record(tx, call.event("secret.reveal", site=site, target=target, outcome="error",
                                        details={"version": row.version, "error": "integrity_error"}))
            return None
        audit.record(tx, call.event("secret.reveal", site=site, target=target, details={"version": row.version}))
        return models.RevealedValue(value=value, version=row.version)

    revealed = call.store.write(write)
    if revealed is None:
        raise ApiError(ErrorCode.integrity_error, f"the stored value of {name!r} failed its integrity check")
    return revealed
