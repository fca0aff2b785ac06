"""Audit events: built from the call that causes them and written in the caller's transaction.

An event holds who, what, where and the outcome; `details` carries names and counts, never a
value. `record` raises `audit_unavailable` when the row cannot be written, which rolls back the
change it describes: no change and no reveal happens unaudited.
"""

from __future__ import annotations


from shared.audit_actions import secret_target  # noqa: F401  (the handlers import it from here)
from shared.models import ErrorCode

from .http import ApiError
from .store import AuditRecord, StorageFull, Transaction


def record(tx: Transaction, event: AuditRecord) -> None:
    try:
        tx.insert_audit(event)
    except StorageFull:
        raise
    except Exception:
        raise ApiError(ErrorCode.audit_unavailable, "the audit log cannot be written, so nothing was changed") from None
