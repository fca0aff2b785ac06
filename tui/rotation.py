"""How a secret's rotation policy reads to a person: "due in 3 d", "due today", "OVERDUE".

Pure functions over `shared.models.Secret`, without Textual, for the command line and the TUI.
The server decides what is due (`rotation_due_at`, `rotation_overdue`); this only words it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

OVERDUE = "OVERDUE"


def rotation_label(secret: Any, now: datetime | None = None) -> str | None:
    """"OVERDUE", "due today", "due in N d", or None for a secret without a rotation policy.

    `secret` has `rotation_due_at` (an aware datetime or None) and `rotation_overdue`; `now`
    defaults to the current time. Days are calendar days in UTC, so a 30-day policy set a moment
    ago reads "due in 30 d", and one due at 23:00 reads "due today" all that day.
    """
    due = getattr(secret, "rotation_due_at", None)
    if due is None:
        return None
    now = now or datetime.now(timezone.utc)
    if secret.rotation_overdue or due <= now:  # the server's answer may be a moment old
        return OVERDUE
    days = (due.astimezone(timezone.utc).date() - now.astimezone(timezone.utc).date()).days
    return "due today" if days == 0 else f"due in {days} d"
