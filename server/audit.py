"""Audit events: built from the call that causes them and written in the caller's transaction.

An event holds who, what, where and the outcome; `details` carries names and counts, never a
value. `record` raises `audit_unavailable` when the row cannot be written, which rolls back the
change it describes: no change and no reveal happens unaudited.
"""

from __future__ import annotations


from shared.audit_actions import secret_target  # the handlers import it from here too
from shared.models import ErrorCode

from .http import ApiError, without_tokens
from .store import AuditRecord, StorageFull, Transaction


_PATH_TARGETS = {"app": ("app", "app:{}"), "type": ("key", "type:{}"), "service": ("name", "service:{}"),
                 "site": ("site", "site:{}"), "token": ("id", "token:{}")}


def path_target(action: str, params: dict[str, str]) -> str | None:
    """The target the route's own event names, from its path alone: what a refused attempt is
    recorded against, so filtering the log on a secret shows who tried to read it too. None for a
    create or a list, whose names are in a body a refused request never has read."""
    kind = action.split(".", 1)[0]
    if kind == "secret":
        return secret_target(params.get("app"), without_tokens(params["name"])) if "name" in params else None
    if kind not in _PATH_TARGETS:
        return None
    parameter, form = _PATH_TARGETS[kind]
    return form.format(without_tokens(params[parameter])) if parameter in params else None


def record(tx: Transaction, event: AuditRecord, *, site_gone: bool = False) -> None:
    """Write `event` in `tx` (`site_gone`: see `Transaction.insert_audit`)."""
    try:
        tx.insert_audit(event, site_gone=site_gone)
    except StorageFull:
        raise
    except Exception:
        raise ApiError(ErrorCode.audit_unavailable, "the audit log cannot be written, so nothing was changed") from None
