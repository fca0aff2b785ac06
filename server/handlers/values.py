"""A secret's values as the handlers store them: sealed with their fingerprint, kept as versions
(the newest `max_versions` of them), opened again, and compared without a new version.

A value change is a new version: `store_value` seals it under its version number, records it
among the kept versions and wipes the ones that fall off, in the caller's transaction.
"""

from __future__ import annotations

import hmac

from shared.models import ErrorCode

from ..context import Call
from ..crypto import IntegrityError
from ..http import ApiError
from ..store import SecretRow, SiteRow, Transaction
from ..store.base import VersionRow
from .common import site_limits


def sealed(call: Call, site: SiteRow, app: str | None, name: str, version: int, value: str) -> tuple[bytes, str]:
    """(ciphertext, fingerprint) of `value` as version `version` of the secret."""
    keyring = call.state.keyring
    return keyring.seal_value(site, app, name, version, value), keyring.fingerprint(site, value)


def keep_version(call: Call, tx: Transaction, site: SiteRow, secret_id: int, row: VersionRow) -> None:
    """Record `row` as the secret's newest version and wipe those past the site's `max_versions`."""
    tx.insert_version(secret_id, row)
    tx.trim_versions(secret_id, site_limits(call, site).max_versions)


def new_value_changes(call: Call, site: SiteRow, row: SecretRow, value: str) -> dict:
    """The `secrets` columns a new value sets: the next version, sealed, with its fingerprint."""
    version = row.version + 1
    ciphertext, fingerprint = sealed(call, site, row.app, row.name, version, value)
    return {"version": version, "ciphertext": ciphertext, "fingerprint": fingerprint}


def record_changes(call: Call, tx: Transaction, site: SiteRow, row: SecretRow, changes: dict, type_key: str | None) -> None:
    """Keep the version a value change made (see `new_value_changes`); a type change alone
    relabels the current version, so the history says which type each value had."""
    if "version" in changes:
        keep_version(call, tx, site, row.id, VersionRow(changes["version"], changes["ciphertext"], changes["fingerprint"],
                                                        type_key, call.now, call.principal.name))
    elif type_key != row.type_key:
        tx.set_version_type(row.id, row.version, type_key)


def is_current_value(call: Call, site: SiteRow, row: SecretRow, value: str) -> bool:
    """Whether `value` is the secret's current value. The fingerprints decide when they differ;
    when they match, the value is opened and compared, so that not even a collision of 64 bits
    could lose a write."""
    if row.fingerprint is not None and not hmac.compare_digest(row.fingerprint, call.state.keyring.fingerprint(site, value)):
        return False
    try:
        current = call.state.keyring.open_value(site, row.app, row.name, row.version, row.ciphertext)
    except IntegrityError:
        return False  # a damaged value is replaced, never kept as if it were the new one
    return hmac.compare_digest(current.encode("utf-8"), value.encode("utf-8"))


def open_kept(call: Call, site: SiteRow, row: SecretRow, version: VersionRow) -> str:
    """The value of one kept version of `row`; 500 `integrity_error` if it was tampered with."""
    try:
        return call.state.keyring.open_value(site, row.app, row.name, version.version, version.ciphertext)
    except IntegrityError:
        raise ApiError(ErrorCode.integrity_error, f"version {version.version} of {row.name!r} failed its integrity check") from None
