"""A secret's rotation policy as people read it, without Textual, for the command line and the TUI:
the marker ("due in 3 d", "due today", "OVERDUE"), the due filter, and the check of a typed period.

The server decides what is due (`rotation_due_at`, `rotation_overdue`); this only words it. The
filter reads `rotation_due_at` of secrets already loaded, by the rule of the server's
`?due_within_days=N` (due at or before now plus N days), so a table needs no second request.
`now` is one function so that tests can freeze the clock the markers read.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

OVERDUE = "OVERDUE"

MAX_ROTATION_DAYS = 3650
"""The longest period the API takes (`RotationDays`)."""

DUE_SOON_DAYS = 30
"""What the Secrets tab's due filter shows: secrets due within this many days (overdue included)."""


def now() -> datetime:
    return datetime.now(timezone.utc)


def overdue(secret: Any, at: datetime | None = None) -> bool:
    """True once `secret` is past due, by the server's word or by the clock (its answer may be a
    moment old)."""
    due = secret.rotation_due_at
    return due is not None and (bool(secret.rotation_overdue) or due <= (at or now()))


def rotation_label(secret: Any, at: datetime | None = None) -> str | None:
    """"OVERDUE", "due today", "due in N d", or None for a secret without a rotation policy.

    Days are calendar days in UTC, so a 30-day policy set a moment ago reads "due in 30 d", and one
    due at 23:00 reads "due today" all that day.
    """
    due = secret.rotation_due_at
    if due is None:
        return None
    at = at or now()
    if overdue(secret, at):
        return OVERDUE
    days = (due.astimezone(timezone.utc).date() - at.astimezone(timezone.utc).date()).days
    return "due today" if days == 0 else f"due in {days} d"


def due_within(secret: Any, days: int, at: datetime | None = None) -> bool:
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
