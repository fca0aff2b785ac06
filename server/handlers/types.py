"""Secret types: JSON Schema templates that typed secrets must validate against."""

from __future__ import annotations

import json

from shared import models
from shared.models import ErrorCode
from shared.wording import plural

from .. import audit, schemas, validation
from ..context import Call
from ..crypto import IntegrityError
from ..http import ApiError, not_found, validation_error
from ..store import SecretRow, SiteRow, Transaction, TypeRow
from .common import check_room, create_unique, load_site


def type_model(row: TypeRow) -> models.SecretType:
    return models.SecretType(
        key=row.key, name=row.name, schema=json.loads(row.schema), description=row.description,
        created_at=row.created_at, updated_at=row.updated_at, secret_count=row.secret_count,
    )


def load_type(tx: Transaction, site: SiteRow, key: str) -> TypeRow:
    row = tx.get_type(site.id, key)
    if row is None:
        raise not_found("secret type", key)
    return row


def check_schema(schema: dict) -> str:
    """The schema as stored text, once it is known to be a self-contained JSON Schema."""
    problems = schemas.schema_problems(schema)
    if problems:
        raise validation_error(problems, "the schema is not a valid, self-contained JSON Schema")
    return json.dumps(schema, separators=(",", ":"))


def list_types(call: Call, site: str) -> models.SecretTypeList:
    return call.store.read(lambda tx: models.SecretTypeList(items=[type_model(t) for t in tx.list_types(load_site(tx, site).id)]))


def get_type(call: Call, site: str, key: str) -> models.SecretType:
    return call.store.read(lambda tx: type_model(load_type(tx, load_site(tx, site), key)))


def create_type(call: Call, site: str) -> models.SecretType:
    body = call.request.parse(models.SecretTypeCreate)
    schema_text = check_schema(body.schema_)

    def write(tx: Transaction) -> models.SecretType:
        site_row = load_site(tx, site)
        if tx.get_type(site_row.id, body.key):
            raise ApiError(ErrorCode.already_exists, f"secret type {body.key!r} already exists")
        check_room(call, site_row, "max_types", tx.count_in_site(site_row.id, "secret_types"), "secret types")
        tx.insert_type(site_row.id, body.key, body.name, schema_text, body.description, call.now)
        audit.record(tx, call.event("type.create", site=site, target=f"type:{body.key}"))
        return type_model(load_type(tx, site_row, body.key))

    return create_unique(call, write, f"secret type {body.key!r}")


def update_type(call: Call, site: str, key: str) -> models.SecretType:
    """A type change is checked against every stored value of the type in this thread, then
    written only if neither the type nor its secrets changed meanwhile (`_Stale`: check again).
    A refused schema change is audited (outcome `error`, naming the secrets), so probing stored
    values through refusals leaves the same trail as a reveal."""
    body = call.request.parse(models.SecretTypeUpdate)
    sent = body.model_fields_set
    for _ in range(_CHECK_ATTEMPTS):
        site_row, row, secrets = call.store.read(lambda tx: _snapshot(tx, site, key))
        schema_text = _checked_schema(call, site, key, body.schema_) if body.schema_ is not None else None
        if schema_text is not None and schema_text != row.schema:
            _refuse_breaking_schema(call, site_row, row, secrets, body.schema_)
        try:
            return call.store.write(lambda tx: _apply_update(call, tx, site, key, body, sent, schema_text, row, secrets))
        except _Stale:
            continue
    raise ApiError(ErrorCode.version_conflict, f"secret type {key!r} or its secrets kept changing while being checked; try again")


_CHECK_ATTEMPTS = 3


class _Stale(Exception):
    """The type or its secrets changed between the check and the write."""


def _snapshot(tx: Transaction, site: str, key: str) -> tuple[SiteRow, TypeRow, list[SecretRow]]:
    site_row = load_site(tx, site)
    row = load_type(tx, site_row, key)
    return site_row, row, tx.secrets_of_type(row.id)


def _versions(secrets: list[SecretRow]) -> list[tuple[int, int]]:
    return [(secret.id, secret.version) for secret in secrets]


def _apply_update(call: Call, tx: Transaction, site: str, key: str, body: models.SecretTypeUpdate, sent: set[str],
                  schema_text: str | None, checked: TypeRow, secrets: list[SecretRow]) -> models.SecretType:
    site_row = load_site(tx, site)
    row = load_type(tx, site_row, key)
    changes = {field: getattr(body, field) for field in ("name", "description") if field in sent and getattr(body, field) is not None}
    if schema_text is not None and schema_text != row.schema:
        if row.schema != checked.schema or _versions(tx.secrets_of_type(row.id)) != _versions(secrets):
            raise _Stale()
        changes["schema"] = schema_text
    if changes:
        tx.update_type(row.id, changes | {"updated_at": call.now})
    audit.record(tx, call.event("type.update", site=site, target=f"type:{key}", details={"changed": sorted(changes)}))
    return type_model(load_type(tx, site_row, key))


def _audit_refusal(call: Call, site: str, key: str, error: ApiError, secrets: list[dict] | None = None) -> ApiError:
    """Write the refused change's audit event (outcome `error`), then hand back the refusal."""
    details: dict = {"error": error.code.value}
    if secrets is not None:
        details["secrets"] = secrets
    event = call.event("type.update", site=site, target=f"type:{key}", outcome="error", details=details)
    call.store.write(lambda tx: audit.record(tx, event))
    return error


def _checked_schema(call: Call, site: str, key: str, schema: dict) -> str:
    try:
        return check_schema(schema)
    except ApiError as error:
        raise _audit_refusal(call, site, key, error) from None


def _refuse_breaking_schema(call: Call, site: SiteRow, row: TypeRow, secrets: list[SecretRow], schema: dict) -> None:
    """409 `type_conflict` naming every secret of this type that the new schema would reject, or
    422 when they cannot all be checked within one shared bound; either way audited first."""
    broken, budget = [], validation.Budget()
    try:
        for secret in secrets:
            if _breaks(call, site, secret, schema, budget):
                broken.append({"name": secret.name, "app": secret.app})
    except validation.Unbounded as bound:
        checked = [{"name": s.name, "app": s.app} for s in secrets]
        raise _audit_refusal(call, site.name, row.key, validation_error(
            [{"path": "/schema", "message": f"{bound}; {schemas.UNBOUNDED_HINT}"}],
            "the stored values could not be checked against the new schema within the bound"), checked) from None
    if broken:
        raise _audit_refusal(call, site.name, row.key, ApiError(
            ErrorCode.type_conflict, f"{plural(len(broken), 'secret')} of type {row.key!r} would not validate against the new schema",
            {"secrets": broken}), broken)


def _breaks(call: Call, site: SiteRow, secret: SecretRow, schema: dict, budget: validation.Budget) -> bool:
    try:
        value = call.state.keyring.open_value(site, secret.app, secret.name, secret.version, secret.ciphertext)
    except IntegrityError:
        return True
    return bool(schemas.value_problems(schema, value, budget))


def delete_type(call: Call, site: str, key: str) -> None:
    def write(tx: Transaction) -> None:
        site_row = load_site(tx, site)
        row = load_type(tx, site_row, key)
        users = [{"name": s.name, "app": s.app} for s in tx.secrets_of_type(row.id)]
        if users:
            raise ApiError(ErrorCode.type_in_use, f"{plural(len(users), 'secret')} {'uses' if len(users) == 1 else 'use'} type {key!r}", {"secrets": users})
        tx.delete_type(row.id)
        audit.record(tx, call.event("type.delete", site=site, target=f"type:{key}"))

    call.store.write(write)
