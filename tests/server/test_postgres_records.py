"""PostgreSQL's group commit for audited reads (`PostgresStore.record`): records queued together
share one transaction, one refused record fails alone, and each caller hears back only after the
commit that carries its write."""

from __future__ import annotations

import json
import threading

import pytest

from server.store import AuditRecord
from waiting import wait_until

pytestmark = pytest.mark.postgresql_only(reason="the group commit of records is the PostgreSQL store's")

QUEUED = 10


def _event(n: int) -> AuditRecord:
    return AuditRecord.of("service.env", details={"n": n}, at="2026-01-01T00:00:00Z", outcome="ok", site="default",
                          target=f"service:s{n}", actor="test", source="test")


def _queue_behind_a_held_group(store, fns) -> tuple[list, threading.Event]:
    """Start `fns` as records while the recorder is held inside a first group, so that they all
    queue up and go into the next group together; returns their results (in order) and the release."""
    release = threading.Event()
    entered = threading.Event()

    def hold(tx):
        entered.set()
        release.wait(30)

    results: list = [None] * len(fns)
    first = threading.Thread(target=store.record, args=(hold,))
    first.start()
    wait_until(entered.is_set, "the recorder to run the first group")

    def run(i, fn):
        try:
            results[i] = store.record(fn)
        except Exception as error:  # noqa: BLE001 - asserted by the caller
            results[i] = error

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    wait_until(lambda: store._records.qsize() == len(fns), "every record to queue")
    release.set()
    for t in [first, *threads]:
        t.join(30)
    return results, release


def test_records_queued_together_commit_in_one_transaction(state) -> None:
    def insert(n):
        def fn(tx):
            tx.insert_audit(_event(n))
            return tx._one("SELECT txid_current()")[0]
        return fn

    results, _ = _queue_behind_a_held_group(state.store, [insert(n) for n in range(QUEUED)])
    assert len(set(results)) == 1, results  # one transaction id: one commit for all ten
    count = state.store.read(lambda tx: tx._one("SELECT count(*) FROM audit_events WHERE actor = 'test'")[0])
    assert count == QUEUED


def test_a_record_that_fails_fails_alone_and_the_others_commit(state) -> None:
    class Refused(Exception):
        pass

    def insert(n):
        def fn(tx):
            tx.insert_audit(_event(n))
            if n == 3:
                raise Refused()
            return n
        return fn

    results, _ = _queue_behind_a_held_group(state.store, [insert(n) for n in range(QUEUED)])
    assert isinstance(results[3], Refused)
    assert [r for i, r in enumerate(results) if i != 3] == [n for n in range(QUEUED) if n != 3]
    targets = state.store.read(lambda tx: tx._all("SELECT target FROM audit_events WHERE actor = 'test' ORDER BY target"))
    assert [t[0] for t in targets] == sorted(f"service:s{n}" for n in range(QUEUED) if n != 3)


def test_a_group_of_several_chains_writes_each_event_onto_its_own_chain_in_order(state) -> None:
    """One group's events of a site, of a site whose chain is new (its first event is in the group),
    of no site, and of a name no site has (the chain of no site too): each lands on its chain, in
    the order queued, and every chain verifies up to a head that names its last event."""
    from server.audit_chain import verify_chain

    now = "2026-01-01T00:00:00Z"
    state.store.write(lambda tx: (tx.insert_site("grouped", b"k", now), tx.insert_site("fresh", b"k", now)))
    state.store.write(lambda tx: tx.insert_audit(AuditRecord.of("x.first", at=now, outcome="ok", site="grouped")))
    sites = ["grouped", None, "fresh", "nosuch", "grouped", "fresh", None, "grouped"]

    def insert(n):
        def fn(tx):
            tx.insert_audit(AuditRecord.of("x.grouped", at=now, outcome="ok", site=sites[n], target=f"t{n}",
                                           actor="test", source="test"))
            return tx._one("SELECT txid_current()")[0]
        return fn

    results, _ = _queue_behind_a_held_group(state.store, [insert(n) for n in range(len(sites))])
    assert len(set(results)) == 1, results  # one group, one transaction

    def chain_targets(tx, chain):
        return [r[0] for r in tx._all("SELECT target FROM audit_events WHERE chain_id = (SELECT id FROM audit_chains "
                                      "WHERE chain = %s) AND action = 'x.grouped' ORDER BY id", chain)]

    uids = {name: state.store.read(lambda tx: tx.chain_of(name)) for name in ("grouped", "fresh")}
    for chain, expected in ((uids["grouped"], ["t0", "t4", "t7"]), (uids["fresh"], ["t2", "t5"]), ("", ["t1", "t3", "t6"])):
        assert state.store.read(lambda tx: chain_targets(tx, chain)) == expected
        report = verify_chain(state.store, chain, state.store.audit_key)
        assert report.ok and report.unsealed == 0, report
        last_id = state.store.read(lambda tx: tx.chain_head(chain)[1])
        assert last_id == state.store.read(lambda tx: tx._one("SELECT max(id) FROM audit_events WHERE chain_id = "
                                                              "(SELECT id FROM audit_chains WHERE chain = %s)", chain)[0])


def test_a_groups_events_are_stored_exactly_as_given_whatever_their_text(state) -> None:
    """The group's events travel to PostgreSQL as one JSON text: quotes, backslashes, line breaks,
    characters beyond the BMP, JSON-looking text and missing fields come back as they went, and
    the chain, hashed from the values before they travelled, verifies."""
    from server.audit_chain import verify_chain

    awkward = ['say "hi"', "back\\slash", "line\nbreak\ttab", "emoji \U0001f511 and é", '{"n": 1}', "null", "[1]"]

    def insert(text):
        def fn(tx):
            tx.insert_audit(AuditRecord.of("x.awkward", at="2026-01-01T00:00:00Z", outcome="ok", site="default",
                                           target=text, actor=text, source=None, details={"text": text}))
        return fn

    _queue_behind_a_held_group(state.store, [insert(text) for text in awkward])
    rows = state.store.read(lambda tx: tx._all("SELECT target, actor, source, details FROM audit_events "
                                               "WHERE action = 'x.awkward' ORDER BY id"))
    assert [(r[0], r[1], r[2]) for r in rows] == [(text, text, None) for text in awkward]
    assert [json.loads(r[3]) for r in rows] == [{"text": text} for text in awkward]
    report = verify_chain(state.store, state.store.read(lambda tx: tx.chain_of("default")), state.store.audit_key)
    assert report.ok and report.unsealed == 0, report
