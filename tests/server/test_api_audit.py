"""The audit log: one event per change, reveal, environment fetch and denied attempt; filters and
cursor paging; and a log that cannot be written stops the request with 503 and changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dbbackend
from apihelpers import SITE, create_secret, expect_error, reveal
from server.store.audit_tx import _past

AUDIT = f"{SITE}/audit"
EVENT_FIELDS = {"id", "at", "actor", "actor_id", "action", "site", "target", "outcome", "source", "details"}


def test_every_change_reveal_and_fetch_is_one_event_newest_first(api) -> None:
    create_secret(api, "A", "v1")
    api.patch(f"{SITE}/secrets/A", json={"value": "v2"})
    reveal(api, "A")
    api.post(f"{SITE}/services", json={"name": "worker", "secrets": [{"name": "A"}]})
    api.get(f"{SITE}/services/worker/env")
    api.get(f"{SITE}/secrets/A")  # reading metadata is not audited
    items = api.get(AUDIT).json()["items"]
    assert [e["action"] for e in items[:6]] == ["service.env", "service.create", "secret.reveal", "secret.update", "secret.create",
                                                "site.create"]  # init's own event for `default` comes first
    newest = items[0]
    assert set(newest) == EVENT_FIELDS
    assert (newest["actor"], newest["site"], newest["target"], newest["outcome"]) == ("admin", "default", "service:worker", "ok")
    assert newest["actor_id"] == api.get("/v1/whoami").json()["id"]
    assert newest["source"]


def test_denied_attempt_is_audited(api, client, mint) -> None:
    viewer = client(mint("viewer"))
    expect_error(viewer.post(f"{SITE}/secrets", json={"name": "A", "value": "v"}), 403, "forbidden")
    [event] = api.get(f"{AUDIT}?action=secret.create").json()["items"]
    assert (event["outcome"], event["actor"]) == ("denied", "viewer-all")


def test_filters_by_action_target_and_actor(api, client, mint) -> None:
    create_secret(api, "A")
    create_secret(api, "B")
    client(mint("editor")).post(f"{SITE}/secrets/B/reveal")
    by_action = api.get(f"{AUDIT}?action=secret.reveal").json()["items"]
    assert [(e["action"], e["target"]) for e in by_action] == [("secret.reveal", "secret:site/B")]
    assert {e["target"] for e in api.get(f"{AUDIT}?target=secret:site/A").json()["items"]} == {"secret:site/A"}
    assert [e["action"] for e in api.get(f"{AUDIT}?actor=editor-all").json()["items"]] == ["secret.reveal"]
    assert {e["action"] for e in api.get(f"{AUDIT}?action=secret.*").json()["items"]} == {"secret.create", "secret.reveal"}


def test_site_log_holds_only_that_sites_events(api) -> None:
    api.post("/v1/sites", json={"name": "shop"})
    create_secret(api, "A", scope="/v1/sites/shop")
    create_secret(api, "A")
    assert {e["site"] for e in api.get("/v1/sites/shop/audit").json()["items"]} == {"shop"}
    assert {e["site"] for e in api.get("/v1/audit").json()["items"]} >= {"shop", "default", None}


def test_cursor_pages_through_the_whole_log_without_overlap(api) -> None:
    for i in range(8 - len(api.get(AUDIT).json()["items"])):
        create_secret(api, f"S{i}")
    seen, cursor, pages = [], None, 0
    while True:
        page = api.get(AUDIT, params={"limit": 3, **({"before": cursor} if cursor else {})}).json()
        seen += [e["id"] for e in page["items"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    all_ids = [e["id"] for e in api.get(AUDIT).json()["items"]]
    assert seen == all_ids and len(all_ids) == 8 and pages == 3
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=ten", "before=x"])
def test_bad_paging_parameters_are_422(api, query) -> None:
    expect_error(api.get(f"{AUDIT}?{query}"), 422, "validation_error")


def test_audit_of_unknown_site_is_404(api) -> None:
    expect_error(api.get("/v1/sites/nope/audit"), 404, "not_found")


def test_site_bound_admin_may_not_read_the_whole_log(client, mint) -> None:
    bound = client(mint("admin", site="default"))
    expect_error(bound.get("/v1/audit"), 403, "forbidden")
    assert bound.get(AUDIT).status_code == 200


@pytest.fixture
def refuse_audit(data_dir):
    """Make the audit table refuse every insert, as a full or broken log would."""
    return lambda: dbbackend.refuse_audit_inserts(data_dir)


def test_change_that_cannot_be_audited_is_503_and_not_made(api, refuse_audit, db_rows) -> None:
    create_secret(api, "A", "old")
    refuse_audit()
    before = db_rows()
    expect_error(api.post(f"{SITE}/secrets", json={"name": "B", "value": "v"}), 503, "audit_unavailable")
    expect_error(api.patch(f"{SITE}/secrets/A", json={"value": "new"}), 503, "audit_unavailable")
    expect_error(api.delete(f"{SITE}/secrets/A"), 503, "audit_unavailable")
    expect_error(api.post("/v1/sites", json={"name": "shop"}), 503, "audit_unavailable")
    expect_error(api.post("/v1/tokens", json={"name": "t", "role": "viewer"}), 503, "audit_unavailable")
    assert db_rows() == before


def test_reveal_that_cannot_be_audited_is_503_without_the_value(api, refuse_audit) -> None:
    create_secret(api, "A", "never-shown-unaudited")
    refuse_audit()
    response = reveal(api, "A")
    expect_error(response, 503, "audit_unavailable")
    assert "never-shown-unaudited" not in response.text


def test_env_fetch_that_cannot_be_audited_is_503_and_records_no_load(api, refuse_audit, db_rows) -> None:
    create_secret(api, "A", "never-shown-unaudited")
    api.post(f"{SITE}/services", json={"name": "worker", "secrets": [{"name": "A"}]})
    refuse_audit()
    before = db_rows()
    response = api.get(f"{SITE}/services/worker/env")
    expect_error(response, 503, "audit_unavailable")
    assert "never-shown-unaudited" not in response.text
    assert db_rows() == before


def test_denied_attempt_that_cannot_be_audited_is_503(client, mint, refuse_audit, db_rows) -> None:
    viewer = client(mint("viewer"))
    refuse_audit()
    before = db_rows()
    expect_error(viewer.post(f"{SITE}/secrets", json={"name": "A", "value": "v"}), 503, "audit_unavailable")
    assert db_rows() == before


# ---------------------------------------------------------------- filters read an index (issue 17, part 1)


@pytest.fixture
def small_probe(monkeypatch):
    """A probe of the newest two events only, so filtered pages take the index path at test sizes."""
    from server.store import audit_tx

    monkeypatch.setattr(audit_tx, "_PROBE", 2)


def test_rare_filters_read_their_index_and_page_alike(api, client, mint, small_probe) -> None:
    editor = client(mint("editor"))
    for i in range(4):
        create_secret(api, f"A{i}")
        editor.post(f"{SITE}/secrets/A{i}/reveal")
    api.post(f"{SITE}/apps", json={"name": "web"})
    create_secret(api, "W", scope=f"{SITE}/apps/web")
    for _ in range(3):
        api.get(f"{SITE}/secrets")  # reads: not audited
        create_secret(api, f"Z{_}")
    assert [e["target"] for e in api.get(f"{AUDIT}?target=secret:site/A1").json()["items"]] == ["secret:site/A1"] * 2
    assert [e["target"] for e in api.get(f"{AUDIT}?target=secret:app/*").json()["items"]] == ["secret:app/web/W"]
    reveals = api.get(f"{AUDIT}?action=secret.reveal&actor=editor-all").json()["items"]
    assert [e["target"] for e in reveals] == [f"secret:site/A{i}" for i in (3, 2, 1, 0)]
    both = api.get(f"{AUDIT}?action=secret.create&target=secret:site/A*").json()["items"]
    assert [e["target"] for e in both] == [f"secret:site/A{i}" for i in (3, 2, 1, 0)]
    first = api.get(f"{AUDIT}?action=secret.reveal&limit=3").json()
    rest = api.get(f"{AUDIT}?action=secret.reveal&limit=3&before={first['next']}").json()
    assert [e["target"] for e in first["items"] + rest["items"]] == [f"secret:site/A{i}" for i in (3, 2, 1, 0)]
    assert rest["next"] is None


def test_filter_that_matches_nothing_is_an_empty_page(api, small_probe) -> None:
    create_secret(api, "A")
    assert api.get(f"{AUDIT}?target=secret:site/NOPE").json() == {"items": [], "next": None}
    assert api.get(f"{AUDIT}?action=secret.create&actor=nobody").json()["items"] == []


def test_a_prefix_alone_finds_events_older_than_the_probe(api, client, mint, small_probe) -> None:
    editor = client(mint("editor"))
    for i in range(3):
        create_secret(api, f"A{i}")
        editor.post(f"{SITE}/secrets/A{i}/reveal")
    for i in range(3):
        create_secret(api, f"Z{i}")  # the newest events: none of them the editor's
    by_actor = api.get(f"{AUDIT}?actor=edit*").json()
    assert [e["target"] for e in by_actor["items"]] == [f"secret:site/A{i}" for i in (2, 1, 0)]
    reveals = api.get(f"{AUDIT}?action=secret.rev*&limit=2").json()
    rest = api.get(f"{AUDIT}?action=secret.rev*&limit=2&before={reveals['next']}").json()
    assert [e["target"] for e in reveals["items"] + rest["items"]] == [f"secret:site/A{i}" for i in (2, 1, 0)]
    assert rest["next"] is None
    assert api.get(f"{AUDIT}?action=nothing.*").json() == {"items": [], "next": None}


def test_the_whole_log_filters_by_index_across_sites(api, client, mint, small_probe) -> None:
    api.post("/v1/sites", json={"name": "shop"})
    editor = client(mint("editor"))
    for scope in (SITE, "/v1/sites/shop"):
        create_secret(api, "A", scope=scope)
        api.post(f"{scope}/secrets/A/reveal")
    editor.post(f"{SITE}/secrets/A/reveal")
    for i in range(3):
        create_secret(api, f"Z{i}")
    reveals = api.get("/v1/audit?action=secret.reveal").json()["items"]
    assert [(e["site"], e["actor"]) for e in reveals] == [("default", "editor-all"), ("shop", "admin"), ("default", "admin")]
    pages = [api.get("/v1/audit?target=secret:site/A&limit=2").json()]
    while pages[-1]["next"]:
        pages.append(api.get(f"/v1/audit?target=secret:site/A&limit=2&before={pages[-1]['next']}").json())
    assert [(e["site"], e["action"]) for page in pages for e in page["items"]] == [
        ("default", "secret.reveal"), ("shop", "secret.reveal"), ("shop", "secret.create"),
        ("default", "secret.reveal"), ("default", "secret.create")]
    assert [e["site"] for e in api.get("/v1/audit?actor=editor*").json()["items"]] == ["default"]
    assert api.get("/v1/audit?action=secret.create&actor=nobody").json()["items"] == []


@given(prefix=st.text(), rest=st.text())
def test_a_prefix_range_holds_every_text_that_starts_with_it(prefix: str, rest: str) -> None:
    text = prefix + rest
    if any("\ud800" <= c <= "\udfff" for c in text):
        return  # a surrogate: no stored text holds one (neither backend takes them)
    above = _past(prefix)
    assert prefix <= text and (above is None or text < above)  # code point order, as both backends sort
    if above is not None:
        assert not above.startswith(prefix)
