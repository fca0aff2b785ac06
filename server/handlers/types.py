"""Secret types: JSON Schema templates that typed secrets must validate against."""

from __future__ import annotations

import json

from shared import models
from shared.models import ErrorCode

from .. import audit, schemas
from ..app import Call
from ..crypto import IntegrityError
from ..http import ApiError, not_found, validation_error
from ..store import SiteRow, Transaction, TypeRow
from .common import create_unique, load_site


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
        tx.insert_type(site_row.id, body.key, body.name, schema_text, body.description, call.now)
        audit.record(tx, call.event("type.create", site=site, target=f"type:{body.key}"))
        return type_model(load_type(tx, site_row, body.key))

    return create_unique(call, write, f"secret type {body.key!r}")


def update_type(call: Call, site: str, key: str) -> models.SecretType:
    body = call.request.parse(models.SecretTypeUpdate)
    sent = body.model_fields_set
    schema_text = check_schema(body.schema_) if body.schema_ is not None else None

    def write(tx: Transaction) -> models.SecretType:
        site_row = load_site(tx, site)
        row = load_type(tx, site_row, key)
        changes = {field: getattr(body, field) for field in ("name", "description") if field in sent and getattr(body, field) is not None}
        if schema_text is not None and schema_text != row.schema:
            _refuse_breaking_schema(call, tx, site_row, row, body.schema_)
            changes["schema"] = schema_text
        if changes:
            tx.update_type(row.id, changes | {"updated_at": call.now})
        audit.record(tx, call.event("type.update", site=site, target=f"type:{key}", details={"changed": sorted(changes)}))
        return type_model(load_type(tx, site_row, key))

    return call.store.write(write)


def _refuse_breaking_schema(call: Call, tx: Transaction, site: SiteRow, row: TypeRow, schema: dict) -> None:
    """409 `type_conflict` naming every secret of this type that the new schema would reject."""
    broken = []
    for secret in tx.secrets_of_type(row.id):
        try:
            value = call.state.keyring.open_value(site, secret.app, secret.name, secret.version, secret.ciphertext)
        except IntegrityError:
            broken.append({"name": secret.name, "app": secret.app})
            continue
        if schemas.value_problems(schema, value):
            broken.append({"name": secret.name, "app": secret.app})
    if broken:
        raise ApiError(ErrorCode.type_conflict, f"{len(broken)} secret(s) of type {row.key!r} would not validate against the new schema",
                       {"secrets": broken})


def delete_type(call: Call, site: str, key: str) -> None:
    def write(tx: Transaction) -> None:
        site_row = load_site(tx, site)
        row = load_type(tx, site_row, key)
        users = [{"name": s.name, "app": s.app} for s in tx.secrets_of_type(row.id)]
        if users:
            raise ApiError(ErrorCode.type_in_use, f"{len(users)} secret(s) use type {key!r}", {"secrets": users})
        tx.delete_type(row.id)
        audit.record(tx, call.event("type.delete", site=site, target=f"type:{key}"))

    call.store.write(write)
