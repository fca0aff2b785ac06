"""A secret's kept versions: listing, revealing an older one, rollback, wiping what falls off,
updates that change nothing, and the site-keyed fingerprints (docs/API.md, "Kept versions")."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import dbbackend
from apihelpers import SITE, audit_rows, create_secret, expect_error
from server import fingerprints

SECRET = f"{SITE}/secrets/DB_PASSWORD"
SERVICES = f"{SITE}/services"


def set_values(api, *values: str, path: str = SECRET) -> None:
    for value in values:
        assert api.patch(path, json={"value": value}).status_code == 200


def versions(api, path: str = SECRET) -> list[dict]:
    response = api.get(f"{path}/versions")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def reveal(api, version: int | None = None, path: str = SECRET):
    return api.post(f"{path}/reveal", json={"version": version} if version else None)


def flagged(api, service: str = "worker") -> bool:
    return api.get(f"{SERVICES}/{service}").json()["restart_required"]


def loaded_service(api) -> None:
    """A service bound to DB_PASSWORD that has loaded its current version."""
    assert api.post(SERVICES, json={"name": "worker", "secrets": [{"name": "DB_PASSWORD"}]}).status_code == 201
    assert api.get(f"{SERVICES}/worker/env").status_code == 200
    assert not flagged(api)


def test_versions_are_listed_newest_first_with_the_current_one_marked(api) -> None:
    create_secret(api, "DB_PASSWORD", "one")
    set_values(api, "two", "three")
    items = versions(api)
    assert [(v["version"], v["current"]) for v in items] == [(3, True), (2, False), (1, False)]
    assert set(items[0]) == {"version", "created_at", "created_by", "type", "current", "fingerprint"}
    assert all(v["created_by"] == "admin" and v["type"] is None for v in items)


def test_an_older_version_is_revealed_and_audited_with_its_version(api, data_dir) -> None:
    create_secret(api, "DB_PASSWORD", "one")
    set_values(api, "two")
    response = reveal(api, 1)
    assert response.json() == {"value": "one", "version": 1}
    assert reveal(api).json() == {"value": "two", "version": 2}
    assert [e["details"] for e in audit_rows(data_dir, action="secret.reveal")] == ['{"version":1}', '{"version":2}']


def test_revealing_a_version_never_made_is_404(api) -> None:
    create_secret(api, "DB_PASSWORD", "one")
    assert expect_error(reveal(api, 7), 404, "not_found") == {"version": 7}


@pytest.mark.parametrize("version", [2**63, 10**30])
def test_a_version_past_any_a_database_holds_is_404_for_reveal_and_rollback(api, version) -> None:
    create_secret(api, "DB_PASSWORD", "one")
    assert expect_error(reveal(api, version), 404, "not_found") == {"version": version}
    assert expect_error(api.post(f"{SECRET}/rollback", json={"version": version}), 404, "not_found") == {"version": version}


def test_versions_past_max_versions_fall_off_and_are_404(api) -> None:
    assert api.patch(SITE, json={"limits": {"max_versions": 2}}).status_code == 200
    create_secret(api, "DB_PASSWORD", "one")
    set_values(api, "two", "three")
    assert [v["version"] for v in versions(api)] == [3, 2]
    expect_error(reveal(api, 1), 404, "not_found")
    assert reveal(api, 2).json()["value"] == "two"


def test_a_fallen_off_version_leaves_no_ciphertext_in_the_database(api, data_dir, backend) -> None:
    assert api.patch(SITE, json={"limits": {"max_versions": 1}}).status_code == 200
    create_secret(api, "DB_PASSWORD", "one")
    [first] = dbbackend.rows(data_dir, "SELECT ciphertext FROM secret_versions")
    set_values(api, "two")
    stored = [bytes(r["ciphertext"]) for r in dbbackend.rows(data_dir, "SELECT ciphertext FROM secret_versions")]
    stored += [bytes(r["ciphertext"]) for r in dbbackend.rows(data_dir, "SELECT ciphertext FROM secrets")]
    assert bytes(first["ciphertext"]) not in stored and len(stored) == 2


@pytest.mark.sqlite_only(reason="reads the bytes of the SQLite file and its WAL")
def test_a_fallen_off_version_is_wiped_from_the_sqlite_file_and_wal(api, data_dir: Path) -> None:
    assert api.patch(SITE, json={"limits": {"max_versions": 2}}).status_code == 200
    create_secret(api, "DB_PASSWORD", "one")
    [first] = dbbackend.rows(data_dir, "SELECT ciphertext FROM secret_versions")
    set_values(api, "two", "three")
    for path in (data_dir / "secrets.db", data_dir / "secrets.db-wal"):
        held = path.exists() and bytes(first["ciphertext"]) in path.read_bytes()
        assert not held, f"{path.name} still holds the fallen-off version's ciphertext"


def test_lowering_max_versions_wipes_the_surplus_at_once(api, data_dir) -> None:
    create_secret(api, "DB_PASSWORD", "one")
    set_values(api, "two", "three")
    assert api.patch(SITE, json={"limits": {"max_versions": 1}}).status_code == 200
    assert [v["version"] for v in versions(api)] == [3]
    assert '"versions_wiped":2' in audit_rows(data_dir, action="site.update")[-1]["details"]


def test_rollback_makes_a_new_version_with_the_old_value(api, data_dir) -> None:
    create_secret(api, "DB_PASSWORD", "one")
    set_values(api, "two")
    response = api.post(f"{SECRET}/rollback", json={"version": 1})
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 3
    assert reveal(api).json() == {"value": "one", "version": 3}
    assert versions(api)[0]["fingerprint"] == versions(api)[2]["fingerprint"]
    [event] = audit_rows(data_dir, action="secret.rollback")
    assert event["details"] == '{"from_version":1,"version":3}'


def test_rollback_flags_bound_services_for_restart(api) -> None:
    create_secret(api, "DB_PASSWORD", "one")
    set_values(api, "two")
    loaded_service(api)
    assert api.post(f"{SECRET}/rollback", json={"version": 1}).status_code == 200
    assert flagged(api)


def test_rollback_with_a_stale_expected_version_is_409_and_changes_nothing(api, db_rows) -> None:
    create_secret(api, "DB_PASSWORD", "one")
    set_values(api, "two")
    before = db_rows()
    details = expect_error(api.post(f"{SECRET}/rollback", json={"version": 1, "expected_version": 1}), 409, "version_conflict")
    assert details == {"current_version": 2}
    after = db_rows()
    assert after.pop("audit_events") == before.pop("audit_events") and after == before


def test_rollback_to_a_version_not_kept_is_404(api) -> None:
    create_secret(api, "DB_PASSWORD", "one")
    expect_error(api.post(f"{SECRET}/rollback", json={"version": 5}), 404, "not_found")


def test_rollback_to_a_value_the_current_type_refuses_is_422(api) -> None:
    create_secret(api, "DB_PASSWORD", "plain text")
    assert api.post(f"{SITE}/secret-types", json={"key": "obj", "name": "Obj", "schema": {"type": "object"}}).status_code == 201
    assert api.patch(SECRET, json={"value": "{}", "type": "obj"}).status_code == 200
    expect_error(api.post(f"{SECRET}/rollback", json={"version": 1}), 422, "validation_error")


def test_rollback_to_a_value_over_the_site_limit_is_413_and_changes_nothing(api, db_rows) -> None:
    create_secret(api, "DB_PASSWORD", "x" * 1000)
    set_values(api, "short")
    assert api.patch(SITE, json={"limits": {"max_value_bytes": 100}}).status_code == 200
    before = db_rows()
    details = expect_error(api.post(f"{SECRET}/rollback", json={"version": 1}), 413, "value_too_large")
    assert details == {"limit_bytes": 100}
    after = db_rows()
    del after["audit_events"], before["audit_events"]  # the refusal, which tells of a kept value's size, is audited
    assert after == before
    assert reveal(api).json() == {"value": "short", "version": 2}


def test_an_update_with_the_current_value_makes_no_version_and_flags_no_service(api, data_dir) -> None:
    create_secret(api, "DB_PASSWORD", "one")
    loaded_service(api)
    response = api.patch(SECRET, json={"value": "one"})
    assert response.status_code == 200 and response.json()["version"] == 1
    assert [v["version"] for v in versions(api)] == [1]
    assert not flagged(api)
    assert audit_rows(data_dir, action="secret.update")[-1]["details"] == '{"changed":[],"version":1}'


def test_an_update_with_the_current_value_still_changes_the_description(api) -> None:
    create_secret(api, "DB_PASSWORD", "one")
    response = api.patch(SECRET, json={"value": "one", "description": "main db"})
    assert (response.json()["version"], response.json()["description"]) == (1, "main db")


def test_rollback_to_the_current_value_changes_nothing(api) -> None:
    create_secret(api, "DB_PASSWORD", "one")
    set_values(api, "two", "one")
    assert api.post(f"{SECRET}/rollback", json={"version": 1}).json()["version"] == 3
    assert len(versions(api)) == 3


def test_equal_values_in_a_site_have_equal_fingerprints(api) -> None:
    assert api.post(f"{SITE}/apps", json={"name": "web"}).status_code == 201
    a = create_secret(api, "A", "same-value")
    b = create_secret(api, "B", "same-value", scope=f"{SITE}/apps/web")
    c = create_secret(api, "C", "other-value")
    assert a["fingerprint"] == b["fingerprint"] != c["fingerprint"]
    assert len(a["fingerprint"]) == 16 and int(a["fingerprint"], 16) >= 0


def test_the_same_value_in_two_sites_has_unrelated_fingerprints(api) -> None:
    assert api.post("/v1/sites", json={"name": "other"}).status_code == 201
    here = create_secret(api, "A", "same-value")
    there = create_secret(api, "A", "same-value", scope="/v1/sites/other")
    assert here["fingerprint"] != there["fingerprint"]


def test_a_fingerprint_is_no_unkeyed_hash_of_the_value(api) -> None:
    secret = create_secret(api, "A", "hunter2")
    unkeyed = {hashlib.new(name, b"hunter2").hexdigest()[:16] for name in ("md5", "sha1", "sha256", "sha512")}
    assert secret["fingerprint"] not in unkeyed


def test_values_stored_before_fingerprints_get_them_when_the_database_is_opened(api, state, data_dir) -> None:
    secret = create_secret(api, "A", "value")
    dbbackend.rows(data_dir, "UPDATE secrets SET fingerprint = NULL")
    dbbackend.rows(data_dir, "UPDATE secret_versions SET fingerprint = NULL")
    assert api.get(f"{SITE}/secrets/A").json()["fingerprint"] is None
    assert fingerprints.fill_missing(state.store, state.keyring) == 2
    assert api.get(f"{SITE}/secrets/A").json()["fingerprint"] == secret["fingerprint"]
    assert versions(api, f"{SITE}/secrets/A")[0]["fingerprint"] == secret["fingerprint"]
