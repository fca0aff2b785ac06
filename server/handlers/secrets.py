"""Secrets at site or app scope: list, create, read metadata, update, delete, reveal.

Values are sealed before they reach the store and opened only for a reveal (or an environment
fetch, in `services.py`); no response model but `RevealedValue` has a field that could hold one.
A typed value is validated in the request's thread before its write is queued (`write_checked`):
the store's single writer never spends a validation's time, and a replayed group never repeats one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, TypeVar

from shared import models
from shared.limits import value_problem, value_size
from shared.models import ErrorCode

from .. import audit, schemas, validation
from ..audit import secret_target
from ..context import Call, utc_now
from ..crypto import IntegrityError
from ..http import ApiError, not_found, validation_error
from ..mergepatch import merge_patch
from ..store import AppRow, SecretRow, SiteRow, Transaction, TypeRow
from ..store.base import VersionRow
from .common import check_room, create_unique, load_scope, site_limits
from .values import is_current_value, keep_version, new_value_changes, record_changes, sealed

T = TypeVar("T")


def secret_model(row: SecretRow, used_by: list[str]) -> models.Secret:
    due = rotation_due_at(row)
    return models.Secret(
        name=row.name, app=row.app, type=row.type_key, description=row.description, version=row.version,
        created_at=row.created_at, updated_at=row.updated_at, created_by=row.created_by,
        updated_by=row.updated_by, used_by=used_by, last_used_at=row.last_used_at, fingerprint=row.fingerprint,
        rotate_every_days=row.rotate_every_days, rotation_due_at=due, rotation_overdue=due is not None and due <= utc_now(),
    )


def rotation_due_at(row: SecretRow) -> str | None:
    """When the secret's value falls due for rotation: when it was set plus the period, or None
    without a policy. Stored times sort as the moments they name, so callers compare strings."""
    if row.rotate_every_days is None:
        return None
    since = datetime.strptime(row.value_updated_at or row.updated_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return (since + timedelta(days=row.rotate_every_days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def due_within_days(call: Call) -> int | None:
    """`?due_within_days=N` of a listing: 0..3650, or None when absent."""
    text = call.request.query.get("due_within_days")
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or int(text) > models.MAX_DUE_WITHIN_DAYS:
        raise validation_error([{"path": "/due_within_days", "message": f"must be a whole number of days, 0 to {models.MAX_DUE_WITHIN_DAYS}"}])
    return int(text)


def falls_due_by(row: SecretRow, horizon: str) -> bool:
    due = rotation_due_at(row)
    return due is not None and due <= horizon


def load_secret(tx: Transaction, site: SiteRow, app: AppRow | None, name: str) -> SecretRow:
    row = tx.get_secret(site.id, app.id if app else None, name)
    if row is None:
        raise not_found("secret", name)
    return row


def list_secrets(call: Call, site: str, app: str | None = None) -> models.SecretList:
    scope = call.request.query.get("scope", "site")
    if app is not None and "scope" in call.request.query:  # `all` must not quietly list the app's own alone
        raise validation_error([{"path": "/scope", "message": "an app's list takes no scope: it lists the app's secrets"}])
    if scope not in ("site", "all"):  # a typo must not quietly list only the site level
        raise validation_error([{"path": "/scope", "message": "scope must be 'site' or 'all'"}])
    all_scopes = scope == "all"
    within = due_within_days(call)

    def read(tx: Transaction) -> models.SecretList:
        site_row, app_row = load_scope(tx, site, app)
        usage = tx.usage_by_secret(site_row.id)
        rows = tx.list_secrets(site_row.id, app_row.id if app_row else None, all_scopes)
        if within is not None:  # 0 days: only those already due
            horizon = utc_now(within * 86400)
            rows = [r for r in rows if falls_due_by(r, horizon)]
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


@dataclass(frozen=True)
class Checked:
    """What a value was validated against, outside the write: the type (key, id, schema text as
    read) and, when the stored value was the one checked, its version. The write proceeds only
    if all of it is unchanged (`Stale` otherwise), so validation never runs on the writer."""

    type_key: str | None = None
    type_id: int | None = None
    schema: str | None = None
    stored_version: int | None = None
    patched: str | None = None
    """A `value_patch` update's new value: the value at `stored_version` with the patch applied."""


class Stale(Exception):
    """The secret's type or value changed between the check and the write: check again."""


_CHECK_ATTEMPTS = 3


def write_checked(call: Call, check: Callable[[], Checked], write: Callable[[Transaction, Checked], T],
                  run: Callable[[Callable[[Transaction], T]], T] | None = None) -> T:
    """Validate in this thread (`check`), then `write` conditioned on what was checked."""
    run = run or call.store.write
    for _ in range(_CHECK_ATTEMPTS):
        checked = check()
        try:
            return run(lambda tx: write(tx, checked))
        except Stale:
            continue
    raise ApiError(ErrorCode.version_conflict, "the secret or its type kept changing while the value was being checked; try again")


def audited_if_refused(call: Call, site: str, target: str, check: Callable[[], Checked]) -> Checked:
    """`check()` of a value made from a stored one (the stored value under a new type, or patched; a
    kept version rolled back to). Its refusal describes that stored value, so, as a refused type
    change (`types._refuse_breaking_schema`), it is audited first: outcome `error`, never a value."""
    try:
        return check()
    except ApiError as error:
        if error.code in (ErrorCode.validation_error, ErrorCode.value_too_large):
            event = call.event(call.route.action, site=site, target=target, outcome="error", details={"error": error.code.value})
            call.store.write(lambda tx: audit.record(tx, event))
        raise


def validate_typed_value(type_row: TypeRow, value: str) -> None:
    """422 unless `value` validates against `type_row`'s schema within the bound. Runs in the request thread."""
    try:
        problems = schemas.value_problems(json.loads(type_row.schema), value)
    except validation.Unbounded as error:
        raise validation_error([{"path": "", "message": f"{error}; {schemas.UNBOUNDED_HINT}"}],
                               "the value could not be checked against its type's schema within the bound") from None
    if problems:
        raise validation_error(problems, f"the value does not match the secret type {type_row.key!r}")


def read_type(tx: Transaction, site: SiteRow, type_key: str) -> TypeRow:
    secret_type = tx.get_type(site.id, type_key)
    if secret_type is None:
        raise validation_error([{"path": "/type", "message": f"no secret type {type_key!r} in this site"}])
    return secret_type


def checked_against(type_row: TypeRow | None, value: str | None, stored_version: int | None = None, *,
                    patched: bool = False) -> Checked:
    if type_row is None:
        return Checked(stored_version=stored_version)
    validate_typed_value(type_row, value or "")
    return Checked(type_row.key, type_row.id, type_row.schema, stored_version, value if patched else None)


def still_current(tx: Transaction, site: SiteRow, checked: Checked, type_key: str | None) -> int | None:
    """Inside the write: the id of the type `type_key`, if it is the one the value was checked against."""
    if type_key != checked.type_key:
        raise Stale()
    if type_key is None:
        return None
    row = tx.get_type(site.id, type_key)
    if row is None or row.id != checked.type_id or row.schema != checked.schema:
        raise Stale()
    return row.id


def create_secret(call: Call, site: str, app: str | None = None) -> models.Secret:
    body = call.request.parse(models.SecretCreate)
    actor = call.principal.name

    def check() -> Checked:
        if body.type is None:
            return Checked()

        def read(tx: Transaction) -> TypeRow:
            site_row, _ = load_scope(tx, site, app)
            check_name_and_size(call, site_row, body.name, body.value)  # never validate past the size limit
            return read_type(tx, site_row, body.type)

        return checked_against(call.store.read(read), body.value)

    def write(tx: Transaction, checked: Checked) -> models.Secret:
        site_row, app_row = load_scope(tx, site, app)
        check_name_and_size(call, site_row, body.name, body.value)
        if tx.get_secret(site_row.id, app_row.id if app_row else None, body.name):
            raise ApiError(ErrorCode.already_exists, f"secret {body.name!r} already exists in this scope")
        check_room(call, site_row, "max_secrets", tx.count_in_site(site_row.id, "secrets"), "secrets")
        if body.type is not None and tx.get_type(site_row.id, body.type) is None:
            raise validation_error([{"path": "/type", "message": f"no secret type {body.type!r} in this site"}])
        type_id = still_current(tx, site_row, checked, body.type)
        ciphertext, fingerprint = sealed(call, site_row, app, body.name, 1, body.value)
        secret_id = tx.insert_secret({
            "site_id": site_row.id, "app_id": app_row.id if app_row else None, "name": body.name,
            "type_id": type_id, "description": body.description, "version": 1, "ciphertext": ciphertext,
            "fingerprint": fingerprint, "created_at": call.now, "updated_at": call.now, "created_by": actor, "updated_by": actor,
            "rotate_every_days": body.rotate_every_days,
        })
        keep_version(call, tx, site_row, secret_id, VersionRow(1, ciphertext, fingerprint, body.type, call.now, actor))
        audit.record(tx, call.event("secret.create", site=site, target=secret_target(app, body.name),
                                    details={"version": 1, "type": body.type}))
        return secret_model(load_secret(tx, site_row, app_row, body.name), tx.services_using(site_row.id, app_row.id if app_row else None, body.name))

    return write_checked(call, check, write, lambda fn: create_unique(call, fn, f"secret {body.name!r}"))


def update_secret(call: Call, site: str, name: str, app: str | None = None) -> models.Secret:
    body = call.request.parse(models.SecretUpdate)
    sent = body.model_fields_set
    value = body.value if "value" in sent and body.value is not None else None
    patch = body.value_patch if "value_patch" in sent else None

    def check() -> Checked:
        if value is None and patch is None and "type" not in sent:
            return Checked()  # nothing to validate: the write checks nothing either
        site_row, row, type_row = call.store.read(lambda tx: _read_for_check(call, tx, site, app, name, body, sent, value))
        target = secret_target(app, name)
        if patch is not None:  # the value is the stored one patched: conditioned on that stored version
            return audited_if_refused(call, site, target, lambda: checked_against(
                type_row, patched_value(call, site_row, row, type_row, patch), row.version, patched=True))
        if value is None and type_row is None:
            return Checked(stored_version=row.version)
        if value is None:  # a new type for the stored value: check that value, and that it stays the same
            return audited_if_refused(call, site, target, lambda: checked_against(type_row, _open(call, site_row, row), row.version))
        return checked_against(type_row, value)

    def write(tx: Transaction, checked: Checked) -> models.Secret:
        site_row, app_row = load_scope(tx, site, app)
        row = load_secret(tx, site_row, app_row, name)
        if body.expected_version is not None and body.expected_version != row.version:
            raise ApiError(ErrorCode.version_conflict, f"secret {name!r} is at version {row.version}, not {body.expected_version}",
                           {"current_version": row.version})
        changes = _changes(call, tx, site_row, row, body, sent, checked)
        if changes:
            tx.update_secret(row.id, changes | {"updated_at": call.now, "updated_by": call.principal.name})
        record_changes(call, tx, site_row, row, changes, body.type if "type" in sent else row.type_key)
        changed = sorted(k for k in changes if k not in ("ciphertext", "fingerprint"))
        details = {"changed": changed, "version": changes.get("version", row.version)}
        if patch is not None:
            details["patched"] = True
        audit.record(tx, call.event("secret.update", site=site, target=secret_target(app, name), details=details))
        return secret_model(load_secret(tx, site_row, app_row, name), tx.services_using(site_row.id, row.app_id, name))

    return write_checked(call, check, write)


def patched_value(call: Call, site: SiteRow, row: SecretRow, type_row: TypeRow | None, patch: dict) -> str:
    """The stored value with the merge patch applied, as JSON text; 422 unless the secret is typed
    and its value a JSON object. Runs in the request thread, like validation."""
    if type_row is None:
        raise validation_error([{"path": "/value_patch", "message": "only a typed secret's value can be patched"}])
    stored = _open(call, site, row)
    try:
        current = validation.parse(stored)
    except (ValueError, RecursionError):
        current = None
    if not isinstance(current, dict):
        raise validation_error([{"path": "/value_patch", "message": "only a value that is a JSON object can be patched; send value instead"}])
    text = _compact(merge_patch(current, patch))
    if text == _compact(current):
        return stored  # the patch changes nothing: keep the stored text, however it is spaced, so no version is made
    check_name_and_size(call, site, None, text)
    problem = value_problem(text)
    if problem:
        raise validation_error([{"path": "/value_patch", "message": problem}])
    return text


def _compact(document: object) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _read_for_check(call: Call, tx: Transaction, site: str, app: str | None, name: str, body: models.SecretUpdate,
                    sent: set[str], value: str | None) -> tuple[SiteRow, SecretRow, TypeRow | None]:
    """What validating an update needs, read in one snapshot: the site, the secret, its (new) type."""
    site_row, app_row = load_scope(tx, site, app)
    row = load_secret(tx, site_row, app_row, name)
    check_name_and_size(call, site_row, None, value)
    type_key = body.type if "type" in sent else row.type_key
    return site_row, row, (read_type(tx, site_row, type_key) if type_key is not None else None)


def _changes(call: Call, tx: Transaction, site: SiteRow, row: SecretRow, body: models.SecretUpdate, sent: set[str],
             checked: Checked) -> dict:
    """The columns an update changes; a new value is a new version, sealed under its version number.
    A value equal to the current one changes nothing (no version, so no service is flagged):
    re-importing an unchanged export must leave everything as it was."""
    changes: dict = {}
    if "description" in sent and body.description is not None:
        changes["description"] = body.description
    if "rotate_every_days" in sent and body.rotate_every_days != row.rotate_every_days:
        changes["rotate_every_days"] = body.rotate_every_days  # null removes the policy
    type_key = body.type if "type" in sent else row.type_key
    value = body.value if "value" in sent and body.value is not None else None
    if checked.patched is not None:
        if checked.stored_version != row.version:
            raise Stale()  # the value was patched as it stood at another version: patch the current one
        value = checked.patched
    check_name_and_size(call, site, None, value)
    if value is not None or type_key != row.type_key:
        if value is None and checked.stored_version != row.version:
            raise Stale()  # the stored value checked against the new type is no longer the stored value
        if type_key is not None and tx.get_type(site.id, type_key) is None:
            raise validation_error([{"path": "/type", "message": f"no secret type {type_key!r} in this site"}])
        type_id = still_current(tx, site, checked, type_key)
        if type_id != row.type_id:
            changes["type_id"] = type_id
    if value is not None and not is_current_value(call, site, row, value):
        changes |= new_value_changes(call, site, row, value)
    return changes


def _open(call: Call, site: SiteRow, row: SecretRow) -> str:
    try:
        return call.state.keyring.open_value(site, row.app, row.name, row.version, row.ciphertext)
    except IntegrityError:
        raise ApiError(ErrorCode.integrity_error, f"the stored value of {row.name!r} failed its integrity check") from None


def reveal_secret(call: Call, site: str, name: str, app: str | None = None) -> models.RevealedValue:
    """The value (of the version the optional body names, else the current one), once the reveal is
    durably audited with its version; a tampered value is audited as an error. A version no longer
    kept (never made, or wiped as it fell off) is 404."""
    body = call.request.parse_optional(models.RevealRequest)
    wanted = body.version if body is not None else None

    def write(tx: Transaction) -> models.RevealedValue | None:
        site_row, app_row = load_scope(tx, site, app)
        row = load_secret(tx, site_row, app_row, name)
        version, ciphertext = row.version, row.ciphertext
        if wanted is not None and wanted != row.version:
            kept = tx.get_version(row.id, wanted) if wanted < row.version else None  # past the current one: never made (and SQLite cannot bind one past 2**63)
            if kept is None:
                raise ApiError(ErrorCode.not_found, f"secret {name!r} keeps no version {wanted}", {"version": wanted})
            version, ciphertext = kept.version, kept.ciphertext
        target = secret_target(app, name)
        try:
            value = call.state.keyring.open_value(site_row, row.app, row.name, version, ciphertext)
        except IntegrityError:
            audit.record(tx, call.event("secret.reveal", site=site, target=target, outcome="error",
                                        details={"version": version, "error": "integrity_error"}))
            return None
        audit.record(tx, call.event("secret.reveal", site=site, target=target, details={"version": version}))
        return models.RevealedValue(value=value, version=version)

    revealed = call.store.write(write)
    if revealed is None:
        raise ApiError(ErrorCode.integrity_error, f"the stored value of {name!r} failed its integrity check")
    return revealed
