"""`tui.rotation.rotation_label`: how a secret's rotation reads in `ls` (and the TUI)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from tui.rotation import OVERDUE, rotation_label

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


@dataclass
class Due:
    rotation_due_at: datetime | None
    rotation_overdue: bool = False


def test_no_policy_has_no_label():
    assert rotation_label(Due(None), NOW) is None


def test_overdue_by_the_servers_word():
    assert rotation_label(Due(NOW + timedelta(days=3), rotation_overdue=True), NOW) == OVERDUE


def test_a_moment_already_past_is_overdue_even_if_the_answer_was_a_moment_old():
    assert rotation_label(Due(NOW - timedelta(seconds=1)), NOW) == OVERDUE


@pytest.mark.parametrize("left,label", [
    (timedelta(hours=5), "due today"),
    (timedelta(hours=11, minutes=59), "due today"),
    (timedelta(hours=13), "due in 1 d"),
    (timedelta(days=1), "due in 1 d"),
    (timedelta(hours=47), "due in 2 d"),
    (timedelta(days=30) - timedelta(seconds=5), "due in 30 d"),
])
def test_days_left_are_counted_in_utc_calendar_days(left, label):
    assert rotation_label(Due(NOW + left), NOW) == label
