"""After a value changed (a save or a rollback): name the services that now need a restart."""

from __future__ import annotations

from shared.models import Secret
from tui.display import safe_str


def restart_notice(secret: Secret) -> str | None:
    """The notice for a new value of `secret`, or None when no service uses it."""
    if not secret.used_by:
        return None
    names = ", ".join(safe_str(name) for name in secret.used_by)
    return f"Restart {names}: {'it runs' if len(secret.used_by) == 1 else 'they run'} the old value of " \
           f"{safe_str(secret.name)} until then."


def say_restart(app, secret: Secret) -> None:
    """Notify the services `secret`'s new value needs restarted, if any (never as markup)."""
    notice = restart_notice(secret)
    if notice:
        app.notify(notice, title="Restart needed", severity="warning", markup=False, timeout=10)
