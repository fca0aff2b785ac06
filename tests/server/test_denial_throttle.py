"""A token refused many different things (docs/API.md, "Repeated denials"): repeats of one denial
are counted (test_denials.py), but a token can vary what it is refused at will, each new kind one
durable event. Past 20 written denials within 60 s, a further new kind is 429 `rate_limited` with
`Retry-After`, audited as one `auth.rate_limited` of the token (its repeats counted); repeats of a
kind already counted stay 403, and what the token may do is never refused. The tokens of one site
share a budget too (100 within 60 s; smaller here), so a site's admin minting token after token cannot multiply
the flood; the operator's tokens (bound to no site) are charged to none. Both clocks are the tests'
own."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from apihelpers import SITE, audit_rows, create_secret, expect_error
from server.app import create_app
from server.denialbudget import PER_TOKEN, DenialBudget
from server.denials import DenialLog
from server.http import ApiError
from shared.models import ErrorCode
from waiting import wait_until

WINDOW = 60.0
THRESHOLD = PER_TOKEN
SITE_THRESHOLD = 2 * PER_TOKEN
"""A site's budget, smaller than the server's (100) so that spending it takes fewer requests."""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def denials(state, clock) -> DenialLog:
    return DenialLog(state.store, window=WINDOW, clock=clock, background=False)


@pytest.fixture
def app(state, denials, clock):
    application = create_app(state, denials=denials, denial_budget=DenialBudget(per_site=SITE_THRESHOLD, window=WINDOW, clock=clock))
    yield application
    application.close()


@pytest.fixture
def viewer(client, mint) -> httpx.Client:
    return client(mint("viewer"))


def reveal(api: httpx.Client, name: str) -> httpx.Response:
    return api.post(f"{SITE}/secrets/{name}/reveal")


def refuse_many(viewer: httpx.Client, count: int = THRESHOLD, prefix: str = "S") -> None:
    for n in range(count):
        expect_error(reveal(viewer, f"{prefix}{n}"), 403, "forbidden")


def events(data_dir, **where) -> list[dict]:
    return [{**row, "details": json.loads(row["details"])} for row in audit_rows(data_dir, outcome="denied", **where)]


def test_a_token_refused_as_many_different_things_as_allowed_still_gets_403(viewer, data_dir) -> None:
    refuse_many(viewer)
    assert len(events(data_dir, action="secret.reveal")) == THRESHOLD


def test_past_that_a_new_kind_of_denial_is_429_with_retry_after(viewer, clock) -> None:
    refuse_many(viewer)
    clock.now += 10
    response = reveal(viewer, "ANOTHER")
    details = expect_error(response, 429, "rate_limited")
    assert response.headers["Retry-After"] == "50" and details == {"retry_after": 50, "reason": "denied"}


def test_the_throttle_is_audited_once_and_its_refusals_counted(viewer, data_dir, clock, denials) -> None:
    refuse_many(viewer)
    for n in range(5):
        expect_error(reveal(viewer, f"NEW{n}"), 429, "rate_limited")
    [throttled] = events(data_dir, action="auth.rate_limited")
    assert (throttled["actor"], throttled["site"], throttled["target"]) == ("viewer-all", None, None)
    assert throttled["details"] == {"reason": "denied", "role": "viewer", "threshold": THRESHOLD, "window_seconds": WINDOW}
    assert len(events(data_dir, action="secret.reveal")) == THRESHOLD  # the refused kinds wrote nothing
    clock.now += WINDOW
    denials.flush_due()
    assert [e["details"].get("repeated") for e in events(data_dir, action="auth.rate_limited")] == [None, 4]


def test_a_site_bound_tokens_throttle_is_in_its_sites_log(client, mint, api) -> None:
    viewer = client(mint("viewer", site="default"))
    refuse_many(viewer)
    expect_error(reveal(viewer, "NEW"), 429, "rate_limited")
    [throttled] = api.get(f"{SITE}/audit", params={"action": "auth.rate_limited"}).json()["items"]
    assert throttled["actor"] == "viewer-default"


def test_repeats_of_a_kind_already_counted_stay_403(viewer, data_dir) -> None:
    refuse_many(viewer)
    expect_error(reveal(viewer, "S0"), 403, "forbidden")
    assert len(events(data_dir)) == THRESHOLD


def test_a_throttled_token_is_still_served_what_it_may_do(viewer, api) -> None:
    create_secret(api, "OPEN")
    refuse_many(viewer)
    expect_error(reveal(viewer, "NEW"), 429, "rate_limited")
    assert viewer.get(f"{SITE}/secrets/OPEN").status_code == 200
    assert viewer.get("/v1/whoami").status_code == 200


def test_other_tokens_are_not_throttled(viewer, client, mint) -> None:
    refuse_many(viewer)
    expect_error(reveal(client(mint("viewer")), "NEW"), 403, "forbidden")


def test_the_throttle_ends_when_its_window_does(viewer, clock) -> None:
    refuse_many(viewer)
    expect_error(reveal(viewer, "NEW"), 429, "rate_limited")
    clock.now += WINDOW
    expect_error(reveal(viewer, "NEW"), 403, "forbidden")


def test_repeats_count_toward_no_throttle(viewer, clock) -> None:
    for _ in range(3 * THRESHOLD):
        expect_error(reveal(viewer, "SAME"), 403, "forbidden")
    expect_error(reveal(viewer, "OTHER"), 403, "forbidden")


def from_address(app, token: str, address: str) -> httpx.Client:
    """A client of the app whose requests come from `address` (REMOTE_ADDR), as from another host."""
    transport = httpx.WSGITransport(app=app, raise_app_exceptions=False, remote_addr=address)
    return httpx.Client(transport=transport, base_url="http://testserver", headers={"Authorization": f"Bearer {token}"})


def test_varying_the_address_makes_new_kinds_that_the_budget_still_counts(app, mint) -> None:
    token = mint("viewer")
    for n in range(THRESHOLD):  # the same request, each from an address of its own: each a new kind
        with from_address(app, token, f"10.0.0.{n + 1}") as viewer:
            expect_error(reveal(viewer, "SAME"), 403, "forbidden")
    with from_address(app, token, "10.0.1.1") as viewer:
        expect_error(reveal(viewer, "SAME"), 429, "rate_limited")


def test_a_throttled_token_varying_its_address_is_audited_once_and_counted(app, mint, data_dir, clock, denials) -> None:
    token = mint("viewer")
    with from_address(app, token, "10.0.0.1") as viewer:
        refuse_many(viewer)
    for n in range(10):
        with from_address(app, token, f"10.0.2.{n + 1}") as viewer:
            expect_error(reveal(viewer, f"NEW{n}"), 429, "rate_limited")
    [throttled] = events(data_dir, action="auth.rate_limited")
    assert throttled["source"] == "10.0.2.1"  # the first throttled request's own address
    clock.now += WINDOW
    denials.flush_due()
    counted = events(data_dir, action="auth.rate_limited")
    assert [e["details"].get("repeated") for e in counted] == [None, 9]
    assert counted[1]["source"] is None  # the count stands for requests from many addresses


@pytest.fixture
def site_admin(client, mint) -> httpx.Client:
    """An admin of site `default` alone: a tenant, who mints tokens of its own site."""
    return client(mint("admin", site="default"))


def site_viewer(client, site_admin: httpx.Client, n: int) -> httpx.Client:
    response = site_admin.post("/v1/tokens", json={"name": f"minted-{n}", "role": "viewer", "site": "default"})
    assert response.status_code == 201, response.text
    return client(response.json()["token"])


def spend_the_sites_budget(client, site_admin) -> None:
    for n in range(SITE_THRESHOLD // THRESHOLD):
        refuse_many(site_viewer(client, site_admin, n), prefix=f"T{n}-")


def test_a_sites_tokens_together_write_no_more_than_the_sites_budget(client, site_admin, data_dir, clock, denials) -> None:
    statuses = []
    for n in range(SITE_THRESHOLD // THRESHOLD + 1):  # more tokens than the budget needs: the bound stays
        viewer = site_viewer(client, site_admin, n)
        statuses += [reveal(viewer, f"T{n}-{k}").status_code for k in range(THRESHOLD + 1)]
    clock.now += WINDOW
    denials.flush_due()
    written = events(data_dir, site="default")
    assert statuses.count(403) + len([e for e in written if e["details"].get("reason") == "denied" and "repeated" not in e["details"]]) == SITE_THRESHOLD
    assert len(written) <= 2 * SITE_THRESHOLD + 2
    assert set(statuses) == {403, 429}


def test_the_sites_throttle_is_one_kind_whichever_token_is_refused(client, site_admin, data_dir, clock, denials) -> None:
    spend_the_sites_budget(client, site_admin)
    for n in range(3):
        response = reveal(site_viewer(client, site_admin, 100 + n), "NEW")
        details = expect_error(response, 429, "rate_limited")
        assert details == {"retry_after": 60, "reason": "site_denied"} and "site" in response.json()["error"]["message"]
    clock.now += WINDOW
    denials.flush_due()
    first, count = events(data_dir, action="auth.rate_limited")
    assert first["actor"] == "minted-100" and first["details"] == {"reason": "site_denied", "threshold": SITE_THRESHOLD,
                                                                   "window_seconds": WINDOW}
    assert (count["actor"], count["actor_id"], count["source"], count["details"]["repeated"]) == (None, None, None, 2)


def test_the_operators_tokens_are_not_throttled_by_a_sites_budget(client, site_admin, mint) -> None:
    spend_the_sites_budget(client, site_admin)
    expect_error(reveal(site_viewer(client, site_admin, 100), "NEW"), 429, "rate_limited")
    expect_error(reveal(client(mint("viewer")), "NEW"), 403, "forbidden")


def test_another_sites_tokens_are_not_throttled_by_its_budget(client, site_admin, api, mint) -> None:
    assert api.post("/v1/sites", json={"name": "other"}).status_code == 201
    spend_the_sites_budget(client, site_admin)
    other = client(mint("viewer", site="other"))
    expect_error(other.post("/v1/sites/other/secrets/NEW/reveal"), 403, "forbidden")


class GatedStore:
    """The real store, every write held at a gate until the test opens it: each denied request that
    is to write its event is then held past the budget's check, where concurrent ones meet."""

    def __init__(self, store) -> None:
        self._store = store
        self._gate = threading.Event()
        self._lock = threading.Lock()
        self.held = 0

    def lookup(self, fn):
        return self._store.lookup(fn)

    def write(self, fn):
        with self._lock:
            self.held += 1
        self._gate.wait()
        return self._store.write(fn)

    def open(self) -> None:
        self._gate.set()


CONCURRENT = 8
BUDGET = 3


def deny_all_at_once(state, tokens: list[str], clock) -> tuple[list[int], DenialLog]:
    """Each token asks, from a thread of its own all started at one barrier, to reveal a secret of
    a name its own (each a new kind): their statuses, once every request is either holding its
    write at the gate or counted as a repeat waiting on one (all of them past the budget), and the
    gate then opened."""
    gated = GatedStore(state.store)
    log = DenialLog(gated, window=WINDOW, clock=clock, background=False)
    app = create_app(state, denials=log, denial_budget=DenialBudget(per_token=BUDGET, per_site=BUDGET, window=WINDOW, clock=clock))
    barrier = threading.Barrier(len(tokens))
    statuses: list[int] = []

    def deny(n: int, token: str) -> None:
        with from_address(app, token, "10.0.0.1") as viewer:
            barrier.wait()
            statuses.append(reveal(viewer, f"C{n}").status_code)

    threads = [threading.Thread(target=deny, args=(n, token)) for n, token in enumerate(tokens)]
    for thread in threads:
        thread.start()
    wait_until(lambda: gated.held + sum(window.count for window in log._windows.values()) == len(tokens),
               "every request to reach the gate or wait on one that has")
    gated.open()
    for thread in threads:
        thread.join()
    return sorted(statuses), log


def test_concurrent_denials_of_one_token_write_exactly_its_budget(state, mint, data_dir, clock) -> None:
    statuses, log = deny_all_at_once(state, [mint("viewer")] * CONCURRENT, clock)
    assert statuses == [403] * BUDGET + [429] * (CONCURRENT - BUDGET)
    assert len(events(data_dir, action="secret.reveal")) == BUDGET
    log.close()


def test_concurrent_denials_of_a_sites_tokens_write_exactly_its_budget(state, mint, data_dir, clock) -> None:
    tokens = [mint("viewer", site="default") for _ in range(CONCURRENT)]
    statuses, log = deny_all_at_once(state, tokens, clock)
    assert statuses == [403] * BUDGET + [429] * (CONCURRENT - BUDGET)
    assert len(events(data_dir, action="secret.reveal")) == BUDGET
    log.close()


class RefusingStore:
    """The real store, refusing its next write as an audit log that cannot be written does (503)."""

    def __init__(self, store) -> None:
        self._store = store
        self.refuse = True

    def lookup(self, fn):
        return self._store.lookup(fn)

    def write(self, fn):
        if self.refuse:
            self.refuse = False
            raise ApiError(ErrorCode.audit_unavailable, "refused by the test")
        return self._store.write(fn)


def test_a_denial_that_could_not_be_audited_spends_none_of_the_budget(state, mint, clock) -> None:
    log = DenialLog(RefusingStore(state.store), window=WINDOW, clock=clock, background=False)
    app = create_app(state, denials=log, denial_budget=DenialBudget(per_token=1, window=WINDOW, clock=clock))
    with from_address(app, mint("viewer"), "10.0.0.1") as viewer:
        expect_error(reveal(viewer, "A"), 503, "audit_unavailable")
        expect_error(reveal(viewer, "B"), 403, "forbidden")  # the place the 503 took was given back
        expect_error(reveal(viewer, "C"), 429, "rate_limited")
    log.close()
