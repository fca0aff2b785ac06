"""Services: bindings and their rules, the environment endpoint, `restart_required` and `stale`."""

from __future__ import annotations

import json

import pytest

from shared import models

import dbbackend
from apihelpers import SITE, audit_rows, create_secret, expect_error, racing_the_token_sweep

APP = f"{SITE}/apps/web"
SERVICES = f"{SITE}/services"


@pytest.fixture(autouse=True)
def apps(api) -> None:
    assert api.post(f"{SITE}/apps", json={"name": "web"}).status_code == 201
    assert api.post(f"{SITE}/apps", json={"name": "closed", "site_secrets": False}).status_code == 201


def make_service(api, name: str, secrets: list[dict], app: str | None = None) -> dict:
    body = {"name": name, "secrets": secrets} | ({"app": app} if app else {})
    response = api.post(SERVICES, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_created_service_is_listed_and_readable(api) -> None:
    service = make_service(api, "worker", [{"name": "A"}, {"name": "B", "app": "web"}], app="web")
    assert service == {"name": "worker", "app": "web", "secrets": [{"name": "A", "app": None}, {"name": "B", "app": "web"}],
                       "loaded_at": None, "restart_required": False, "stale": service["stale"],
                       "loaded_versions": [{"name": "A", "app": None, "version": None},
                                           {"name": "B", "app": "web", "version": None}]}
    assert api.get(SERVICES).json()["items"] == [service]
    assert api.get(f"{SERVICES}/worker").json() == service


def test_service_name_taken_is_already_exists(api, db_rows) -> None:
    make_service(api, "worker", [])
    before = db_rows()
    expect_error(api.post(SERVICES, json={"name": "worker", "secrets": []}), 409, "already_exists")
    assert db_rows() == before


def test_unknown_service_is_404(api) -> None:
    expect_error(api.get(f"{SERVICES}/nope"), 404, "not_found")
    expect_error(api.patch(f"{SERVICES}/nope", json={"secrets": []}), 404, "not_found")
    expect_error(api.delete(f"{SERVICES}/nope"), 404, "not_found")
    expect_error(api.get(f"{SERVICES}/nope/env"), 404, "not_found")


def test_service_of_unknown_app_is_404(api, db_rows) -> None:
    before = db_rows()
    expect_error(api.post(SERVICES, json={"name": "worker", "app": "nope", "secrets": []}), 404, "not_found")
    assert db_rows() == before


def test_site_secrets_are_refused_for_an_app_that_disallows_them(api, db_rows) -> None:
    create_secret(api, "SHARED")
    before = db_rows()
    response = api.post(SERVICES, json={"name": "worker", "app": "closed", "secrets": [{"name": "SHARED"}]})
    assert expect_error(response, 422, "validation_error")["errors"][0]["path"] == "/secrets/0"
    assert db_rows() == before


def test_binding_site_secret_after_app_disallows_them_is_refused(api) -> None:
    make_service(api, "worker", [], app="web")
    api.patch(f"{SITE}/apps/web", json={"site_secrets": False})
    expect_error(api.patch(f"{SERVICES}/worker", json={"secrets": [{"name": "SHARED"}]}), 422, "validation_error")


def test_service_may_not_bind_another_apps_secrets(api, db_rows) -> None:
    before = db_rows()
    for body in ({"name": "s1", "app": "web", "secrets": [{"name": "X", "app": "closed"}]},
                 {"name": "s2", "secrets": [{"name": "X", "app": "web"}]}):
        details = expect_error(api.post(SERVICES, json=body), 422, "validation_error")
        assert details["errors"][0]["path"] == "/secrets/0/app"
    assert db_rows() == before


def test_binding_the_same_secret_twice_is_422(api) -> None:
    expect_error(api.post(SERVICES, json={"name": "s", "secrets": [{"name": "A"}, {"name": "A"}]}), 422, "validation_error")


def test_binding_a_name_the_site_could_never_make_is_422(api, db_rows) -> None:
    """A binding may wait for a secret not made yet, but not for one over the site's name limit:
    it could never be made, and the service would list it as missing for ever."""
    before = db_rows()
    body = {"name": "waits", "secrets": [{"name": "A" * 257}]}
    details = expect_error(api.post(SERVICES, json=body), 422, "validation_error")
    assert details["errors"][0]["path"] == "/secrets/0/name" and "at most 256" in details["errors"][0]["message"]
    assert db_rows() == before
    assert api.post(SERVICES, json={"name": "waits", "secrets": [{"name": "A" * 256}]}).status_code == 201


def test_a_secret_named_under_a_higher_name_limit_stays_bindable(api) -> None:
    api.patch(SITE, json={"limits": {"max_name_length": 300}})
    create_secret(api, "L" * 300)
    api.patch(SITE, json={"limits": {"max_name_length": 256}})
    assert api.post(SERVICES, json={"name": "old", "secrets": [{"name": "L" * 300}]}).status_code == 201
    expect_error(api.patch(f"{SERVICES}/old", json={"secrets": [{"name": "M" * 300}]}), 422, "validation_error")


def test_env_holds_exactly_the_bound_secrets_and_app_level_wins(api) -> None:
    create_secret(api, "DB_URL", "site-db")
    create_secret(api, "DB_URL", "app-db", scope=APP)
    create_secret(api, "SHARED", "shared-value")
    create_secret(api, "UNBOUND", "never-handed-out")
    make_service(api, "worker", [{"name": "DB_URL", "app": "web"}, {"name": "DB_URL"}, {"name": "SHARED"}], app="web")
    api.patch(f"{APP}/secrets/DB_URL", json={"value": "app-db-2"})
    response = api.get(f"{SERVICES}/worker/env")
    assert response.status_code == 200
    assert response.json()["env"] == {"DB_URL": "app-db-2", "SHARED": "shared-value"}
    assert response.json()["versions"] == {"DB_URL": 2, "SHARED": 1}


def test_env_answer_is_the_service_env_model_to_the_byte(api) -> None:
    # the answer is written without the model (see `services.env_answer`): it must still be
    # exactly what the model writes, field order, nulls and escapes included
    create_secret(api, "SITE_ONLY", 'quote " backslash \\ newline \n tab \t bell \x07 \u00e9 \u2028 \U0001f511')
    create_secret(api, "DB_URL", "app-db", scope=APP)
    make_service(api, "worker", [{"name": "DB_URL", "app": "web"}, {"name": "SITE_ONLY"}, {"name": "NOT_YET"}], app="web")
    body = api.get(f"{SERVICES}/worker/env").content
    answer = models.ServiceEnv.model_validate_json(body)
    assert answer.missing == [models.SecretRef(name="NOT_YET")] and len(answer.loaded_versions) == 2
    assert body == answer.model_dump_json(by_alias=True).encode()


def test_env_by_the_services_own_token(api, client, mint, data_dir) -> None:
    create_secret(api, "A", "alpha")
    make_service(api, "worker", [{"name": "A"}])
    caller = client(mint("service", site="default", service="worker"))
    assert caller.get(f"{SERVICES}/worker/env").json()["env"] == {"A": "alpha"}
    [event] = audit_rows(data_dir, action="service.env")
    assert (event["actor"], event["target"], event["outcome"]) == ("service-default", "service:worker", "ok")
    assert "alpha" not in str(event)


def test_env_records_the_load_and_last_use(api) -> None:
    create_secret(api, "A")
    create_secret(api, "B")
    make_service(api, "worker", [{"name": "A"}])
    api.get(f"{SERVICES}/worker/env")
    service = api.get(f"{SERVICES}/worker").json()
    assert service["loaded_at"] is not None and service["restart_required"] is False and service["stale"] == []
    assert api.get(f"{SITE}/secrets/A").json()["last_used_at"] == service["loaded_at"]
    assert api.get(f"{SITE}/secrets/B").json()["last_used_at"] is None


def test_value_change_after_load_requires_restart_until_next_fetch(api) -> None:
    create_secret(api, "A", "one")
    create_secret(api, "B", "b")
    make_service(api, "worker", [{"name": "A"}, {"name": "B"}])
    api.get(f"{SERVICES}/worker/env")
    api.patch(f"{SITE}/secrets/A", json={"value": "two"})
    service = api.get(f"{SERVICES}/worker").json()
    assert service["restart_required"] is True and service["stale"] == [{"name": "A", "app": None}]
    assert api.get(f"{SERVICES}/worker/env").json()["env"]["A"] == "two"
    service = api.get(f"{SERVICES}/worker").json()
    assert service["restart_required"] is False and service["stale"] == []


def test_a_head_of_the_environment_records_no_load(api) -> None:
    # a monitor's `curl -I` hands the service nothing: it must not clear the restart flag
    create_secret(api, "A", "one")
    make_service(api, "worker", [{"name": "A"}])
    tag = api.get(f"{SERVICES}/worker/env").headers["ETag"]
    api.patch(f"{SITE}/secrets/A", json={"value": "two"})
    response = api.head(f"{SERVICES}/worker/env")
    assert response.status_code == 200 and response.headers["ETag"] != tag
    service = api.get(f"{SERVICES}/worker").json()
    assert service["restart_required"] is True and service["loaded_versions"][0]["version"] == 1


def test_description_change_does_not_require_restart(api) -> None:
    create_secret(api, "A")
    make_service(api, "worker", [{"name": "A"}])
    api.get(f"{SERVICES}/worker/env")
    api.patch(f"{SITE}/secrets/A", json={"description": "new words"})
    assert api.get(f"{SERVICES}/worker").json()["restart_required"] is False


def test_binding_whose_secret_does_not_exist_is_left_out_and_stale(api) -> None:
    create_secret(api, "A", "alpha")
    make_service(api, "worker", [{"name": "A"}, {"name": "LATER"}])
    env = api.get(f"{SERVICES}/worker/env").json()
    assert env["env"] == {"A": "alpha"} and "LATER" not in env["versions"]
    service = api.get(f"{SERVICES}/worker").json()
    assert service["stale"] == [{"name": "LATER", "app": None}] and service["restart_required"] is False


def test_secret_appearing_after_load_requires_restart(api) -> None:
    make_service(api, "worker", [{"name": "LATER"}])
    api.get(f"{SERVICES}/worker/env")
    create_secret(api, "LATER")
    service = api.get(f"{SERVICES}/worker").json()
    assert service["restart_required"] is True and service["stale"] == [{"name": "LATER", "app": None}]


def test_never_loaded_service_needs_no_restart_and_lists_only_missing_secrets_as_stale(api) -> None:
    create_secret(api, "A")
    service = make_service(api, "worker", [{"name": "A"}, {"name": "MISSING"}])
    assert service["restart_required"] is False
    assert service["stale"] == [{"name": "MISSING", "app": None}]


def test_rebinding_replaces_bindings_and_keeps_loaded_versions(api) -> None:
    create_secret(api, "A")
    create_secret(api, "B")
    make_service(api, "worker", [{"name": "A"}])
    api.get(f"{SERVICES}/worker/env")
    response = api.patch(f"{SERVICES}/worker", json={"secrets": [{"name": "A"}, {"name": "B"}]})
    assert response.status_code == 200
    assert response.json()["secrets"] == [{"name": "A", "app": None}, {"name": "B", "app": None}]
    assert response.json()["stale"] == [{"name": "B", "app": None}] and response.json()["restart_required"] is True
    assert api.get(f"{SITE}/secrets/B").json()["used_by"] == ["worker"]


def test_deleted_service_frees_its_secrets(api) -> None:
    create_secret(api, "A")
    make_service(api, "worker", [{"name": "A"}])
    assert api.delete(f"{SERVICES}/worker").status_code == 204
    expect_error(api.get(f"{SERVICES}/worker"), 404, "not_found")
    assert api.delete(f"{SITE}/secrets/A").status_code == 204


@pytest.mark.postgresql_only(reason="only PostgreSQL runs two writes at once: SQLite's one writer reads after the other commits")
def test_a_service_token_the_sweep_removes_during_the_services_delete_is_not_revoked_twice(api, mint, data_dir) -> None:
    """The sweep of long-expired tokens removes a service's token while the service is deleted:
    the token's removal is audited once, by whichever removed it, never by both."""
    make_service(api, "worker", [])
    mint("service", site="default", service="worker")
    [token] = dbbackend.rows(data_dir, "SELECT id FROM tokens WHERE service = 'worker'")
    assert racing_the_token_sweep(data_dir, token["id"], lambda: api.delete(f"{SERVICES}/worker")).status_code == 204
    [deleted] = audit_rows(data_dir, action="service.delete")
    assert json.loads(deleted["details"]) == {"tokens_revoked": 0}
    assert audit_rows(data_dir, action="token.delete") == []


def test_app_that_stops_allowing_site_secrets_stops_receiving_them(api) -> None:
    create_secret(api, "SHARED", "site-value")
    create_secret(api, "OWN", "app-value", scope=APP)
    make_service(api, "worker", [{"name": "OWN", "app": "web"}], app="web")
    assert api.patch(f"{SITE}/apps/web", json={"site_secrets": False}).status_code == 200
    expect_error(api.patch(f"{SERVICES}/worker", json={"secrets": [{"name": "SHARED"}]}), 422, "validation_error")
    env = api.get(f"{SERVICES}/worker/env").json()
    assert env["env"] == {"OWN": "app-value"} and "site-value" not in str(env)
