"""Repeated denials (docs/API.md, "Audit", "Repeated denials"): the first denial of a kind (token,
action, site, target, method, path, role, address) is written at once, durably; its repeats within
the window are counted and written as one event with `details.repeated` when the window closes,
at the kind's next denial after it, or at a graceful shutdown. The windows run on a clock the
tests move: no test waits for a minute to pass."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

import dbbackend
from apihelpers import SITE, audit_rows, create_secret, expect_error
from server.app import create_app
from server.denials import DenialLog
from server.http import ApiError
from server.store import AuditRecord
from shared.models import ErrorCode
from waiting import wait_until

WINDOW = 60.0


class Clock:
    """Monotonic seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def denials(state, clock) -> DenialLog:
    return DenialLog(state.store, window=WINDOW, clock=clock, background=False)


@pytest.fixture
def app(state, denials):
    application = create_app(state, denials=denials)
    yield application
    application.close()


@pytest.fixture
def viewer(client, mint) -> httpx.Client:
    return client(mint("viewer"))


def denied_reveal(viewer: httpx.Client, name: str = "A") -> None:
    expect_error(viewer.post(f"{SITE}/secrets/{name}/reveal"), 403, "forbidden")


def denied(data_dir, **where) -> list[dict]:
    return [{**row, "details": json.loads(row["details"])} for row in audit_rows(data_dir, outcome="denied", **where)]


def repeated(event: dict) -> int | None:
    return event["details"].get("repeated")


def test_the_first_denial_of_a_kind_is_written_at_once(viewer, data_dir) -> None:
    denied_reveal(viewer)
    [event] = denied(data_dir)
    assert (event["action"], event["target"], event["actor"]) == ("secret.reveal", "secret:site/A", "viewer-all")
    assert repeated(event) is None


def test_repeats_within_the_window_are_counted_not_written(viewer, data_dir, clock) -> None:
    denied_reveal(viewer)
    for _ in range(5):
        clock.advance(WINDOW / 10)
        denied_reveal(viewer)
    assert len(denied(data_dir)) == 1


def test_the_count_is_written_when_the_window_closes(viewer, data_dir, clock, denials) -> None:
    denied_reveal(viewer)
    for _ in range(5):
        denied_reveal(viewer)
    clock.advance(WINDOW - 1)
    assert denials.flush_due() == 0
    clock.advance(1)
    assert denials.flush_due() == 1
    first, count = denied(data_dir)
    assert repeated(count) == 5
    assert count["details"]["window_seconds"] == WINDOW
    assert count["details"]["first_at"] <= count["details"]["last_at"] <= count["at"]
    same = ("action", "actor", "actor_id", "site", "target", "source")
    assert [count[f] for f in same] == [first[f] for f in same]
    assert {k: v for k, v in count["details"].items() if k not in ("repeated", "first_at", "last_at", "window_seconds")} \
        == first["details"]
    assert len(denials) == 0


def test_a_window_without_repeats_writes_nothing_more(viewer, data_dir, clock, denials) -> None:
    denied_reveal(viewer)
    clock.advance(WINDOW)
    assert denials.flush_due() == 0
    assert len(denied(data_dir)) == 1 and len(denials) == 0


def test_a_denial_after_the_window_writes_the_count_and_is_written_itself(viewer, data_dir, clock) -> None:
    denied_reveal(viewer)
    denied_reveal(viewer)
    denied_reveal(viewer)
    clock.advance(WINDOW)
    denied_reveal(viewer)  # before any flusher came by
    assert [repeated(e) for e in denied(data_dir)] == [None, 2, None]
    denied_reveal(viewer)  # counted again, in the window the last one opened
    assert len(denied(data_dir)) == 3


def test_distinct_targets_actions_and_tokens_are_not_merged(viewer, client, mint, data_dir, clock, denials) -> None:
    other = client(mint("viewer"))
    for _ in range(3):
        denied_reveal(viewer, "A")
        denied_reveal(viewer, "B")
        denied_reveal(other, "A")
        expect_error(viewer.delete(f"{SITE}/secrets/A"), 403, "forbidden")
    assert len(denied(data_dir)) == 4
    clock.advance(WINDOW)
    assert denials.flush_due() == 4
    counts = {(e["actor_id"], e["action"], e["target"]): repeated(e) for e in denied(data_dir) if repeated(e)}
    assert sorted(counts.values()) == [2, 2, 2, 2] and len(counts) == 4


def test_a_graceful_stop_writes_every_open_count(app, viewer, data_dir) -> None:
    denied_reveal(viewer)
    denied_reveal(viewer)
    app.close()
    assert [repeated(e) for e in denied(data_dir)] == [None, 1]
    denied_reveal(viewer)  # a straggler after the stop is written through, not held
    assert [repeated(e) for e in denied(data_dir)] == [None, 1, None]


def test_the_chain_verifies_over_coalesced_events(api, viewer, clock, denials) -> None:
    for _ in range(3):
        denied_reveal(viewer)
        create_secret(api, f"S{clock.now:.0f}")
        clock.advance(WINDOW / 2)
    denials.flush_due()
    assert api.get(f"{SITE}/audit/verify").json()["ok"] is True


def test_the_log_shows_the_count_to_the_sites_admins(api, viewer, clock, denials) -> None:
    denied_reveal(viewer)
    denied_reveal(viewer)
    clock.advance(WINDOW)
    denials.flush_due()
    items = api.get(f"{SITE}/audit", params={"target": "secret:site/A"}).json()["items"]
    assert [(e["outcome"], e["details"].get("repeated")) for e in items] == [("denied", 1), ("denied", None)]


def test_a_count_from_before_a_site_was_deleted_and_made_again_is_not_the_new_sites(api, viewer, clock, denials) -> None:
    """A site's log is its lifetime's (docs/API.md): the repeats counted before the name was deleted
    and taken again are not the new site's, and a denial of the new site is a first of its own."""
    def denied_in_gamma() -> None:
        expect_error(viewer.post("/v1/sites/gamma/secrets/A/reveal"), 403, "forbidden")

    assert api.post("/v1/sites", json={"name": "gamma"}).status_code == 201
    for _ in range(3):
        denied_in_gamma()
    assert api.delete("/v1/sites/gamma").status_code == 204
    assert api.post("/v1/sites", json={"name": "gamma"}).status_code == 201
    denied_in_gamma()
    denied_in_gamma()
    clock.advance(WINDOW)
    denials.flush_due()
    new_site = api.get("/v1/sites/gamma/audit", params={"action": "secret.reveal"}).json()["items"]
    assert [repeated(e) for e in new_site] == [1, None]  # its own first and count, nothing older
    everything = api.get("/v1/audit", params={"action": "secret.reveal"}).json()["items"]
    assert sorted(repeated(e) or 0 for e in everything) == [0, 0, 1, 2]  # the old count kept, for the operator
    assert next(e for e in everything if repeated(e) == 2)["site"] == "gamma"
    assert api.get("/v1/sites/gamma/audit/verify").json()["ok"] is True


class CountedStore:
    """The real store, counting the reads made through it."""

    def __init__(self, store) -> None:
        self._store = store
        self.reads = 0

    def lookup(self, fn):
        self.reads += 1
        return self._store.lookup(fn)

    def read(self, fn):
        self.reads += 1
        return self._store.read(fn)

    def write(self, fn):
        return self._store.write(fn)


def test_the_token_lookup_reads_its_sites_lifetime_with_it(state, mint) -> None:
    def looked_up(token: str):
        return state.store.lookup(lambda tx: tx.get_token_by_hash(state.tokens.hash(token)))

    assert looked_up(mint("viewer", site="default")).site_uid == state.store.lookup(lambda tx: tx.chain_of("default"))
    assert looked_up(mint("viewer")).site_uid is None


def test_a_denial_of_a_site_bound_token_reads_nothing_beyond_its_token(state, mint, data_dir, clock) -> None:
    """The lifetime that makes a denial's kind comes with the token (its row's join), so a denial
    costs its site no read of its own: not the first (written), nor its repeats (counted)."""
    counted = CountedStore(state.store)
    log = DenialLog(counted, window=WINDOW, clock=clock, background=False)
    viewer = httpx.Client(transport=httpx.WSGITransport(app=create_app(state, denials=log)), base_url="http://testserver",
                          headers={"Authorization": f"Bearer {mint('viewer', site='default')}"})
    for _ in range(3):
        denied_reveal(viewer)
    clock.advance(WINDOW)
    log.flush_due()
    assert counted.reads == 0
    assert [(e["site"], repeated(e)) for e in denied(data_dir)] == [("default", None), ("default", 2)]


def test_past_the_cap_of_open_windows_denials_are_written_through(state, client, mint, data_dir, clock) -> None:
    capped = DenialLog(state.store, window=WINDOW, clock=clock, background=False, max_pending=2)
    viewer = httpx.Client(transport=httpx.WSGITransport(app=create_app(state, denials=capped)), base_url="http://testserver",
                          headers={"Authorization": f"Bearer {mint('viewer')}"})
    for name in "ABC":
        denied_reveal(viewer, name)
    denied_reveal(viewer, "C")
    denied_reveal(viewer, "A")
    assert [e["target"] for e in denied(data_dir)] == ["secret:site/A", "secret:site/B", "secret:site/C", "secret:site/C"]
    assert len(capped) == 2


def test_a_first_denial_that_cannot_be_audited_is_503_and_opens_no_window(viewer, data_dir, denials) -> None:
    dbbackend.refuse_audit_inserts(data_dir)
    expect_error(viewer.post(f"{SITE}/secrets/A/reveal"), 503, "audit_unavailable")
    assert len(denials) == 0
    allow_audit_inserts(data_dir)
    denied_reveal(viewer)  # the first one written, not counted against a window that never opened
    assert [repeated(e) for e in denied(data_dir)] == [None]


def test_a_count_the_store_refuses_is_kept_and_written_later(viewer, data_dir, clock, denials) -> None:
    denied_reveal(viewer)
    denied_reveal(viewer)
    clock.advance(WINDOW)
    dbbackend.refuse_audit_inserts(data_dir)
    with pytest.raises(Exception):
        denials.flush_due()
    assert len(denials) == 1
    allow_audit_inserts(data_dir)
    denials.flush_due()
    assert [repeated(e) for e in denied(data_dir)] == [None, 1]


def test_the_flusher_writes_the_count_once_the_window_closes(state, client, mint, data_dir, clock) -> None:
    background = DenialLog(state.store, window=WINDOW, clock=clock)
    viewer = httpx.Client(transport=httpx.WSGITransport(app=create_app(state, denials=background)),
                          base_url="http://testserver", headers={"Authorization": f"Bearer {mint('viewer')}"})
    try:
        denied_reveal(viewer)
        denied_reveal(viewer)
        clock.advance(WINDOW)
        background.wake()
        wait_until(lambda: len(denied(data_dir)) == 2, "the flusher to write the count")
        assert repeated(denied(data_dir)[-1]) == 1
        wait_until(lambda: len(background) == 0, "the window to be forgotten")
    finally:
        background.close()


class HeldStore:
    """The real store, with its next write held until the test lets it go (or makes it fail):
    the one moment no real store can be made to hold still for."""

    def __init__(self, store) -> None:
        self._store = store
        self._go = threading.Event()
        self.fail = False

    def release(self, *, fail: bool = False) -> None:
        self.fail = fail
        self._go.set()

    def lookup(self, fn):
        return self._store.lookup(fn)

    def write(self, fn):
        if not self._go.is_set():
            self._go.wait()
            if self.fail:
                raise ApiError(ErrorCode.audit_unavailable, "held and refused")
        return self._store.write(fn)


@pytest.mark.parametrize("first_kept", [True, False])
def test_a_repeat_is_answered_only_once_the_first_of_its_kind_is_settled(state, data_dir, clock, first_kept) -> None:
    held = HeldStore(state.store)
    log = DenialLog(held, window=WINDOW, clock=clock, background=False)
    event = AuditRecord.of("secret.reveal", at="2026-12-03T00:00:00Z", outcome="denied", actor="v", actor_id="tok_1",
                           site="default", target="secret:site/A", source="127.0.0.1")
    outcomes: dict[str, object] = {}

    def deny(who: str) -> None:
        try:
            outcomes[who] = log.deny(event)
        except ApiError as error:
            outcomes[who] = error.code

    first = threading.Thread(target=deny, args=("first",))
    first.start()
    wait_until(lambda: len(log) == 1, "the first denial to open its window")
    repeat = threading.Thread(target=deny, args=("repeat",))
    repeat.start()
    wait_until(lambda: next(iter(log._windows.values())).count == 1, "the repeat to be counted")
    assert repeat.is_alive() and "repeat" not in outcomes  # counted, and waiting on the first's write
    held.release(fail=not first_kept)
    first.join()
    repeat.join()
    if first_kept:
        assert outcomes == {"first": True, "repeat": False}
        assert len(denied(data_dir)) == 1
    else:  # the first was refused (503), so the repeat is written on its own, not counted
        assert outcomes == {"first": ErrorCode.audit_unavailable, "repeat": True}
        assert [repeated(e) for e in denied(data_dir)] == [None] and len(log) == 1


class FirstWriteHeld(HeldStore):
    """`HeldStore` holding (and perhaps failing) its first write alone; the writes after it go
    straight through."""

    def __init__(self, store) -> None:
        super().__init__(store)
        self._first = threading.Lock()

    def write(self, fn):
        if self._first.acquire(blocking=False):
            return super().write(fn)
        return self._store.write(fn)


FLOOD = 12


def test_a_flood_of_one_denial_at_once_is_its_first_and_an_exact_count(state, mint, data_dir, clock) -> None:
    held = FirstWriteHeld(state.store)
    log = DenialLog(held, window=WINDOW, clock=clock, background=False)
    app = create_app(state, denials=log)
    token = mint("viewer")
    barrier = threading.Barrier(FLOOD)
    statuses: list[int] = []

    def deny() -> None:
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://testserver",
                          headers={"Authorization": f"Bearer {token}"}) as viewer:
            barrier.wait()
            statuses.append(viewer.post(f"{SITE}/secrets/A/reveal").status_code)

    threads = [threading.Thread(target=deny) for _ in range(FLOOD)]
    for thread in threads:
        thread.start()
    wait_until(lambda: sum(window.count for window in log._windows.values()) == FLOOD - 1,
               "every denial but the first to be counted while the first is written")
    held.release()
    for thread in threads:
        thread.join()
    clock.advance(WINDOW)
    log.flush_due()
    assert statuses == [403] * FLOOD
    assert [repeated(e) for e in denied(data_dir)] == [None, FLOOD - 1]
    app.close()


def test_a_window_that_closes_while_its_first_is_written_keeps_its_repeats(state, data_dir, clock) -> None:
    """A first event still being written when its window's time is up (a store that stalls) holds
    its repeats, the later ones too: they are counted once its fate is known, never written as a
    count before it nor counted twice when it fails."""
    held = FirstWriteHeld(state.store)
    log = DenialLog(held, window=WINDOW, clock=clock, background=False)
    event = AuditRecord.of("secret.reveal", at="2026-12-03T00:00:00Z", outcome="denied", actor="v", actor_id="tok_1",
                           site="default", target="secret:site/A", source="127.0.0.1")
    outcomes: list[object] = []

    def deny() -> None:
        try:
            outcomes.append(log.deny(event))
        except ApiError as error:
            outcomes.append(error.code)

    def counted() -> int:
        return sum(window.count for window in log._windows.values())

    threads = [threading.Thread(target=deny) for _ in range(3)]
    threads[0].start()
    wait_until(lambda: len(log) == 1, "the first denial to open its window")
    threads[1].start()
    wait_until(lambda: counted() == 1, "the repeat to be counted")
    clock.advance(WINDOW)
    threads[2].start()
    wait_until(lambda: counted() == 2 or not threads[2].is_alive(), "the late repeat to be counted or answered")
    held.release(fail=True)
    for thread in threads:
        thread.join()
    clock.advance(WINDOW)
    log.flush_due()
    assert sorted(outcomes, key=str) == sorted([ErrorCode.audit_unavailable, True, False], key=str)
    assert [repeated(e) for e in denied(data_dir)] == [None, 1]  # the two denials the log holds, each once


def test_a_live_server_writes_open_counts_when_it_stops(live_server, tmp_path) -> None:
    admin = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {live_server.admin_token}"})
    token = admin.post("/v1/tokens", json={"name": "v", "role": "viewer"}).json()["token"]
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}) as viewer:
        for _ in range(4):
            denied_reveal(viewer)
    admin.close()
    live_server.stop()
    data_dir = live_server.state.settings.data_dir
    assert [repeated(e) for e in denied(data_dir, action="secret.reveal")] == [None, 3]


def allow_audit_inserts(data_dir) -> None:
    if dbbackend.database_url(data_dir) is None:
        dbbackend.rows(data_dir, "DROP TRIGGER no_audit")
    else:
        dbbackend.rows(data_dir, "DROP TRIGGER no_audit ON audit_events")


def test_a_count_the_store_refuses_at_shutdown_is_logged_by_number(viewer, data_dir, app, caplog) -> None:
    denied_reveal(viewer)
    denied_reveal(viewer)
    denied_reveal(viewer)
    dbbackend.refuse_audit_inserts(data_dir)
    app.close()
    assert "2 repeated denials could not be audited at shutdown" in caplog.text
    assert "secret:site/A" not in caplog.text  # a count, never what was asked for
