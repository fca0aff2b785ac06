"""The pure rules behind the TUI's time dimension: rotation markers and the due filter (by the
server's `due_within_days` rule), and what fingerprints say about kept versions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shared.models import Secret, SecretVersion
from tui.history import counterpart, version_notes
from tui.rotation import due_within, rotation_days_problem, rotation_label
from tui.ui.restart import restart_notice

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _secret(name="KEY", app=None, due=None, fingerprint="aa", used_by=()) -> Secret:
    return Secret(name=name, app=app, type=None, description="", version=1, created_at=NOW, updated_at=NOW,
                  created_by="admin", updated_by="admin", used_by=list(used_by), last_used_at=None,
                  fingerprint=fingerprint, rotate_every_days=None if due is None else 30, rotation_due_at=due)


def _version(number, fingerprint, current=False) -> SecretVersion:
    return SecretVersion(version=number, created_at=NOW, created_by="admin", type=None, current=current,
                         fingerprint=fingerprint)


def test_rotation_label_counts_calendar_days_and_says_overdue_once_passed():
    assert rotation_label(_secret(), NOW) is None
    assert rotation_label(_secret(due=NOW + timedelta(days=3)), NOW) == "due in 3 d"
    assert rotation_label(_secret(due=NOW + timedelta(days=2, hours=1)), NOW) == "due in 2 d"
    assert rotation_label(_secret(due=NOW + timedelta(hours=5)), NOW) == "due today"
    assert rotation_label(_secret(due=NOW), NOW) == "OVERDUE"
    assert rotation_label(_secret(due=NOW - timedelta(days=40)), NOW) == "OVERDUE"


def test_due_filter_follows_the_servers_rule():
    assert due_within(_secret(due=NOW - timedelta(days=1)), 0, NOW)  # 0 days: the overdue ones
    assert not due_within(_secret(due=NOW + timedelta(hours=1)), 0, NOW)
    assert due_within(_secret(due=NOW + timedelta(days=30)), 30, NOW)
    assert not due_within(_secret(due=NOW + timedelta(days=30, seconds=1)), 30, NOW)
    assert not due_within(_secret(), 3650, NOW)  # no policy: never due


def test_rotation_days_are_whole_numbers_in_the_apis_range_or_blank():
    assert rotation_days_problem("") == "" and rotation_days_problem("1") == "" and rotation_days_problem("3650") == ""
    for bad in ("0", "3651", "-1", "1.5", "٣", "x"):
        assert rotation_days_problem(bad), bad


def test_version_notes_say_same_as_from_fingerprints():
    versions = [_version(3, "aa", current=True), _version(2, "bb"), _version(1, "aa")]
    assert version_notes(versions) == {3: "current; same as v1", 2: "", 1: "same as v3"}


def test_version_notes_compare_an_app_secret_with_the_site_value():
    site_value = _secret(fingerprint="bb")
    versions = [_version(2, "aa", current=True), _version(1, "bb")]
    assert version_notes(versions, site_value) == {2: "current; differs from site value", 1: "= site value"}
    assert version_notes([_version(1, None, current=True)]) == {1: "current; value unreadable"}


def test_counterpart_is_the_site_secret_of_the_same_name():
    site_key, app_key, other = _secret(), _secret(app="web"), _secret(name="OTHER")
    assert counterpart(app_key, [site_key, app_key, other]) is site_key
    assert counterpart(site_key, [site_key, app_key]) is None


def test_restart_notice_names_the_services_and_nothing_without_them():
    assert restart_notice(_secret()) is None
    assert restart_notice(_secret(used_by=["checkout"])) == "Restart checkout: it runs the old value of KEY until then."
    assert restart_notice(_secret(used_by=["a", "b"])).startswith("Restart a, b: they run")
