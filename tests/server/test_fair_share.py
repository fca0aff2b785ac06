"""Each site's fair share of a server process's request handling (`server/admission.py`, README
"Shared-host set-up"): a site flooding the server with allowed requests queues behind its own
requests, the places go round the sites with requests waiting, a wait is bounded (429 with
`Retry-After`, never a hang), and the operator's requests, health checks and waiting watchers
never queue."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest

from apihelpers import SITE, create_secret, expect_error
from server.admission import LINGER_SECONDS, Busy, Gate
from waiting import wait_until

CEILING = 30.0


@contextmanager
def places_held(gate: Gate, count: int | None = None) -> Iterator[None]:
    """Every place of `gate` (or `count` of them) held by requests of site `holder` until the block ends."""
    entered, done = threading.Semaphore(0), threading.Event()

    def hold() -> None:
        gate.enter("holder")
        entered.release()
        done.wait()
        gate.leave()

    threads = [threading.Thread(target=hold) for _ in range(gate.slots if count is None else count)]
    for thread in threads:
        thread.start()
        assert entered.acquire(timeout=CEILING)
    try:
        yield
    finally:
        done.set()
        for thread in threads:
            thread.join(CEILING)


def queue_requests(gate: Gate, site: str, count: int, admitted: list[str]) -> list[threading.Thread]:
    """`count` requests of `site` waiting at `gate`; each notes its site in `admitted` once let in."""

    def request() -> None:
        gate.enter(site)
        admitted.append(site)
        gate.leave()

    threads = [threading.Thread(target=request) for _ in range(count)]
    for thread in threads:
        thread.start()
    wait_until(lambda: gate.waiting(site) == count, f"{count} requests of {site} waiting")
    return threads


# ---------------------------------------------------------------- the gate's order and bounds


def test_a_site_with_one_request_waiting_goes_before_a_flooding_sites_second() -> None:
    gate, admitted = Gate(slots=1), []
    with places_held(gate):
        flood = queue_requests(gate, "a", 10, admitted)
        single = queue_requests(gate, "b", 1, admitted)
    for thread in flood + single:
        thread.join(CEILING)
    assert admitted == ["a", "b"] + ["a"] * 9


def test_the_places_go_round_every_site_with_requests_waiting() -> None:
    gate, admitted = Gate(slots=1), []
    with places_held(gate):
        threads = [t for site, count in (("a", 3), ("b", 2), ("c", 1)) for t in queue_requests(gate, site, count, admitted)]
    for thread in threads:
        thread.join(CEILING)
    assert admitted == ["a", "b", "c", "a", "b", "a"]


class Holder:
    """A request of `site` that holds its place (once it has one) until `done()`."""

    def __init__(self, gate: Gate, site: str) -> None:
        self.entered, self._release = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, args=(gate, site))
        self._thread.start()

    def _run(self, gate: Gate, site: str) -> None:
        gate.enter(site)
        self.entered.set()
        self._release.wait()
        gate.leave()

    def done(self) -> None:
        self._release.set()
        self._thread.join(CEILING)


def test_a_site_sending_alone_may_hold_every_place_and_gives_way_to_half_once_another_sends() -> None:
    now = [0.0]
    gate = Gate(slots=4, clock=lambda: now[0])
    flood = [Holder(gate, "a") for _ in range(4)]
    for holder in flood:
        assert holder.entered.wait(CEILING)
    other = Holder(gate, "b")
    flood += [Holder(gate, "a") for _ in range(2)]
    wait_until(lambda: gate.waiting("a") == 2 and gate.waiting("b") == 1, "both sites waiting")
    flood.pop(0).done()
    assert other.entered.wait(CEILING)  # the freed place goes to the site holding fewer
    flood.pop(0).done()
    assert (gate.held("a"), gate.held("b"), gate.waiting("a")) == (2, 1, 2)  # a is at its half: the place stays free
    other.done()
    assert (gate.held("a"), gate.waiting("a")) == (2, 2)  # b between two requests still counts as sending
    now[0] += LINGER_SECONDS * 2
    flood.pop(0).done()  # b has sent nothing since: a alone, its waiting requests take every place
    assert (gate.held("a"), gate.waiting("a")) == (3, 0)
    for holder in flood:
        holder.done()
    assert gate.held("a") == 0


def test_with_three_sites_sending_no_place_stays_free_while_requests_wait() -> None:
    gate = Gate(slots=4, clock=lambda: 0.0)  # the clock stands still: a site that sent keeps counting
    first = [Holder(gate, "a") for _ in range(3)]
    for holder in first:
        assert holder.entered.wait(CEILING)
    others = [Holder(gate, site) for site in ("b", "b", "c", "c")]
    wait_until(lambda: gate.held("b") + gate.waiting("b") == 2 and gate.waiting("c") == 2, "b and c sending")
    for holder in first:
        holder.done()  # a sent, so it still counts: three sites share the four places
    wait_until(lambda: gate.held("b") + gate.held("c") == 4, "every place handed on")  # not one each, two left free
    for holder in others:
        holder.done()


def test_a_site_that_stopped_sending_leaves_its_share_to_the_others_waiting() -> None:
    now = [0.0]
    gate = Gate(slots=2, clock=lambda: now[0])
    flood = [Holder(gate, "a") for _ in range(2)]
    for holder in flood:
        assert holder.entered.wait(CEILING)
    other = Holder(gate, "b")
    wait_until(lambda: gate.waiting("b") == 1, "b waiting")
    flood.pop(0).done()
    assert other.entered.wait(CEILING)
    flood.append(Holder(gate, "a"))
    wait_until(lambda: gate.waiting("a") == 1, "a at its share, waiting")
    other.done()  # b sends nothing more, and no place is given up after its last
    now[0] += LINGER_SECONDS * 2
    wait_until(lambda: gate.held("a") == 2, "a's waiting request let in once b stopped counting")
    for holder in flood:
        holder.done()


def test_a_site_sending_alone_is_never_held_back() -> None:
    gate = Gate(slots=2, max_wait=0)  # a request that had to wait would be refused at once
    alone = [Holder(gate, "a") for _ in range(5)]  # more than the places: the group commit wants them all
    for holder in alone:
        assert holder.entered.wait(CEILING)
    assert gate.held("a") == 5
    for holder in alone:
        holder.done()


def test_another_site_takes_a_free_place_at_once() -> None:
    gate = Gate(slots=2, max_wait=0)
    with places_held(gate, count=1):
        gate.enter("a")
        gate.leave()


def test_a_site_whose_queue_is_full_is_refused_at_once_with_retry_after() -> None:
    gate, admitted = Gate(slots=1, max_queued=2), []
    with places_held(gate):
        waiting = queue_requests(gate, "a", 2, admitted)
        with pytest.raises(Busy) as refused:
            gate.enter("a")
        assert refused.value.retry_after == 1
        others = queue_requests(gate, "b", 1, admitted)  # another site still has its own queue
    for thread in waiting + others:
        thread.join(CEILING)
    assert sorted(admitted) == ["a", "a", "b"]


def test_a_request_that_waited_its_bound_is_refused_and_leaves_the_queue() -> None:
    gate = Gate(slots=1, max_wait=0)
    with places_held(gate):
        with pytest.raises(Busy):
            gate.enter("a")
        assert gate.waiting("a") == 0
    gate.enter("a")  # the place is free again: nothing was left holding it
    gate.leave()


def test_requests_of_no_site_never_queue() -> None:
    gate = Gate(slots=1, max_queued=0, max_wait=0)
    with places_held(gate):
        gate.enter(None)  # the operator's tokens, public routes
        gate.leave()


def test_a_request_that_steps_aside_gives_its_place_to_the_next_and_leaves_nothing_behind() -> None:
    gate = Gate(slots=1, max_wait=0)
    gate.enter("a")
    gate.step_aside()  # its commit is queued: it works no more until that commit is settled
    with places_held(gate):
        gate.leave()  # the place it gave up is the holder's now; this frees nothing
        with pytest.raises(Busy):
            gate.enter("b")


# ---------------------------------------------------------------- through the application


@pytest.fixture
def gate(app) -> Gate:
    """The application's gate with one place and no waiting: a request that would queue is 429 at once."""
    gate = app.state.gate
    gate.slots, gate.max_queued = 1, 0
    return gate


def test_a_site_over_its_share_gets_429_with_retry_after_and_nothing_changes(gate, as_role, api, db_rows) -> None:
    editor = as_role("editor", site="default")
    before = db_rows()
    with places_held(gate):
        answer = editor.post(f"{SITE}/secrets", json={"name": "FLOODED", "value": "never stored"})
    details = expect_error(answer, 429, "rate_limited")
    assert answer.headers["Retry-After"] == "1" and details == {"retry_after": 1, "reason": "site_share"}
    assert "never stored" not in answer.text
    assert db_rows() == before
    assert editor.post(f"{SITE}/secrets", json={"name": "FLOODED", "value": "v"}).status_code == 201  # its turn, once free


def test_the_operator_and_health_checks_are_served_while_every_place_is_held(gate, client, api) -> None:
    with places_held(gate):
        assert api.get(f"{SITE}/secrets").status_code == 200
        assert client().get("/v1/health").status_code == 200


def test_a_waiting_watcher_holds_no_place(gate, app, api, mint, client) -> None:
    create_secret(api, "A", "alpha-1")
    assert api.post(f"{SITE}/services", json={"name": "worker", "secrets": [{"name": "A"}]}).status_code == 201
    watcher = client(mint("service", site="default", service="worker"))
    env = f"{SITE}/services/worker/env"
    tag = watcher.get(env, params={"record": "false"}).headers["ETag"]
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(watcher.get, env, headers={"If-None-Match": tag, "Prefer": "wait=60"}, params={"record": "false"})
        wait_until(lambda: app.state.changes.waiting == 1, "the watcher waits")
        gate.max_wait = 0
        gate.enter("another")  # the one place is free: were the watcher holding it, this would be refused
        gate.leave()
        assert api.patch(f"{SITE}/secrets/A", json={"value": "alpha-2"}).status_code == 200
        assert waiting.result(CEILING).json()["env"] == {"A": "alpha-2"}


# ---------------------------------------------------------------- on a real server


def test_a_site_flooding_with_allowed_requests_leaves_another_sites_requests_answered(live_server) -> None:
    admin = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {live_server.admin_token}"}, timeout=CEILING)
    tokens = {}
    for site in ("flood", "quiet"):
        assert admin.post("/v1/sites", json={"name": site}).status_code == 201
        assert admin.post(f"/v1/sites/{site}/secrets", json={"name": "KEY", "value": f"{site}-value"}).status_code == 201
        assert admin.post(f"/v1/sites/{site}/services", json={"name": "fn", "secrets": [{"name": "KEY"}]}).status_code == 201
        minted = admin.post("/v1/tokens", json={"name": f"{site}-fn", "role": "service", "site": site, "service": "fn"})
        tokens[site] = minted.json()["token"]
    admin.close()
    stop, flood_statuses, lock = threading.Event(), [], threading.Lock()

    def flood() -> None:  # one keep-alive connection each, back to back
        with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {tokens['flood']}"}, timeout=CEILING) as c:
            while not stop.is_set():
                status = c.get("/v1/sites/flood/services/fn/env").status_code
                with lock:
                    flood_statuses.append(status)

    flooders = [threading.Thread(target=flood) for _ in range(8)]
    for thread in flooders:
        thread.start()
    try:
        wait_until(lambda: len(flood_statuses) >= 16, "the flood under way")
        with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {tokens['quiet']}"}, timeout=CEILING) as quiet:
            answers = [quiet.get("/v1/sites/quiet/services/fn/env") for _ in range(40)]
        still_flooding = len(flood_statuses)
        wait_until(lambda: len(flood_statuses) > still_flooding, "the flood still under way")
    finally:
        stop.set()
        for thread in flooders:
            thread.join(CEILING)
    assert [a.status_code for a in answers] == [200] * 40
    assert answers[-1].json()["env"] == {"KEY": "quiet-value"}
    assert set(flood_statuses) <= {200, 429}  # the flood is served or told to come back, never left hanging
