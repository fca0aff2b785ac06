"""The operator's views (API.md "Operator views"): what each site holds against its limits, a site
deleted with everything in it, and the tokens of one site."""

from __future__ import annotations

import httpx
import pytest

import dbbackend
from apihelpers import create_secret, expect_error, stored_values

SHOP = "/v1/sites/shop"
EMPTY = {"secrets": 0, "value_bytes": 0, "services": 0, "tokens": 0, "trash": 0, "trash_value_bytes": 0, "apps": 0, "types": 0}


def fill_shop(api: httpx.Client, mint) -> None:
    """A site with one of everything: an app, a type, secrets in both scopes with older versions,
    one in the trash, a service with bindings, and a token."""
    assert api.post("/v1/sites", json={"name": "shop"}).status_code == 201
    assert api.post(f"{SHOP}/apps", json={"name": "web"}).status_code == 201
    assert api.post(f"{SHOP}/secret-types", json={"key": "plain", "name": "Plain", "schema": {"type": "string"}}).status_code == 201
    create_secret(api, "DB_URL", "héllo", scope=SHOP)  # 6 bytes in UTF-8
    assert api.patch(f"{SHOP}/secrets/DB_URL", json={"value": "héllo!"}).status_code == 200  # now 7; version 1 kept
    create_secret(api, "KEY", '"a"', scope=f"{SHOP}/apps/web", type="plain")  # 3 bytes
    create_secret(api, "OLD", "gone-soon", scope=SHOP)
    assert api.delete(f"{SHOP}/secrets/OLD").status_code == 204  # into the trash
    assert api.post(f"{SHOP}/services", json={"name": "worker", "app": "web",
                                              "secrets": [{"name": "DB_URL"}, {"name": "KEY", "app": "web"}]}).status_code == 201
    mint("viewer", site="shop")


def test_a_new_site_holds_nothing(api) -> None:
    created = api.post("/v1/sites", json={"name": "shop"}).json()
    assert created["usage"] == EMPTY
    assert api.get(SHOP).json()["usage"] == EMPTY


def test_usage_counts_secrets_bytes_services_and_tokens(api, mint) -> None:
    fill_shop(api, mint)
    site = api.get(SHOP).json()
    assert site["usage"] == {"secrets": 2, "value_bytes": 7 + 3, "services": 1, "tokens": 1, "trash": 1, "trash_value_bytes": 9,
                             "apps": 1, "types": 1}
    assert site["secret_count"] == 2
    assert site["limits"]["max_versions"] == 10 and site["limits"]["trash_days"] == 30
    listed = {s["name"]: s for s in api.get("/v1/sites").json()["items"]}
    assert listed["shop"] == site
    assert listed["default"]["usage"]["tokens"] == 0  # the operator's own token is bound to no site


def test_usage_shows_the_trash_which_counts_toward_no_limit(api) -> None:
    """A site's trash, which counts toward no limit, holds up to its max_secrets deleted values
    beside its live ones: the operator must see what the trash holds to act on it."""
    assert api.post("/v1/sites", json={"name": "shop"}).status_code == 201
    assert api.patch(SHOP, json={"limits": {"max_secrets": 3}}).status_code == 200
    for n in range(3):
        create_secret(api, f"HOARD_{n}", "x" * 1000, scope=SHOP)
        assert api.delete(f"{SHOP}/secrets/HOARD_{n}").status_code == 204
    usage = api.get(SHOP).json()["usage"]
    assert (usage["secrets"], usage["value_bytes"], usage["trash"], usage["trash_value_bytes"]) == (0, 0, 3, 3000)
    [listed] = [s for s in api.get("/v1/sites").json()["items"] if s["name"] == "shop"]
    assert listed["usage"] == usage


def test_a_site_bound_viewer_sees_its_own_sites_usage(api, client, mint) -> None:
    fill_shop(api, mint)
    viewer = client(mint("viewer", site="shop"))
    [site] = viewer.get("/v1/sites").json()["items"]
    assert site["usage"]["tokens"] == 2


def test_a_site_bound_token_lists_its_site_without_reading_every_sites_usage(api, client, mint, monkeypatch) -> None:
    """Every tenant's client lists sites on start: what that costs must not grow with the other
    tenants of the host (with 1,500 sites a bound viewer's list took 26 ms, its site alone 2)."""
    from server.store.sites_tx import SiteQueries

    fill_shop(api, mint)
    for n in range(3):
        assert api.post("/v1/sites", json={"name": f"other-{n}"}).status_code == 201
    viewer = client(mint("viewer", site="shop"))
    counted: list[int] = []
    usage = SiteQueries.site_usage
    monkeypatch.setattr(SiteQueries, "site_usage", lambda self, now, site_id=None: counted.append(len(found := usage(self, now, site_id))) or found)
    [site] = viewer.get("/v1/sites").json()["items"]
    assert site["name"] == "shop" and site["usage"]["tokens"] == 2
    assert counted == [1]


def test_cascade_delete_takes_everything_and_revokes_the_tokens(api, client, mint, data_dir) -> None:
    fill_shop(api, mint)
    bound = client(mint("admin", site="shop"))
    [ciphertext] = dbbackend.rows(data_dir, "SELECT ciphertext FROM secrets WHERE name = ?", "KEY")
    assert api.delete(f"{SHOP}?cascade=true").status_code == 204
    expect_error(api.get(SHOP), 404, "not_found")
    expect_error(bound.get("/v1/whoami"), 401, "unauthorized")
    assert not [t for t in api.get("/v1/tokens").json()["items"] if t["site"] == "shop"]
    assert not any(bytes(ciphertext["ciphertext"]) in v for v in stored_values(data_dir))
    for table in ("apps", "secret_types", "secrets", "trashed_secrets", "services"):
        assert dbbackend.rows(data_dir, f"SELECT count(*) AS n FROM {table} WHERE site_id NOT IN (SELECT id FROM sites)")[0]["n"] == 0


def test_cascade_delete_is_audited_in_the_operators_log(api, mint) -> None:
    fill_shop(api, mint)
    api.delete(f"{SHOP}?cascade=true")
    [event] = api.get("/v1/audit?action=site.delete").json()["items"]
    assert event["site"] == "shop" and event["outcome"] == "ok"
    assert event["details"] == {"cascade": True, "tokens_revoked": 1,
                                "deleted": {"apps": 1, "secrets": 2, "secret_types": 1, "services": 1}}


def test_a_site_of_the_same_name_starts_empty_after_a_cascade_delete(api, mint) -> None:
    fill_shop(api, mint)
    api.delete(f"{SHOP}?cascade=true")
    assert api.post("/v1/sites", json={"name": "shop"}).json()["usage"] == EMPTY
    assert api.get(f"{SHOP}/secrets?scope=all").json()["items"] == []
    assert api.get(f"{SHOP}/trash").json()["items"] == []


def test_cascade_delete_of_an_empty_site_just_deletes_it(api) -> None:
    api.post("/v1/sites", json={"name": "shop"})
    assert api.delete(f"{SHOP}?cascade=true").status_code == 204
    expect_error(api.get(SHOP), 404, "not_found")


@pytest.mark.parametrize("query", ["", "?cascade=false"])
def test_without_cascade_a_site_with_contents_stays(api, mint, db_rows, query) -> None:
    fill_shop(api, mint)
    before = db_rows()
    details = expect_error(api.delete(f"{SHOP}{query}"), 409, "site_not_empty")
    assert details["contents"] == {"apps": 1, "secrets": 2, "secret_types": 1, "services": 1}
    assert db_rows() == before


def test_a_cascade_value_other_than_true_or_false_is_refused(api, mint, db_rows) -> None:
    fill_shop(api, mint)
    before = db_rows()
    expect_error(api.delete(f"{SHOP}?cascade=yes"), 422, "validation_error")
    assert db_rows() == before


def test_a_site_bound_admin_may_not_cascade_delete_its_site(api, client, mint, db_rows) -> None:
    fill_shop(api, mint)
    bound = client(mint("admin", site="shop"))
    before = db_rows()
    expect_error(bound.delete(f"{SHOP}?cascade=true"), 403, "forbidden")
    after = db_rows()
    assert after.pop("audit_events") != before.pop("audit_events")  # the denied attempt is audited
    assert after == before


@pytest.mark.sqlite_only(reason="reads the bytes of the SQLite file and its WAL")
def test_cascade_delete_wipes_the_values_from_the_sqlite_file_and_wal(api, mint, data_dir) -> None:
    fill_shop(api, mint)
    blobs = [bytes(r["ciphertext"]) for r in dbbackend.rows(data_dir, "SELECT ciphertext FROM secret_versions")]
    blobs += [bytes(r["ciphertext"]) for r in dbbackend.rows(data_dir, "SELECT ciphertext FROM trashed_versions")]
    assert api.delete(f"{SHOP}?cascade=true").status_code == 204
    for path in (data_dir / "secrets.db", data_dir / "secrets.db-wal"):
        held = path.read_bytes() if path.exists() else b""
        assert not any(blob in held for blob in blobs), f"{path.name} still holds a value of the deleted site"


def test_tokens_filtered_by_site(api, mint) -> None:
    api.post("/v1/sites", json={"name": "shop"})
    mint("viewer", site="shop")
    mint("editor", site="default")
    shop = api.get("/v1/tokens?site=shop").json()["items"]
    assert [(t["role"], t["site"]) for t in shop] == [("viewer", "shop")]
    assert all(t["site"] == "default" for t in api.get("/v1/tokens?site=default").json()["items"])


def test_tokens_of_an_unknown_site_is_404(api) -> None:
    expect_error(api.get("/v1/tokens?site=nope"), 404, "not_found")


def test_tokens_of_a_site_longer_than_any_site_name_is_404_without_echoing_it(api) -> None:
    # as an overlong path parameter: no site is that long, and the answer must not grow with
    # whatever a caller sends (a 60 KiB query came back twice over, in the message and details)
    response = api.get("/v1/tokens", params={"site": "s" * 10_000})
    details = expect_error(response, 404, "not_found")
    assert details == {"parameter": "site", "max_length": 63}
    assert "s" * 64 not in response.text and len(response.content) < 300


def test_tokens_of_a_site_name_of_the_longest_length_names_it(api) -> None:
    name = "s" * 63
    details = expect_error(api.get("/v1/tokens", params={"site": name}), 404, "not_found")
    assert details == {"resource": "site", "name": name}


def test_a_site_bound_admin_lists_its_own_site_and_no_other(api, client, mint) -> None:
    api.post("/v1/sites", json={"name": "shop"})
    mint("viewer", site="shop")
    bound = client(mint("admin", site="default"))
    assert all(t["site"] == "default" for t in bound.get("/v1/tokens?site=default").json()["items"])
    expect_error(bound.get("/v1/tokens?site=shop"), 404, "not_found")  # as if it did not exist


def test_a_token_used_shows_when_and_a_revoked_one_is_not_listed(api, client, mint) -> None:
    token = mint("viewer", site="default")
    [row] = [t for t in api.get("/v1/tokens?site=default").json()["items"] if t["role"] == "viewer"]
    assert row["last_used_at"] is None
    assert client(token).get("/v1/whoami").status_code == 200
    [row] = [t for t in api.get("/v1/tokens?site=default").json()["items"] if t["role"] == "viewer"]
    assert row["last_used_at"] is not None
    assert api.delete(f"/v1/tokens/{row['id']}").status_code == 204
    assert row["id"] not in {t["id"] for t in api.get("/v1/tokens").json()["items"]}


def test_a_tokens_expiry_counts_from_its_creation_time(api) -> None:
    from datetime import datetime, timedelta

    created = api.post("/v1/tokens", json={"name": "ci", "role": "viewer", "expires_in_days": 90}).json()
    start, end = (datetime.strptime(created[k], "%Y-%m-%dT%H:%M:%SZ") for k in ("created_at", "expires_at"))
    assert end - start == timedelta(days=90)
