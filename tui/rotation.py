"""The rotation policy as the TUI shows it, without Textual: how long until a secret falls due,
the short marker of the Secrets table ("due in 3 d", "OVERDUE"), and the due filter.

The filter reads `rotation_due_at` of secrets already loaded, by the rule of the server's
`?due_within_days=N` (due at or before now plus N days), so the table needs no second request.
`now` is one function so that tests can freeze the clock the markers read.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from shared.models import Secret

MAX_ROTATION_DAYS = 3650
"""The longest period the API takes (`RotationDays`)."""

DUE_SOON_DAYS = 30
"""What the Secrets tab's due filter shows: secrets due within this many days (overdue included)."""


def now() -> datetime:
    return datetime.now(timezone.utc)


def days_left(secret: Secret, at: datetime | None = None) -> int | None:
    """Whole days until `secret` falls due, rounded up (0: due today, negative: overdue), or None
    without a policy."""
    due = secret.rotation_due_at
    if due is None:
        return None
    seconds = (due - (at or now())).total_seconds()
    return math.ceil(seconds / 86400)


def overdue(secret: Secret, at: datetime | None = None) -> bool:
    due = secret.rotation_due_at
    return due is not None and due <= (at or now())


def rotation_label(secret: Secret, at: datetime | None = None) -> str:
    """The table's marker: `OVERDUE`, `due today`, `due in 3 d`, or `-` without a policy."""
    if secret.rotation_due_at is None:
        return "-"
    if overdue(secret, at):
        return "OVERDUE"
    left = days_left(secret, at)
    return "due today" if left is not None and left <= 0 else f"due in {left} d"


def due_within(secret: Secret, days: int, at: datetime | None = None) -> bool:
    """True when `secret` falls due within `days` days (overdue ones too): the server's rule."""
    due = secret.rotation_due_at
    return due is not None and due <= (at or now()) + timedelta(days=days)


def rotation_days_problem(text: str) -> str:
    """What is wrong with a typed rotation period ("" for none, or a blank period: no policy)."""
    if not text:
        return ""
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_ROTATION_DAYS:
        return f"a whole number of days, 1 to {MAX_ROTATION_DAYS}, or blank for no policy"
    return ""
