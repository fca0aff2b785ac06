"""A secret's kept versions: list them, and roll back to one (a reveal of one is in `secrets.py`).

A rollback is an update whose value is an older version's: a new version (so services bound to
the secret are flagged for restart), `expected_version` honoured, the value validated against the
secret's current type outside the writer as any typed value is (`secrets.write_checked`), and held
to the site's value size limit as it stands now (an operator may have lowered it since). The
older version's type is history only: a rollback keeps the secret's type.
"""

from __future__ import annotations

from shared import models
from shared.models import ErrorCode

from .. import audit
from ..audit import secret_target
from ..context import Call
from ..http import ApiError
from ..store import SecretRow, SiteRow, Transaction
from ..store.base import VersionRow
from .common import load_scope
from .secrets import (Checked, Stale, audited_if_refused, check_name_and_size, checked_against, load_secret, read_type, secret_model,
                      still_current, write_checked)
from .values import is_current_value, new_value_changes, open_kept, record_changes


def version_model(row: SecretRow, version: VersionRow) -> models.SecretVersion:
    return models.SecretVersion(version=version.version, created_at=version.created_at, created_by=version.created_by,
                                type=version.type_key, current=version.version == row.version, fingerprint=version.fingerprint)


def list_versions(call: Call, site: str, name: str, app: str | None = None) -> models.SecretVersionList:
    def read(tx: Transaction) -> models.SecretVersionList:
        site_row, app_row = load_scope(tx, site, app)
        row = load_secret(tx, site_row, app_row, name)
        return models.SecretVersionList(items=[version_model(row, v) for v in tx.list_versions(row.id)])

    return call.store.read(read)


def load_version(tx: Transaction, row: SecretRow, version: int) -> VersionRow:
    # a version past the current one was never made, and one past 2**63 SQLite cannot even bind
    kept = tx.get_version(row.id, version) if version <= row.version else None
    if kept is None:
        raise ApiError(ErrorCode.not_found, f"secret {row.name!r} keeps no version {version}", {"version": version})
    return kept


def rollback_secret(call: Call, site: str, name: str, app: str | None = None) -> models.Secret:
    body = call.request.parse(models.Rollback)
    opened: dict[str, tuple[bytes, str]] = {}  # what `check` opened: the kept ciphertext and its value

    def check() -> Checked:
        def read(tx: Transaction) -> tuple[SiteRow, SecretRow, VersionRow, object]:
            site_row, app_row = load_scope(tx, site, app)
            row = load_secret(tx, site_row, app_row, name)
            kept = load_version(tx, row, body.version)
            return site_row, row, kept, (read_type(tx, site_row, row.type_key) if row.type_key else None)

        site_row, row, kept, type_row = call.store.read(read)
        value = open_kept(call, site_row, row, kept)
        opened["value"] = (kept.ciphertext, value)

        def checked() -> Checked:
            check_name_and_size(call, site_row, None, value)  # a new version as any update's: within today's limit
            return checked_against(type_row, value)  # type: ignore[arg-type]

        return audited_if_refused(call, site, secret_target(app, name), checked)

    def write(tx: Transaction, checked: Checked) -> models.Secret:
        site_row, app_row = load_scope(tx, site, app)
        row = load_secret(tx, site_row, app_row, name)
        if body.expected_version is not None and body.expected_version != row.version:
            raise ApiError(ErrorCode.version_conflict, f"secret {name!r} is at version {row.version}, not {body.expected_version}",
                           {"current_version": row.version})
        kept = load_version(tx, row, body.version)
        ciphertext, value = opened["value"]
        if kept.ciphertext != ciphertext:
            raise Stale()
        check_name_and_size(call, site_row, None, value)
        still_current(tx, site_row, checked, row.type_key)
        changes = {} if is_current_value(call, site_row, row, value) else new_value_changes(call, site_row, row, value)
        if changes:
            tx.update_secret(row.id, changes | {"updated_at": call.now, "updated_by": call.principal.name})
            record_changes(call, tx, site_row, row, changes, row.type_key)
        audit.record(tx, call.event("secret.rollback", site=site, target=secret_target(app, name),
                                    details={"from_version": body.version, "version": changes.get("version", row.version)}))
        return secret_model(load_secret(tx, site_row, app_row, name), tx.services_using(site_row.id, row.app_id, name))

    return write_checked(call, check, write)
