"""Sites and apps: create, list, read, change, delete when empty; names unique; unknown ones 404."""

from __future__ import annotations

import re

from apihelpers import create_secret, expect_error

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_init_creates_site_default_with_default_limits(api) -> None:
    site = api.get("/v1/sites/default").json()
    assert site["name"] == "default" and site["secret_count"] == 0
    assert site["limits"] == {"max_secrets": 100, "max_value_bytes": 65536, "max_name_length": 256,
                              "max_versions": 10, "trash_days": 30, "audit_retention_days": 400,
                              "max_apps": 100, "max_services": 500, "max_types": 100, "max_tokens": 1000}
    assert TIMESTAMP.match(site["created_at"])


def test_created_site_is_listed_and_readable(api) -> None:
    response = api.post("/v1/sites", json={"name": "shop"})
    assert response.status_code == 201
    assert response.json()["name"] == "shop" and response.json()["secret_count"] == 0
    assert [s["name"] for s in api.get("/v1/sites").json()["items"]] == ["default", "shop"]
    assert api.get("/v1/sites/shop").json() == response.json()


def test_site_name_taken_is_already_exists(api, db_rows) -> None:
    before = db_rows()
    expect_error(api.post("/v1/sites", json={"name": "default"}), 409, "already_exists")
    assert db_rows() == before


def test_unknown_site_is_404(api) -> None:
    expect_error(api.get("/v1/sites/nope"), 404, "not_found")
    expect_error(api.get("/v1/sites/nope/secrets"), 404, "not_found")
    expect_error(api.post("/v1/sites/nope/secrets", json={"name": "A", "value": "v"}), 404, "not_found")


def test_secret_count_counts_both_scopes(api) -> None:
    api.post("/v1/sites/default/apps", json={"name": "web"})
    create_secret(api, "A")
    create_secret(api, "A", scope="/v1/sites/default/apps/web")
    assert api.get("/v1/sites/default").json()["secret_count"] == 2
    assert api.get("/v1/sites").json()["items"][0]["secret_count"] == 2


def test_admin_raises_a_sites_limits(api) -> None:
    response = api.patch("/v1/sites/default", json={"limits": {"max_secrets": 150, "max_value_bytes": 100_000}})
    assert response.status_code == 200
    assert response.json()["limits"] == {"max_secrets": 150, "max_value_bytes": 100_000, "max_name_length": 256,
                                         "max_versions": 10, "trash_days": 30, "audit_retention_days": 400,
                                         "max_apps": 100, "max_services": 500, "max_types": 100, "max_tokens": 1000}
    assert api.get("/v1/sites/default").json()["limits"]["max_secrets"] == 150


def test_limit_change_is_audited(api) -> None:
    api.patch("/v1/sites/default", json={"limits": {"max_name_length": 300}})
    event = api.get("/v1/sites/default/audit?action=site.update").json()["items"][0]
    assert event["details"] == {"limits": {"max_name_length": 300}}


def test_empty_site_can_be_deleted(api) -> None:
    api.post("/v1/sites", json={"name": "shop"})
    assert api.delete("/v1/sites/shop").status_code == 204
    expect_error(api.get("/v1/sites/shop"), 404, "not_found")


def test_delete_of_site_with_contents_is_site_not_empty(api, db_rows) -> None:
    create_secret(api, "A")
    api.post("/v1/sites/default/apps", json={"name": "web"})
    before = db_rows()
    details = expect_error(api.delete("/v1/sites/default"), 409, "site_not_empty")
    assert details["contents"] == {"apps": 1, "secrets": 1}
    assert db_rows() == before


def test_delete_of_site_revokes_its_bound_tokens(api, client, mint) -> None:
    api.post("/v1/sites", json={"name": "shop"})
    bound = client(mint("viewer", site="shop"))
    assert bound.get("/v1/sites/shop").status_code == 200
    assert api.delete("/v1/sites/shop").status_code == 204
    expect_error(bound.get("/v1/whoami"), 401, "unauthorized")


def test_site_bound_admin_may_not_create_sites(client, mint, db_rows) -> None:
    bound = client(mint("admin", site="default"))
    before = db_rows()
    expect_error(bound.post("/v1/sites", json={"name": "shop"}), 403, "forbidden")
    after = db_rows()
    assert after.pop("audit_events")[0][0] == before.pop("audit_events")[0][0] + 1  # the denied attempt
    assert after == before


def test_app_create_list_read_update_delete(api) -> None:
    created = api.post("/v1/sites/default/apps", json={"name": "web"})
    assert created.status_code == 201
    assert created.json()["name"] == "web" and created.json()["site_secrets"] is True
    assert TIMESTAMP.match(created.json()["created_at"])
    assert api.post("/v1/sites/default/apps", json={"name": "cron", "site_secrets": False}).json()["site_secrets"] is False
    assert [a["name"] for a in api.get("/v1/sites/default/apps").json()["items"]] == ["cron", "web"]
    assert api.get("/v1/sites/default/apps/web").json() == created.json()
    updated = api.patch("/v1/sites/default/apps/web", json={"site_secrets": False})
    assert updated.status_code == 200 and updated.json()["site_secrets"] is False
    assert api.delete("/v1/sites/default/apps/web").status_code == 204
    expect_error(api.get("/v1/sites/default/apps/web"), 404, "not_found")


def test_app_name_taken_is_already_exists(api, db_rows) -> None:
    api.post("/v1/sites/default/apps", json={"name": "web"})
    before = db_rows()
    expect_error(api.post("/v1/sites/default/apps", json={"name": "web"}), 409, "already_exists")
    assert db_rows() == before


def test_same_app_name_in_two_sites_is_fine(api) -> None:
    api.post("/v1/sites", json={"name": "shop"})
    assert api.post("/v1/sites/default/apps", json={"name": "web"}).status_code == 201
    assert api.post("/v1/sites/shop/apps", json={"name": "web"}).status_code == 201


def test_unknown_app_is_404(api) -> None:
    expect_error(api.get("/v1/sites/default/apps/nope"), 404, "not_found")
    expect_error(api.patch("/v1/sites/default/apps/nope", json={"site_secrets": True}), 404, "not_found")
    expect_error(api.delete("/v1/sites/default/apps/nope"), 404, "not_found")
    expect_error(api.get("/v1/sites/default/apps/nope/secrets"), 404, "not_found")


def test_delete_of_app_with_secrets_is_app_not_empty(api, db_rows) -> None:
    api.post("/v1/sites/default/apps", json={"name": "web"})
    create_secret(api, "A", scope="/v1/sites/default/apps/web")
    before = db_rows()
    details = expect_error(api.delete("/v1/sites/default/apps/web"), 409, "app_not_empty")
    assert details["contents"] == {"secrets": 1}
    assert db_rows() == before


def test_delete_of_app_with_a_service_is_app_not_empty(api) -> None:
    api.post("/v1/sites/default/apps", json={"name": "web"})
    api.post("/v1/sites/default/services", json={"name": "worker", "app": "web", "secrets": []})
    expect_error(api.delete("/v1/sites/default/apps/web"), 409, "app_not_empty")
