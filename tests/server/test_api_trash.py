"""The trash: a deleted secret waits there for `trash_days`, out of every listing, count, binding
and environment; it is restored, purged by an admin, or purged by the server once it expires
(docs/API.md, "Trash")."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

import dbbackend
from apihelpers import SITE, audit_rows, create_secret, expect_error
from server.context import utc_now
from server.handlers.trash import purge_expired, purge_time

SECRETS = f"{SITE}/secrets"
TRASH = f"{SITE}/trash"
SERVICES = f"{SITE}/services"


def trash_names(api) -> list[str]:
    response = api.get(TRASH)
    assert response.status_code == 200, response.text
    return [entry["name"] for entry in response.json()["items"]]


def trash_a_secret(api, name: str = "OLD_KEY", value: str = "old-value") -> None:
    create_secret(api, name, value)
    assert api.delete(f"{SECRETS}/{name}").status_code == 204


def stored_ciphertexts(data_dir: Path) -> list[bytes]:
    found = []
    for table in ("secrets", "secret_versions", "trashed_secrets", "trashed_versions"):
        found += [bytes(r["ciphertext"]) for r in dbbackend.rows(data_dir, f"SELECT ciphertext FROM {table}")]
    return found


def test_a_deleted_secret_moves_to_the_trash_and_out_of_every_listing(api) -> None:
    create_secret(api, "OLD_KEY", "old-value")
    assert api.delete(f"{SECRETS}/OLD_KEY").status_code == 204
    [entry] = api.get(TRASH).json()["items"]
    assert set(entry) == {"name", "app", "version", "deleted_at", "deleted_by", "purge_at"}
    assert (entry["name"], entry["app"], entry["version"], entry["deleted_by"]) == ("OLD_KEY", None, 1, "admin")
    assert api.get(SECRETS).json()["items"] == [] and api.get(f"{SECRETS}?scope=all").json()["items"] == []
    expect_error(api.get(f"{SECRETS}/OLD_KEY"), 404, "not_found")
    assert api.get(SITE).json()["secret_count"] == 0


def test_a_trashed_secret_is_purged_after_trash_days(api) -> None:
    trash_a_secret(api)
    [entry] = api.get(TRASH).json()["items"]
    assert entry["purge_at"][:10] > entry["deleted_at"][:10]  # 30 days on by default


def test_a_trashed_secret_does_not_count_toward_max_secrets(api) -> None:
    assert api.patch(SITE, json={"limits": {"max_secrets": 1}}).status_code == 200
    trash_a_secret(api)
    create_secret(api, "NEW_KEY")


def test_the_trash_holds_at_most_max_secrets_the_oldest_deletion_purged_first(api, data_dir) -> None:
    # the trash counts toward no limit: without a bound, creating a 64 KiB secret under a new name
    # and deleting it, over and over, let one tenant fill the disk every tenant's writes need
    assert api.patch(SITE, json={"limits": {"max_secrets": 3}}).status_code == 200
    for n in range(5):
        trash_a_secret(api, f"GONE_{n}")
    assert sorted(trash_names(api)) == ["GONE_2", "GONE_3", "GONE_4"]
    purged = [(row["target"], row["details"]) for row in audit_rows(data_dir, action="secret.purge")]
    assert [target for target, _ in purged] == ["secret:site/GONE_0", "secret:site/GONE_1"]
    assert all('"reason":"trash_full"' in details for _, details in purged)
    assert api.get(SITE).json()["usage"]["trash"] == 3
    assert api.delete(f"{SECRETS}/NOPE").status_code == 404 and len(trash_names(api)) == 3  # a refused delete makes no room


def test_a_binding_to_a_trashed_secret_is_missing_from_the_environment(api) -> None:
    create_secret(api, "OLD_KEY", "old-value")
    assert api.post(SERVICES, json={"name": "worker", "secrets": []}).status_code == 201
    assert api.delete(f"{SECRETS}/OLD_KEY").status_code == 204
    assert api.patch(f"{SERVICES}/worker", json={"secrets": [{"name": "OLD_KEY"}]}).status_code == 200
    env = api.get(f"{SERVICES}/worker/env").json()
    assert env["env"] == {} and env["missing"] == [{"name": "OLD_KEY", "app": None}]
    assert api.get(f"{SERVICES}/worker").json()["stale"] == [{"name": "OLD_KEY", "app": None}]


def test_deleting_a_secret_in_use_is_still_409_and_trashes_nothing(api) -> None:
    create_secret(api, "OLD_KEY")
    assert api.post(SERVICES, json={"name": "worker", "secrets": [{"name": "OLD_KEY"}]}).status_code == 201
    refused = api.delete(f"{SECRETS}/OLD_KEY")
    assert expect_error(refused, 409, "secret_in_use") == {"services": ["worker"]}
    assert refused.json()["error"]["message"] == "secret 'OLD_KEY' is used by 1 service; unbind it first"
    assert trash_names(api) == []


def test_a_restored_secret_comes_back_with_its_versions(api, data_dir) -> None:
    create_secret(api, "OLD_KEY", "one")
    assert api.patch(f"{SECRETS}/OLD_KEY", json={"value": "two"}).status_code == 200
    assert api.delete(f"{SECRETS}/OLD_KEY").status_code == 204
    response = api.post(f"{TRASH}/OLD_KEY/restore")
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["version"]) == ("OLD_KEY", 2)
    assert [v["version"] for v in api.get(f"{SECRETS}/OLD_KEY/versions").json()["items"]] == [2, 1]
    assert api.post(f"{SECRETS}/OLD_KEY/reveal", json={"version": 1}).json()["value"] == "one"
    assert trash_names(api) == []
    assert audit_rows(data_dir, action="secret.restore")[0]["details"] == '{"version":2}'


def test_lowering_max_versions_wipes_the_surplus_of_trashed_secrets_too(api, data_dir) -> None:
    create_secret(api, "OLD_KEY", "one")
    for value in ("two", "three"):
        assert api.patch(f"{SECRETS}/OLD_KEY", json={"value": value}).status_code == 200
    assert api.delete(f"{SECRETS}/OLD_KEY").status_code == 204
    assert api.patch(SITE, json={"limits": {"max_versions": 1}}).status_code == 200
    assert len(stored_ciphertexts(data_dir)) == 2  # the trash entry's current value and its one kept version
    assert '"versions_wiped":2' in audit_rows(data_dir, action="site.update")[-1]["details"]
    assert api.post(f"{TRASH}/OLD_KEY/restore").status_code == 200
    assert [v["version"] for v in api.get(f"{SECRETS}/OLD_KEY/versions").json()["items"]] == [3]
    expect_error(api.post(f"{SECRETS}/OLD_KEY/reveal", json={"version": 1}), 404, "not_found")


def test_an_app_level_secret_is_trashed_and_restored_in_its_scope(api) -> None:
    assert api.post(f"{SITE}/apps", json={"name": "web"}).status_code == 201
    create_secret(api, "OLD_KEY", "app-value", scope=f"{SITE}/apps/web")
    assert api.delete(f"{SITE}/apps/web/secrets/OLD_KEY").status_code == 204
    assert api.get(TRASH).json()["items"][0]["app"] == "web"
    expect_error(api.post(f"{TRASH}/OLD_KEY/restore"), 404, "not_found")  # not in the site level's trash
    assert api.post(f"{SITE}/apps/web/trash/OLD_KEY/restore").json()["app"] == "web"


def test_a_trashed_name_may_be_used_again_and_then_restore_is_409(api, db_rows) -> None:
    trash_a_secret(api)
    create_secret(api, "OLD_KEY", "new-value")
    before = db_rows()
    expect_error(api.post(f"{TRASH}/OLD_KEY/restore"), 409, "already_exists")
    assert db_rows() == before


def test_restoring_into_a_full_site_is_409_limit_exceeded(api) -> None:
    assert api.patch(SITE, json={"limits": {"max_secrets": 1}}).status_code == 200
    trash_a_secret(api)
    create_secret(api, "NEW_KEY")
    assert expect_error(api.post(f"{TRASH}/OLD_KEY/restore"), 409, "limit_exceeded") == {"limit": 1, "setting": "max_secrets"}


def test_restoring_a_name_not_in_the_trash_is_404(api) -> None:
    expect_error(api.post(f"{TRASH}/NOPE/restore"), 404, "not_found")


def test_an_admin_purges_a_trashed_secret_and_its_values_are_gone(api, data_dir) -> None:
    trash_a_secret(api)
    held = stored_ciphertexts(data_dir)
    assert len(held) == 2  # the trashed secret and its one version
    assert api.delete(f"{TRASH}/OLD_KEY").status_code == 204
    assert trash_names(api) == [] and stored_ciphertexts(data_dir) == []
    [event] = audit_rows(data_dir, action="secret.purge")
    assert (event["target"], event["details"]) == ("secret:site/OLD_KEY", '{"version":1,"reason":"requested"}')


@pytest.mark.sqlite_only(reason="reads the bytes of the SQLite file and its WAL")
def test_a_purged_secret_is_wiped_from_the_sqlite_file_and_wal(api, data_dir: Path) -> None:
    trash_a_secret(api)
    [row] = dbbackend.rows(data_dir, "SELECT ciphertext FROM trashed_secrets")
    assert api.delete(f"{TRASH}/OLD_KEY").status_code == 204
    for path in (data_dir / "secrets.db", data_dir / "secrets.db-wal"):
        held = path.exists() and bytes(row["ciphertext"]) in path.read_bytes()
        assert not held, f"{path.name} still holds the purged secret's ciphertext"


def test_an_editor_may_not_purge(api, as_role, data_dir) -> None:
    trash_a_secret(api)
    expect_error(as_role("editor").delete(f"{TRASH}/OLD_KEY"), 403, "forbidden")
    assert trash_names(api) == ["OLD_KEY"]


def test_with_trash_days_0_a_delete_is_at_once(api, data_dir) -> None:
    assert api.patch(SITE, json={"limits": {"trash_days": 0}}).status_code == 200
    assert api.get(SITE).json()["limits"]["trash_days"] == 0
    trash_a_secret(api)
    assert trash_names(api) == [] and stored_ciphertexts(data_dir) == []
    assert audit_rows(data_dir, action="secret.delete")[0]["details"] == '{"version":1,"trash":false}'


def test_lowering_trash_days_holds_what_is_already_in_the_trash_to_it(api, data_dir) -> None:
    """As lowering `max_versions` wipes the surplus at once: an operator who shortens a site's trash
    (one hoarding values there, which count toward no limit) must not wait out the old setting."""
    trash_a_secret(api, "OLD_KEY")
    trash_a_secret(api, "NEW_KEY")
    dbbackend.rows(data_dir, "UPDATE trashed_secrets SET deleted_at = ? WHERE name = ?", utc_now(-5 * 86400), "OLD_KEY")
    assert api.patch(SITE, json={"limits": {"trash_days": 3}}).status_code == 200
    [entry] = api.get(TRASH).json()["items"]
    assert entry["name"] == "NEW_KEY"
    assert entry["purge_at"] == purge_time(entry["deleted_at"], 3)
    [event] = audit_rows(data_dir, action="secret.purge")
    assert (event["target"], event["details"]) == ("secret:site/OLD_KEY", '{"version":1,"reason":"trash_days"}')
    assert '"trash_purged":1' in audit_rows(data_dir, action="site.update")[-1]["details"]
    assert api.patch(SITE, json={"limits": {"trash_days": 0}}).status_code == 200
    assert trash_names(api) == [] and stored_ciphertexts(data_dir) == []


def test_raising_trash_days_keeps_what_is_in_the_trash_longer(api) -> None:
    trash_a_secret(api)
    assert api.patch(SITE, json={"limits": {"trash_days": 90}}).status_code == 200
    [entry] = api.get(TRASH).json()["items"]
    assert entry["purge_at"] == purge_time(entry["deleted_at"], 90)


def test_deleting_a_name_already_in_the_trash_replaces_the_older_entry(api, data_dir) -> None:
    trash_a_secret(api, value="first")
    trash_a_secret(api, value="second")
    assert trash_names(api) == ["OLD_KEY"]
    assert api.post(f"{TRASH}/OLD_KEY/restore").status_code == 200
    assert api.post(f"{SECRETS}/OLD_KEY/reveal").json()["value"] == "second"
    [event] = audit_rows(data_dir, action="secret.purge")
    assert '"reason":"replaced"' in event["details"]


def test_expired_trash_is_purged_and_audited(api, state, data_dir) -> None:
    trash_a_secret(api)
    trash_a_secret(api, "KEPT_KEY")
    dbbackend.rows(data_dir, "UPDATE trashed_secrets SET purge_at = ? WHERE name = ?", "2000-01-01T00:00:00Z", "OLD_KEY")
    assert purge_expired(state.store, utc_now()) == 1
    assert trash_names(api) == ["KEPT_KEY"]
    [event] = audit_rows(data_dir, action="secret.purge")
    assert (event["actor"], event["site"], event["target"]) == ("sitesecrets-server", "default", "secret:site/OLD_KEY")
    assert event["details"] == '{"version":1,"reason":"expired"}'
    assert purge_expired(state.store, utc_now()) == 0


def test_expired_trash_is_purged_in_batches_each_a_write_of_its_own(api, state, monkeypatch) -> None:
    # one write for every site's expired trash held the writer every tenant shares for as long
    # as the whole purge took
    from server.handlers import trash

    monkeypatch.setattr(trash, "PURGE_BATCH", 2)
    for n in range(5):
        trash_a_secret(api, f"OLD_{n}")
    dbbackend.rows(state.settings.data_dir, "UPDATE trashed_secrets SET purge_at = ?", "2000-01-01T00:00:00Z")
    writes, real_write = [], state.store.write
    monkeypatch.setattr(state.store, "write", lambda fn: writes.append(fn) or real_write(fn))
    assert purge_expired(state.store, utc_now()) == 5
    assert trash_names(api) == [] and len(writes) == 3


def test_a_sweep_that_finds_nothing_expired_writes_nothing(api, state, monkeypatch) -> None:
    trash_a_secret(api)  # in the trash, not yet due
    writes = []
    real_write = state.store.write
    monkeypatch.setattr(state.store, "write", lambda fn: writes.append(fn) or real_write(fn))
    assert purge_expired(state.store, utc_now()) == 0
    assert writes == []  # no turn taken at the writer (nor the data directory's write lock)
    assert trash_names(api) == ["OLD_KEY"]


def test_the_running_server_purges_expired_trash_on_its_own(live_server) -> None:
    headers = {"Authorization": f"Bearer {live_server.admin_token}"}
    with httpx.Client(base_url=live_server.url, headers=headers) as api:
        trash_a_secret(api)
        dbbackend.rows(live_server.state.settings.data_dir, "UPDATE trashed_secrets SET purge_at = ?", "2000-01-01T00:00:00Z")
        live_server.sweeper.wake()
        deadline = time.monotonic() + 60
        while trash_names(api) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling for the sweep asked for, with a generous ceiling
        assert trash_names(api) == []
        events = api.get(f"{SITE}/audit", params={"action": "secret.purge"}).json()["items"]
        assert [e["details"]["reason"] for e in events] == ["expired"]


def test_deleting_an_app_purges_its_trash(api, data_dir) -> None:
    assert api.post(f"{SITE}/apps", json={"name": "web"}).status_code == 201
    create_secret(api, "OLD_KEY", scope=f"{SITE}/apps/web")
    assert api.delete(f"{SITE}/apps/web/secrets/OLD_KEY").status_code == 204
    assert api.delete(f"{SITE}/apps/web").status_code == 204
    assert trash_names(api) == [] and stored_ciphertexts(data_dir) == []
    assert '"reason":"app.delete"' in audit_rows(data_dir, action="secret.purge")[0]["details"]


def test_a_type_held_by_a_trashed_secret_cannot_be_deleted(api) -> None:
    assert api.post(f"{SITE}/secret-types", json={"key": "obj", "name": "Obj", "schema": {"type": "object"}}).status_code == 201
    create_secret(api, "OLD_KEY", "{}", type="obj")
    assert api.delete(f"{SECRETS}/OLD_KEY").status_code == 204
    details = expect_error(api.delete(f"{SITE}/secret-types/obj"), 409, "type_in_use")
    assert details == {"secrets": [{"name": "OLD_KEY", "app": None}]}
