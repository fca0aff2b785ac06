"""SQLite's group commit (`SqliteStore.write`): writes that queue while a group is being committed
go into the next group together, their audit events written at its end onto their chains in the
order the writes were queued; a write whose event the log refuses fails alone."""

from __future__ import annotations

import threading

import pytest

import dbbackend
from server import audit
from server.audit_chain import verify_chain
from server.http import ApiError
from server.store import AuditRecord
from waiting import wait_until

pytestmark = pytest.mark.sqlite_only(reason="the group commit of writes is the SQLite store's")

QUEUED = 8


def _event(n: int) -> AuditRecord:
    # two chains taking turns: site `default`'s and the one of events of no site
    return AuditRecord.of("service.env", details={"n": n}, at="2026-01-01T00:00:00Z", outcome="ok",
                          site="default" if n % 2 else None, target=f"service:s{n}", actor="test", source="test")


def _queue_behind_a_held_group(store, fns) -> list:
    """Start `fns` as writes while a first group is held open, so that they all queue up and go into
    the next group together; returns their results (or exceptions), in order."""
    release, entered = threading.Event(), threading.Event()

    def hold(tx):
        entered.set()
        release.wait(30)

    results: list = [None] * len(fns)
    first = threading.Thread(target=store.write, args=(hold,))
    first.start()
    wait_until(entered.is_set, "the first group to run")

    def run(i, fn):
        try:
            results[i] = store.write(fn)
        except Exception as error:  # noqa: BLE001 - asserted by the caller
            results[i] = error

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    wait_until(lambda: store._queue.qsize() == len(fns), "every write to queue")
    release.set()
    for t in [first, *threads]:
        t.join(30)
    return results


def _recorder(n: int):
    def fn(tx):
        audit.record(tx, _event(n))
        return n
    return fn


def _logged(data_dir) -> list[dict]:
    return dbbackend.rows(data_dir, "SELECT id, target, chain_id FROM audit_events WHERE actor = 'test' ORDER BY id")


def test_events_of_a_group_land_in_queue_order_on_chains_that_verify(state, data_dir) -> None:
    results = _queue_behind_a_held_group(state.store, [_recorder(n) for n in range(QUEUED)])
    assert results == list(range(QUEUED))
    assert [e["target"] for e in _logged(data_dir)] == [f"service:s{n}" for n in range(QUEUED)]
    chains = {c[0]: c for c in state.store.read(lambda tx: tx.audit_chains())}
    for chain in ("", state.store.read(lambda tx: tx.chain_of("default"))):
        assert verify_chain(state.store, chain, state.store.audit_key).ok
        newest = dbbackend.rows(data_dir, "SELECT max(e.id) AS id FROM audit_events e JOIN audit_chains c "
                                          "ON c.id = e.chain_id WHERE c.chain = ?", chain)[0]["id"]
        assert chains[chain][1] == newest  # the chain's head names its newest event


def test_write_whose_event_is_refused_fails_alone_and_the_others_commit(state, data_dir) -> None:
    dbbackend.rows(data_dir, "CREATE TRIGGER refuse_s3 BEFORE INSERT ON audit_events WHEN NEW.target = 'service:s3' "
                             "BEGIN SELECT RAISE(ABORT, 'audit refused'); END")
    results = _queue_behind_a_held_group(state.store, [_recorder(n) for n in range(QUEUED)])
    assert isinstance(results[3], ApiError) and results[3].code == "audit_unavailable"
    assert [r for n, r in enumerate(results) if n != 3] == [n for n in range(QUEUED) if n != 3]
    assert [e["target"] for e in _logged(data_dir)] == [f"service:s{n}" for n in range(QUEUED) if n != 3]
    assert all(verify_chain(state.store, c[0], state.store.audit_key).ok for c in state.store.read(lambda tx: tx.audit_chains()))

