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
    defaults to the current time in UTC. Whole days are counted down: 47 hours left is "due in 1 d".
    """
    due = getattr(secret, "rotation_due_at", None)
    if due is None:
        return None
    if secret.rotation_overdue:
        return OVERDUE
    left = due - (now or datetime.now(timezone.utc))
    if left.total_seconds() <= 0:  # the server's answer is a moment old
        return OVERDUE
    return "due today" if left.days == 0 else f"due in {left.days} d"
