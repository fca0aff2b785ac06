"""Versions and the trash (issue 14, parts 1-3) composed with rotation, `value_patch` and waiting
env fetches (parts 4-6): a patched value is a kept, fingerprinted version; a rollback is a value
change that restamps the rotation and wakes a waiting fetch; trash and restore change an
environment, so they wake one too, and a restore brings the rotation policy back as it was."""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

import dbbackend
from apihelpers import SITE, create_secret
from waiting import wait_until

ENV = f"{SITE}/services/worker/env"
CEILING = 30.0
DB_TYPE = {"type": "object", "properties": {"user": {"type": "string"}, "password": {"type": "string"}}}
DB_VALUE = {"user": "app", "password": "first-password"}
COMPACT = json.dumps(DB_VALUE, separators=(",", ":"))  # as a patched value is stored, so equal texts compare


@pytest.fixture(autouse=True)
def worker(api) -> None:
    assert api.post(f"{SITE}/secret-types", json={"key": "db", "name": "Database", "schema": DB_TYPE}).status_code == 201
    create_secret(api, "DB", COMPACT, type="db", rotate_every_days=30)
    assert api.post(f"{SITE}/services", json={"name": "worker", "secrets": [{"name": "DB"}, {"name": "LATER"}]}).status_code == 201


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def backdate_value(data_dir, name: str, days: int) -> str:
    """Make the secret's current value `days` old, as if it had been set then; the stamp."""
    then = (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    dbbackend.rows(data_dir, "UPDATE secrets SET value_updated_at = ?, updated_at = ? WHERE name = ?", then, then, name)
    return then


def etag(api) -> str:
    response = api.get(ENV, params={"record": "false"})
    assert response.status_code == 200
    return response.headers["ETag"]


def waiting_fetch(api, tag: str) -> Future:
    pool = ThreadPoolExecutor(1)
    future = pool.submit(api.get, ENV, headers={"If-None-Match": tag, "Prefer": "wait=30"}, params={"record": "false"})
    pool.shutdown(wait=False)
    return future


def wait_until_parked(app) -> None:
    """The server holds a waiting request (so the change that follows is what must wake it)."""
    wait_until(lambda: app.state.changes.waiting >= 1, "the env fetch to start waiting", CEILING)


def versions(api, name: str) -> list[dict]:
    response = api.get(f"{SITE}/secrets/{name}/versions")
    assert response.status_code == 200
    return response.json()["items"]


def test_a_value_patch_is_a_kept_fingerprinted_version_and_an_empty_one_makes_none(api) -> None:
    patched = api.patch(f"{SITE}/secrets/DB", json={"value_patch": {"password": "second-password"}})
    assert patched.status_code == 200, patched.text
    back = api.patch(f"{SITE}/secrets/DB", json={"value_patch": {"password": "first-password"}})
    assert back.json()["version"] == 3
    kept = versions(api, "DB")
    assert [v["version"] for v in kept] == [3, 2, 1]
    assert all(v["fingerprint"] for v in kept)
    assert kept[0]["fingerprint"] == kept[2]["fingerprint"] != kept[1]["fingerprint"]  # equal values, equal prints
    assert back.json()["fingerprint"] == kept[0]["fingerprint"]
    unchanged = api.patch(f"{SITE}/secrets/DB", json={"value_patch": {"user": "app"}})
    assert unchanged.status_code == 200 and unchanged.json()["version"] == 3
    assert len(versions(api, "DB")) == 3


def test_a_rollback_wakes_a_waiting_env_fetch_and_restamps_the_rotation(api, app, data_dir) -> None:
    assert api.patch(f"{SITE}/secrets/DB", json={"value_patch": {"password": "second-password"}}).status_code == 200
    old = backdate_value(data_dir, "DB", 40)
    assert api.get(f"{SITE}/secrets/DB").json()["rotation_overdue"] is True
    tag = etag(api)
    fetch = waiting_fetch(api, tag)
    wait_until_parked(app)
    rolled = api.post(f"{SITE}/secrets/DB/rollback", json={"version": 1})
    assert rolled.status_code == 200, rolled.text
    woken = fetch.result(timeout=CEILING)
    assert woken.status_code == 200
    assert woken.headers["ETag"] not in (tag, "") and woken.json()["env"]["DB"] == COMPACT
    secret = rolled.json()
    assert secret["version"] == 3 and secret["rotation_overdue"] is False
    assert at(secret["rotation_due_at"]) == at(secret["updated_at"]) + timedelta(days=30) > at(old) + timedelta(days=30)


def test_restoring_a_bound_name_from_the_trash_wakes_a_waiting_env_fetch(api, app) -> None:
    create_secret(api, "UNBOUND", "later-1")
    assert api.delete(f"{SITE}/secrets/UNBOUND").status_code == 204  # to the trash
    assert api.patch(f"{SITE}/services/worker", json={"secrets": [{"name": "DB"}, {"name": "UNBOUND"}]}).status_code == 200
    tag = etag(api)
    fetch = waiting_fetch(api, tag)
    wait_until_parked(app)
    assert api.post(f"{SITE}/trash/UNBOUND/restore").status_code == 200
    restored = fetch.result(timeout=CEILING)
    assert restored.status_code == 200 and restored.headers["ETag"] != tag
    assert restored.json()["env"]["UNBOUND"] == "later-1"


def test_a_restored_secret_keeps_its_rotation_policy_and_the_age_of_its_value(api, data_dir) -> None:
    assert api.patch(f"{SITE}/services/worker", json={"secrets": []}).status_code == 200
    set_at = backdate_value(data_dir, "DB", 40)
    assert api.delete(f"{SITE}/secrets/DB").status_code == 204
    restored = api.post(f"{SITE}/trash/DB/restore")
    assert restored.status_code == 200, restored.text
    secret = restored.json()
    assert secret["rotate_every_days"] == 30
    assert at(secret["rotation_due_at"]) == at(set_at) + timedelta(days=30)
    assert secret["rotation_overdue"] is True
