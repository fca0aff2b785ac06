"""Limits: secrets per site (both scopes together), value size and name length, per-site overrides,
and the secrets-per-site limit holding under concurrent requests on a real socket."""

from __future__ import annotations

import threading
from collections import Counter

import httpx

from apihelpers import SITE, create_secret, expect_error

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
