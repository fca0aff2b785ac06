"""A service counts as loaded only when it says it started: `GET .../env?record=false` hands out the
values without recording anything, and `POST .../loads` records the versions it was given."""

from __future__ import annotations

import json

import pytest

import dbbackend
from apihelpers import SITE, audit_rows, create_secret, expect_error

APP = f"{SITE}/apps/web"
SERVICES = f"{SITE}/services"


@pytest.fixture(autouse=True)
def worker(api) -> None:
    """Service `worker` of app `web` binds site-level A, and DB both at site level and in `web`;
    A has been changed since the service's last load, so it must restart."""
    assert api.post(f"{SITE}/apps", json={"name": "web"}).status_code == 201
    create_secret(api, "A", "alpha-1")
    create_secret(api, "DB", "site-db")
    create_secret(api, "DB", "app-db", scope=APP)
    body = {"name": "worker", "app": "web", "secrets": [{"name": "A"}, {"name": "DB"}, {"name": "DB", "app": "web"}]}
    assert api.post(SERVICES, json=body).status_code == 201
    assert api.get(f"{SERVICES}/worker/env").status_code == 200
    assert api.patch(f"{SITE}/secrets/A", json={"value": "alpha-2"}).status_code == 200


def record(api, versions: list[dict]):
    return api.post(f"{SERVICES}/worker/loads", json={"versions": versions})


def details_of(event: dict) -> dict:
    return json.loads(event["details"])


def service(api) -> dict:
    return api.get(f"{SERVICES}/worker").json()


def test_env_without_recording_hands_out_the_values_and_changes_no_load(api) -> None:
    before = service(api)
    answer = api.get(f"{SERVICES}/worker/env", params={"record": "false"})
    assert answer.status_code == 200
    assert answer.json()["env"] == {"A": "alpha-2", "DB": "app-db"}
    assert service(api) == before and before["restart_required"] is True


def test_env_without_recording_is_audited_as_a_fetch_that_recorded_nothing(api, data_dir) -> None:
    api.get(f"{SERVICES}/worker/env", params={"record": "false"})
    event = audit_rows(data_dir, action="service.env")[-1]
    assert event["outcome"] == "ok" and details_of(event)["recorded"] is False
    assert "alpha" not in str(event)


def test_env_answer_names_the_version_of_every_binding_it_holds(api) -> None:
    answer = api.get(f"{SERVICES}/worker/env", params={"record": "false"}).json()
    assert answer["loaded_versions"] == [{"name": "A", "app": None, "version": 2}, {"name": "DB", "app": None, "version": 1},
                                         {"name": "DB", "app": "web", "version": 1}]


def test_plain_env_fetch_still_records_the_load(api) -> None:
    api.get(f"{SERVICES}/worker/env")
    assert service(api)["restart_required"] is False


def test_record_value_other_than_true_or_false_is_422_and_records_nothing(api, db_rows) -> None:
    before = db_rows()
    details = expect_error(api.get(f"{SERVICES}/worker/env", params={"record": "no"}), 422, "validation_error")
    assert details["errors"][0]["path"] == "/record"
    assert db_rows() == before


def test_recording_the_versions_handed_out_clears_restart_required(api) -> None:
    answer = api.get(f"{SERVICES}/worker/env", params={"record": "false"}).json()
    response = record(api, answer["loaded_versions"])
    assert response.status_code == 200, response.text
    assert response.json() == service(api)
    assert response.json()["restart_required"] is False and response.json()["stale"] == []
    assert response.json()["loaded_versions"] == answer["loaded_versions"]


def test_recording_a_load_marks_the_secrets_used(api) -> None:
    loaded = record(api, [{"name": "A", "version": 2}]).json()
    assert api.get(f"{SITE}/secrets/A").json()["last_used_at"] == loaded["loaded_at"]


def test_recording_a_load_is_audited_with_names_and_no_values(api, data_dir, mint, client) -> None:
    caller = client(mint("service", site="default", service="worker"))
    assert record(caller, [{"name": "A", "version": 2}, {"name": "DB", "app": "web", "version": 1}]).status_code == 200
    [event] = audit_rows(data_dir, action="service.load")
    assert (event["actor"], event["target"], event["outcome"]) == ("service-default", "service:worker", "ok")
    assert details_of(event)["secrets"] == ["A", "DB"]
    assert "alpha" not in str(event) and "app-db" not in str(event)


def test_an_older_version_recorded_leaves_the_service_flagged(api) -> None:
    # the secret changed between the fetch and the record: the service runs version 1, which is stale
    loaded = record(api, [{"name": "A", "version": 1}]).json()
    assert loaded["restart_required"] is True and loaded["stale"] == [{"name": "A", "app": None}]


def test_a_version_never_served_is_422_and_changes_nothing(api, db_rows) -> None:
    before = db_rows()
    details = expect_error(record(api, [{"name": "A", "version": 3}]), 422, "validation_error")
    assert details["errors"] == [{"path": "/versions/0/version", "message": "version 3 was never served; the current one is 2"}]
    assert db_rows() == before


@pytest.mark.parametrize("entry", [{"name": "UNBOUND", "version": 1}, {"name": "A", "app": "web", "version": 1}],
                         ids=["not-bound", "other-scope"])
def test_a_secret_the_service_does_not_bind_is_422_and_changes_nothing(api, db_rows, entry) -> None:
    create_secret(api, "UNBOUND")
    before = db_rows()
    details = expect_error(record(api, [{"name": "A", "version": 2}, entry]), 422, "validation_error")
    assert [e["path"] for e in details["errors"]] == ["/versions/1"]
    assert db_rows() == before


def test_a_binding_whose_secret_does_not_exist_cannot_be_recorded(api, db_rows) -> None:
    api.patch(f"{SERVICES}/worker", json={"secrets": [{"name": "A"}, {"name": "LATER"}]})
    before = db_rows()
    expect_error(record(api, [{"name": "LATER", "version": 1}]), 422, "validation_error")
    assert db_rows() == before


def test_a_withheld_site_level_binding_cannot_be_recorded(api, db_rows, data_dir) -> None:
    # a site-level binding of an app that no longer allows them is never delivered, so never loaded
    dbbackend.rows(data_dir, "UPDATE apps SET site_secrets = 0 WHERE name = 'web'")  # as a database from before the 409 may hold
    assert api.get(f"{SERVICES}/worker/env", params={"record": "false"}).json()["loaded_versions"] == [
        {"name": "DB", "app": "web", "version": 1}]
    before = db_rows()
    details = expect_error(record(api, [{"name": "A", "version": 2}]), 422, "validation_error")
    assert details["errors"][0]["path"] == "/versions/0"
    assert db_rows() == before


def test_the_same_binding_twice_is_422(api) -> None:
    details = expect_error(record(api, [{"name": "A", "version": 2}, {"name": "A", "version": 1}]), 422, "validation_error")
    assert details["errors"][0]["path"] == "/versions/1"


@pytest.mark.parametrize("body", [{}, {"versions": [{"name": "A"}]}, {"versions": [{"name": "A", "version": 0}]},
                                  {"versions": [{"name": "A", "version": "2"}]}, {"versions": [], "extra": 1}],
                         ids=["no-versions", "no-version", "version-0", "version-string", "unknown-field"])
def test_a_malformed_body_is_422(api, body) -> None:
    expect_error(api.post(f"{SERVICES}/worker/loads", json=body), 422, "validation_error")


def test_an_empty_record_marks_a_service_with_no_bindings_loaded(api) -> None:
    assert api.post(SERVICES, json={"name": "bare", "secrets": []}).status_code == 201
    response = api.post(f"{SERVICES}/bare/loads", json={"versions": []})
    assert response.status_code == 200 and response.json()["loaded_at"] is not None


def test_recording_the_load_of_an_unknown_service_is_404(api) -> None:
    expect_error(api.post(f"{SERVICES}/nope/loads", json={"versions": []}), 404, "not_found")
