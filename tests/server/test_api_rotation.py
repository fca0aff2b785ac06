"""Rotation policy: `rotate_every_days` on a secret, `rotation_due_at` (the last value change plus
the period), `rotation_overdue`, and `?due_within_days=N` listings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import dbbackend
from apihelpers import SITE, create_secret, expect_error

APP = "/v1/sites/default/apps/web"


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def backdate_value(data_dir, name: str, days: int) -> None:
    """Make the secret's current value `days` old, as if it had been set then."""
    then = stamp(datetime.now(timezone.utc) - timedelta(days=days))
    dbbackend.rows(data_dir, "UPDATE secrets SET value_updated_at = ?, updated_at = ? WHERE name = ?", then, then, name)


def test_a_secret_without_a_policy_is_never_due(api) -> None:
    secret = create_secret(api, "PLAIN")
    assert (secret["rotate_every_days"], secret["rotation_due_at"], secret["rotation_overdue"]) == (None, None, False)


def test_rotation_falls_due_the_period_after_the_value_was_set(api) -> None:
    secret = create_secret(api, "DB_PASSWORD", rotate_every_days=30)
    assert secret["rotate_every_days"] == 30
    assert at(secret["rotation_due_at"]) == at(secret["updated_at"]) + timedelta(days=30)
    assert secret["rotation_overdue"] is False


def test_a_new_value_restarts_the_period(api, data_dir) -> None:
    create_secret(api, "DB_PASSWORD", rotate_every_days=30)
    backdate_value(data_dir, "DB_PASSWORD", 40)
    assert api.get(f"{SITE}/secrets/DB_PASSWORD").json()["rotation_overdue"] is True
    updated = api.patch(f"{SITE}/secrets/DB_PASSWORD", json={"value": "rotated"}).json()
    assert updated["rotation_overdue"] is False
    assert at(updated["rotation_due_at"]) == at(updated["updated_at"]) + timedelta(days=30)


def test_a_description_change_does_not_restart_the_period(api, data_dir) -> None:
    create_secret(api, "DB_PASSWORD", rotate_every_days=30)
    backdate_value(data_dir, "DB_PASSWORD", 40)
    updated = api.patch(f"{SITE}/secrets/DB_PASSWORD", json={"description": "still the old value"}).json()
    assert updated["rotation_overdue"] is True


def test_patch_sets_and_null_removes_the_policy(api) -> None:
    create_secret(api, "KEY")
    assert api.patch(f"{SITE}/secrets/KEY", json={"rotate_every_days": 7}).json()["rotate_every_days"] == 7
    cleared = api.patch(f"{SITE}/secrets/KEY", json={"rotate_every_days": None}).json()
    assert (cleared["rotate_every_days"], cleared["rotation_due_at"]) == (None, None)


def test_a_policy_change_alone_makes_no_new_version(api) -> None:
    create_secret(api, "KEY")
    assert api.patch(f"{SITE}/secrets/KEY", json={"rotate_every_days": 7}).json()["version"] == 1


@pytest.mark.parametrize("days", [0, 3651, -1, "30", 1.5, True])
def test_a_period_outside_1_to_3650_days_is_refused(api, days) -> None:
    expect_error(api.post(f"{SITE}/secrets", json={"name": "K", "value": "v", "rotate_every_days": days}), 422, "validation_error")
    create_secret(api, "KEPT")
    expect_error(api.patch(f"{SITE}/secrets/KEPT", json={"rotate_every_days": days}), 422, "validation_error")
    assert api.get(f"{SITE}/secrets/KEPT").json()["rotate_every_days"] is None


@pytest.mark.parametrize("scope", [SITE, APP])
def test_due_within_days_lists_only_secrets_falling_due_by_then(api, data_dir, scope) -> None:
    assert api.post("/v1/sites/default/apps", json={"name": "web"}).status_code == 201
    create_secret(api, "OVERDUE", rotate_every_days=30, scope=scope)
    create_secret(api, "DUE_SOON", rotate_every_days=10, scope=scope)
    create_secret(api, "DUE_LATER", rotate_every_days=365, scope=scope)
    create_secret(api, "NO_POLICY", scope=scope)
    backdate_value(data_dir, "OVERDUE", 31)

    def names(days: int) -> list[str]:
        response = api.get(f"{scope}/secrets", params={"due_within_days": days})
        assert response.status_code == 200, response.text
        return [s["name"] for s in response.json()["items"]]

    assert names(0) == ["OVERDUE"]
    assert names(14) == ["DUE_SOON", "OVERDUE"]
    assert names(400) == ["DUE_LATER", "DUE_SOON", "OVERDUE"]


@pytest.mark.parametrize("days", ["-1", "x", "3651", "1.5", ""])
def test_due_within_days_that_is_not_a_day_count_is_refused(api, days) -> None:
    expect_error(api.get(f"{SITE}/secrets", params={"due_within_days": days}), 422, "validation_error")


def test_a_created_value_is_stamped_with_its_creation_time(api, data_dir) -> None:
    create_secret(api, "OLD")
    row = dbbackend.rows(data_dir, "SELECT updated_at, value_updated_at FROM secrets WHERE name = 'OLD'")[0]
    assert row["value_updated_at"] == row["updated_at"]
