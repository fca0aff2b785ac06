"""The audit actions a server records (docs/API.md, "Audit"): what the audit log's `action`
filter can match, so a client offers a choice instead of asking for an exact string.

An action is `<object>.<verb>`. Every route's action (also what a refused attempt of the route is
recorded as) is here, with the events no route records (a rate-limited address, the server's own
commands). tests/server/test_audit_actions.py holds the list and the server to each other. Also
the one spelling of a secret's audit target, which a client filters on.
"""

from __future__ import annotations

AUDIT_ACTIONS: tuple[str, ...] = (
    "app.create", "app.delete", "app.get", "app.list", "app.update",
    "audit.read", "audit.retention",
    "auth.rate_limited",
    "master_key.rotate",
    "secret.create", "secret.delete", "secret.get", "secret.list", "secret.purge", "secret.restore",
    "secret.reveal", "secret.rollback", "secret.update", "secret.versions",
    "service.create", "service.delete", "service.env", "service.get", "service.list", "service.load",
    "service.update",
    "site.create", "site.delete", "site.get", "site.list", "site.update",
    "token.create", "token.delete", "token.list", "token.whoami",
    "trash.list",
    "type.create", "type.delete", "type.get", "type.list", "type.update",
)
"""Every action, sorted."""


def action_groups() -> list[str]:
    """The objects the actions act on (`secret`, `service`, ...), sorted: the `action` filter's
    prefixes, `secret.*` matching every action on secrets."""
    return sorted({action.split(".", 1)[0] for action in AUDIT_ACTIONS})


def secret_target(app: str | None, name: str) -> str:
    """The audit target of a secret: `secret:site/NAME`, or `secret:app/APP/NAME`."""
    return f"secret:app/{app}/{name}" if app else f"secret:site/{name}"
