"""Limits: secrets per site (both scopes together), value size and name length, per-site overrides,
and the secrets-per-site limit holding under concurrent requests on a real socket; then the apps,
services, secret types and live tokens a site may hold."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest

from apihelpers import SITE, create_secret, expect_error, expire_token

SECRETS = f"{SITE}/secrets"


def fill(api: httpx.Client, count: int, prefix: str = "S", scope: str = SITE) -> None:
    for i in range(count):
        create_secret(api, f"{prefix}{i}", scope=scope)


def test_101st_secret_is_limit_exceeded_and_changes_nothing(api, db_rows) -> None:
    api.post(f"{SITE}/apps", json={"name": "web"})
    fill(api, 60)
    fill(api, 40, scope=f"{SITE}/apps/web")  # app-level secrets count against the site too
    before = db_rows()
    for scope in (SITE, f"{SITE}/apps/web"):
        details = expect_error(api.post(f"{scope}/secrets", json={"name": "ONE_TOO_MANY", "value": "v"}), 409, "limit_exceeded")
        assert details["limit"] == 100
    assert db_rows() == before
    assert api.get(SITE).json()["secret_count"] == 100


def test_updates_and_deletes_still_work_at_the_limit(api) -> None:
    fill(api, 100)
    assert api.patch(f"{SECRETS}/S0", json={"value": "new"}).status_code == 200
    assert api.delete(f"{SECRETS}/S1").status_code == 204
    assert api.post(SECRETS, json={"name": "AGAIN", "value": "v"}).status_code == 201


def test_limit_is_per_site(api) -> None:
    api.post("/v1/sites", json={"name": "shop"})
    api.patch("/v1/sites/shop", json={"limits": {"max_secrets": 2}})
    fill(api, 2, scope="/v1/sites/shop")
    expect_error(api.post("/v1/sites/shop/secrets", json={"name": "THIRD", "value": "v"}), 409, "limit_exceeded")
    assert api.post(SECRETS, json={"name": "THIRD", "value": "v"}).status_code == 201


def test_raised_limits_allow_more_and_bigger(api) -> None:
    api.patch(SITE, json={"limits": {"max_secrets": 102, "max_value_bytes": 100_000, "max_name_length": 300}})
    fill(api, 102)
    expect_error(api.post(SECRETS, json={"name": "X", "value": "v"}), 409, "limit_exceeded")
    api.delete(f"{SECRETS}/S0")
    assert api.post(SECRETS, json={"name": "N" * 300, "value": "x" * 100_000}).status_code == 201
    api.delete(f"{SECRETS}/S1")
    response = api.post(SECRETS, json={"name": "BIG", "value": "x" * 100_001})
    assert expect_error(response, 413, "value_too_large")["limit_bytes"] == 100_000


def test_lowered_name_limit_refuses_longer_names(api, db_rows) -> None:
    api.patch(SITE, json={"limits": {"max_name_length": 8}})
    before = db_rows()
    details = expect_error(api.post(SECRETS, json={"name": "NINE_CHAR", "value": "v"}), 422, "validation_error")
    assert details["errors"][0]["path"] == "/name"
    assert db_rows() == before
    assert api.post(SECRETS, json={"name": "EIGHT_CH", "value": "v"}).status_code == 201


def test_limits_hold_under_concurrent_creates_through_a_real_socket(live_server) -> None:
    headers = {"Authorization": f"Bearer {live_server.admin_token}"}
    with httpx.Client(base_url=live_server.url, headers=headers) as admin:
        fill(admin, 95, prefix="BASE")
    start = threading.Barrier(50)
    outcomes: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def create(i: int) -> None:
        with httpx.Client(base_url=live_server.url, headers=headers, timeout=30) as own:
            own.get("/v1/health")  # connect before the race, so the race is between requests
            start.wait()
            response = own.post(SECRETS, json={"name": f"RACE{i}", "value": "v"})
        code = response.json()["error"]["code"] if response.status_code != 201 else None
        with lock:
            outcomes.append((response.status_code, code))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(outcomes) == {(201, None): 5, (409, "limit_exceeded"): 45}
    with httpx.Client(base_url=live_server.url, headers=headers) as admin:
        assert admin.get(SITE).json()["secret_count"] == 100
        assert len(admin.get(f"{SECRETS}?scope=all").json()["items"]) == 100


# What a site holds besides secrets: each is bounded too, or one tenant could grow every listing
# of the site and the operator's disk without end (a type holds up to a megabyte of schema).

MAKERS = {
    "max_apps": lambda api, n: api.post(f"{SITE}/apps", json={"name": f"app-{n}"}),
    "max_services": lambda api, n: api.post(f"{SITE}/services", json={"name": f"svc-{n}", "secrets": []}),
    "max_types": lambda api, n: api.post(f"{SITE}/secret-types", json={"key": f"t{n}", "name": "T", "schema": {"type": "string"}}),
    "max_tokens": lambda api, n: api.post("/v1/tokens", json={"name": f"tok-{n}", "role": "viewer", "site": "default"}),
}


@pytest.mark.parametrize("setting", MAKERS)
def test_a_site_at_its_limit_of_apps_services_types_or_tokens_makes_no_more(api, db_rows, setting) -> None:
    assert api.patch(SITE, json={"limits": {setting: 3}}).json()["limits"][setting] == 3
    for n in range(3):
        assert MAKERS[setting](api, n).status_code == 201
    before = db_rows()
    details = expect_error(MAKERS[setting](api, 3), 409, "limit_exceeded")
    assert details == {"limit": 3, "setting": setting}
    assert db_rows() == before


@pytest.mark.parametrize("setting", MAKERS)
def test_the_limits_of_apps_services_types_and_tokens_are_per_site(api, setting) -> None:
    assert api.post("/v1/sites", json={"name": "shop"}).status_code == 201
    assert api.patch("/v1/sites/shop", json={"limits": {setting: 1}}).status_code == 200
    for n in range(2):
        assert MAKERS[setting](api, n).status_code == 201  # the default site keeps the server's default


def test_the_defaults_and_their_bounds(api, db_rows) -> None:
    limits = api.get(SITE).json()["limits"]
    assert {s: limits[s] for s in MAKERS} == {"max_apps": 100, "max_services": 500, "max_types": 100, "max_tokens": 1000}
    before = db_rows()
    for setting in MAKERS:
        for bad in (0, 100_001, 1.5, "9"):
            expect_error(api.patch(SITE, json={"limits": {setting: bad}}), 422, "validation_error")
    assert db_rows() == before
    assert api.patch(SITE, json={"limits": {"max_apps": 7}}).json()["limits"]["max_apps"] == 7
    assert api.patch(SITE, json={"limits": {"max_apps": None}}).json()["limits"]["max_apps"] == 100  # null: the default again


def test_a_lowered_limit_keeps_what_the_site_holds_and_refuses_more(api) -> None:
    for n in range(3):
        assert MAKERS["max_apps"](api, n).status_code == 201
    assert api.patch(SITE, json={"limits": {"max_apps": 2}}).status_code == 200
    assert len(api.get(f"{SITE}/apps").json()["items"]) == 3
    expect_error(MAKERS["max_apps"](api, 3), 409, "limit_exceeded")
    assert api.delete(f"{SITE}/apps/app-0").status_code == 204
    expect_error(MAKERS["max_apps"](api, 3), 409, "limit_exceeded")  # 2 held, 2 allowed
    assert api.delete(f"{SITE}/apps/app-1").status_code == 204
    assert MAKERS["max_apps"](api, 3).status_code == 201


def test_expired_tokens_count_toward_no_limit(api, state, data_dir) -> None:
    """A deploy that makes a token expiring in a day, every day, must not fill its site: only
    tokens that still work count (and the server removes expired ones a week later)."""
    assert api.patch(SITE, json={"limits": {"max_tokens": 1}}).status_code == 200
    made = api.post("/v1/tokens", json={"name": "deploy-1", "role": "viewer", "site": "default", "expires_in_days": 1}).json()
    expect_error(MAKERS["max_tokens"](api, 1), 409, "limit_exceeded")
    expire_token(state, data_dir, made["id"], "2020-01-01T00:00:00Z")
    assert api.get(SITE).json()["usage"]["tokens"] == 0
    assert MAKERS["max_tokens"](api, 1).status_code == 201
    assert api.get(SITE).json()["usage"]["tokens"] == 1


def test_an_operators_token_counts_toward_no_site(api) -> None:
    assert api.patch(SITE, json={"limits": {"max_tokens": 1}}).status_code == 200
    for n in range(3):
        assert api.post("/v1/tokens", json={"name": f"operator-{n}", "role": "admin"}).status_code == 201


def test_usage_counts_apps_and_types(api) -> None:
    for setting in ("max_apps", "max_types", "max_services"):
        for n in range(2):
            assert MAKERS[setting](api, n).status_code == 201
    usage = api.get(SITE).json()["usage"]
    assert (usage["apps"], usage["types"], usage["services"]) == (2, 2, 2)
    [listed] = api.get("/v1/sites").json()["items"]
    assert listed["usage"] == usage


def test_app_limit_holds_under_concurrent_creates_through_a_real_socket(live_server) -> None:
    headers = {"Authorization": f"Bearer {live_server.admin_token}"}
    with httpx.Client(base_url=live_server.url, headers=headers) as admin:
        assert admin.patch(SITE, json={"limits": {"max_apps": 5}}).status_code == 200
    start = threading.Barrier(20)
    outcomes: list[int] = []
    lock = threading.Lock()

    def create(i: int) -> None:
        with httpx.Client(base_url=live_server.url, headers=headers, timeout=30) as own:
            own.get("/v1/health")
            start.wait()
            response = own.post(f"{SITE}/apps", json={"name": f"race-{i}"})
        with lock:
            outcomes.append(response.status_code)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(outcomes) == {201: 5, 409: 15}
    with httpx.Client(base_url=live_server.url, headers=headers) as admin:
        assert len(admin.get(f"{SITE}/apps").json()["items"]) == 5

