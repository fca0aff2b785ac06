"""Tenants of one host stay apart: one tenant's mistakes or attacks never reach another's data,
limits, audit log or access (API.md, "Tenancy rules")."""

from __future__ import annotations

from apihelpers import SITE, audit_rows, expect_error

BAD_TOKEN = "ss_" + "A" * 43


def test_bad_tokens_from_a_shared_address_never_throttle_valid_tokens(app, client, api) -> None:
    guesser = client(BAD_TOKEN)  # every client here connects from 127.0.0.1, as a host's tenants do
    statuses = [guesser.get("/v1/whoami").status_code for _ in range(app.limiter.threshold + 1)]
    assert statuses == [401] * app.limiter.threshold + [429]
    assert api.get(f"{SITE}/secrets").status_code == 200
    expect_error(guesser.get("/v1/whoami"), 429, "rate_limited")


def test_site_bound_admin_may_not_change_its_sites_limits(api, as_role, data_dir, db_rows) -> None:
    tenant = as_role("admin", site="default")
    before = db_rows()
    expect_error(tenant.patch(SITE, json={"limits": {"max_secrets": 100_000, "max_value_bytes": 512 * 1024}}), 403, "forbidden")
    after = db_rows()
    assert after.pop("audit_events")[0][0] == before.pop("audit_events")[0][0] + 1
    assert after == before
    [denied] = audit_rows(data_dir, action="site.update")
    assert (denied["outcome"], denied["actor"], denied["site"]) == ("denied", "admin-default", "default")
    assert api.patch(SITE, json={"limits": {"max_secrets": 150}}).json()["limits"]["max_secrets"] == 150


def test_site_bound_admin_still_manages_its_own_apps_tokens_and_audit(as_role) -> None:
    tenant = as_role("admin", site="default")
    assert tenant.post(f"{SITE}/apps", json={"name": "web"}).status_code == 201
    assert tenant.post("/v1/tokens", json={"name": "ci", "role": "editor"}).status_code == 201
    assert tenant.get(f"{SITE}/audit").status_code == 200
