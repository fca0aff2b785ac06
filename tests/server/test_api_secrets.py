"""Secrets at site and app scope: create, list, read metadata, update, delete, reveal."""

from __future__ import annotations

import pytest

from apihelpers import SITE, audit_rows, create_secret, expect_error, reveal

APP = "/v1/sites/default/apps/web"
SCOPES = [pytest.param(SITE, id="site"), pytest.param(APP, id="app")]
SECRET_FIELDS = {"name", "app", "type", "description", "version", "created_at", "updated_at",
                 "created_by", "updated_by", "used_by", "last_used_at", "fingerprint", "rotate_every_days",
                 "rotation_due_at", "rotation_overdue"}


@pytest.fixture(autouse=True)
def web(api) -> None:
    assert api.post("/v1/sites/default/apps", json={"name": "web"}).status_code == 201


@pytest.mark.parametrize("scope", SCOPES)
def test_created_secret_answers_metadata_without_value(api, scope) -> None:
    response = api.post(f"{scope}/secrets", json={"name": "DB_PASSWORD", "value": "hunter2-xyz", "description": "main db"})
    assert response.status_code == 201
    secret = response.json()
    assert set(secret) == SECRET_FIELDS
    assert secret["name"] == "DB_PASSWORD" and secret["app"] == ("web" if scope == APP else None)
    assert (secret["version"], secret["type"], secret["description"]) == (1, None, "main db")
    assert secret["created_by"] == secret["updated_by"] == "admin"
    assert secret["used_by"] == [] and secret["last_used_at"] is None
    assert "hunter2-xyz" not in response.text
    assert api.get(f"{scope}/secrets/DB_PASSWORD").json() == secret


@pytest.mark.parametrize("scope", SCOPES)
def test_reveal_answers_value_and_version_and_is_audited(api, data_dir, scope) -> None:
    create_secret(api, "TOKEN", "s3cr3t \u00e9\u6f22 \U0001f511", scope=scope)
    response = reveal(api, "TOKEN", scope=scope)
    assert response.status_code == 200
    assert response.json() == {"value": "s3cr3t \u00e9\u6f22 \U0001f511", "version": 1}
    target = "secret:app/web/TOKEN" if scope == APP else "secret:site/TOKEN"
    [event] = audit_rows(data_dir, action="secret.reveal")
    assert (event["target"], event["outcome"], event["actor"], event["site"]) == (target, "ok", "admin", "default")


def test_lists_hold_their_own_scope_and_scope_all_holds_the_whole_site(api) -> None:
    create_secret(api, "SHARED", scope=SITE)
    create_secret(api, "SHARED", scope=APP)
    create_secret(api, "ONLY_APP", scope=APP)
    site_level = api.get(f"{SITE}/secrets").json()["items"]
    app_level = api.get(f"{APP}/secrets").json()["items"]
    everything = api.get(f"{SITE}/secrets?scope=all").json()["items"]
    assert [(s["app"], s["name"]) for s in site_level] == [(None, "SHARED")]
    assert [(s["app"], s["name"]) for s in app_level] == [("web", "ONLY_APP"), ("web", "SHARED")]
    assert sorted((s["app"] or "", s["name"]) for s in everything) == [("", "SHARED"), ("web", "ONLY_APP"), ("web", "SHARED")]
    for item in everything:
        assert set(item) == SECRET_FIELDS


@pytest.mark.parametrize("scope", ["all", "site", ""])
def test_an_app_level_list_refuses_a_scope_rather_than_ignore_it(api, scope) -> None:
    """`?scope=all` on an app's list answered the app's own secrets alone, as if it had asked for them."""
    create_secret(api, "SHARED", scope=SITE)
    details = expect_error(api.get(f"{APP}/secrets?scope={scope}"), 422, "validation_error")
    assert details["errors"][0]["path"] == "/scope"


def test_same_name_in_same_scope_is_already_exists(api, db_rows) -> None:
    create_secret(api, "A", "first")
    before = db_rows()
    expect_error(api.post(f"{SITE}/secrets", json={"name": "A", "value": "second"}), 409, "already_exists")
    assert db_rows() == before
    assert reveal(api, "A").json()["value"] == "first"


@pytest.mark.parametrize("scope", SCOPES)
def test_unknown_secret_is_404_everywhere(api, scope) -> None:
    expect_error(api.get(f"{scope}/secrets/NOPE"), 404, "not_found")
    expect_error(api.patch(f"{scope}/secrets/NOPE", json={"value": "x"}), 404, "not_found")
    expect_error(api.delete(f"{scope}/secrets/NOPE"), 404, "not_found")
    expect_error(reveal(api, "NOPE", scope=scope), 404, "not_found")


def test_site_secret_is_not_found_at_app_scope(api) -> None:
    create_secret(api, "SITE_ONLY")
    expect_error(api.get(f"{APP}/secrets/SITE_ONLY"), 404, "not_found")


@pytest.mark.parametrize("scope", SCOPES)
def test_value_change_makes_a_new_version(api, client, mint, scope) -> None:
    create_secret(api, "A", "one", scope=scope)
    editor = client(mint("editor"))
    response = editor.patch(f"{scope}/secrets/A", json={"value": "two"})
    assert response.status_code == 200
    assert (response.json()["version"], response.json()["updated_by"], response.json()["created_by"]) == (2, "editor-all", "admin")
    assert reveal(api, "A", scope=scope).json() == {"value": "two", "version": 2}


def test_description_change_keeps_the_version(api) -> None:
    create_secret(api, "A", "one")
    response = api.patch(f"{SITE}/secrets/A", json={"description": "line one\nline two"})
    assert response.status_code == 200
    assert (response.json()["version"], response.json()["description"]) == (1, "line one\nline two")
    assert reveal(api, "A").json() == {"value": "one", "version": 1}


def test_matching_expected_version_updates(api) -> None:
    create_secret(api, "A", "one")
    assert api.patch(f"{SITE}/secrets/A", json={"value": "two", "expected_version": 1}).json()["version"] == 2


def test_stale_expected_version_is_version_conflict_and_changes_nothing(api, db_rows) -> None:
    create_secret(api, "A", "one")
    api.patch(f"{SITE}/secrets/A", json={"value": "two"})
    before = db_rows()
    details = expect_error(api.patch(f"{SITE}/secrets/A", json={"value": "three", "expected_version": 1}), 409, "version_conflict")
    assert details["current_version"] == 2
    assert db_rows() == before
    assert reveal(api, "A").json() == {"value": "two", "version": 2}


def test_update_is_audited_without_the_value(api, data_dir) -> None:
    create_secret(api, "A", "first-value-xyz")
    api.patch(f"{SITE}/secrets/A", json={"value": "second-value-xyz"})
    [event] = audit_rows(data_dir, action="secret.update")
    assert event["target"] == "secret:site/A" and "value-xyz" not in str(event)


@pytest.mark.parametrize("scope", SCOPES)
def test_deleted_secret_is_gone_and_audited(api, data_dir, scope) -> None:
    create_secret(api, "A", scope=scope)
    assert api.delete(f"{scope}/secrets/A").status_code == 204
    expect_error(api.get(f"{scope}/secrets/A"), 404, "not_found")
    assert len(audit_rows(data_dir, action="secret.delete")) == 1
    assert api.get("/v1/sites/default").json()["secret_count"] == 0


def test_delete_of_secret_in_use_lists_services(api, db_rows) -> None:
    create_secret(api, "A")
    api.post("/v1/sites/default/services", json={"name": "worker", "secrets": [{"name": "A"}]})
    api.post("/v1/sites/default/services", json={"name": "cron", "secrets": [{"name": "A"}]})
    before = db_rows()
    details = expect_error(api.delete(f"{SITE}/secrets/A"), 409, "secret_in_use")
    assert details["services"] == ["cron", "worker"]
    assert db_rows() == before


def test_secret_lists_the_services_that_use_it(api) -> None:
    create_secret(api, "A", scope=APP)
    api.post("/v1/sites/default/services", json={"name": "worker", "app": "web", "secrets": [{"name": "A", "app": "web"}]})
    assert api.get(f"{APP}/secrets/A").json()["used_by"] == ["worker"]
    assert api.get(f"{APP}/secrets").json()["items"][0]["used_by"] == ["worker"]


def test_no_listing_or_metadata_answer_carries_a_value(api) -> None:
    create_secret(api, "A", "needle-in-the-haystack-4242", scope=SITE)
    create_secret(api, "B", "needle-in-the-haystack-4242", scope=APP)
    for path in (f"{SITE}/secrets", f"{SITE}/secrets?scope=all", f"{APP}/secrets", f"{SITE}/secrets/A", f"{APP}/secrets/B",
                 "/v1/sites/default/audit", "/v1/audit"):
        assert "needle-in-the-haystack" not in api.get(path).text
