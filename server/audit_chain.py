"""Walking the audit log's hash chains (`verify`) and ageing them out (retention).

`verify_chain` recomputes every link of one chain from its anchor (see `store/audit_tx.py` for what
a link is) and names the first event whose stored hash is not the one its content and its
predecessor give: an edited event is named itself, a removed one by the event after the gap, a
removed tail by comparing the chain's head. Events written before migration 6 carry no hash and
come before the chain's first link; they are counted, not checked.

Keyed chains. Given the audit key, the walk first checks the chain's seal (where its keyed links
begin, and its anchor) and refuses a chain whose seal is missing or does not hold; then it checks
links up to `keyed_after` as SHA-256 (written before links were keyed), that the last of them is
the `keyed_hash` the seal pins, and every later link as an HMAC. So an edit anywhere needs the
master key to hide: an edited keyed event cannot be re-linked, an edited old one changes the hash
the seal and the first keyed link pin, and moving the switch-over or the anchor breaks the seal.
What no chain can show is its newest events removed with the head moved back to match (the head
is not sealed: a seal of it could be replayed from a copy of the database anyway); only a copy of
the head kept elsewhere (an export sink, a noted `verify`) shows that.

Retention removes a chain's oldest events in batches of `RETENTION_BATCH`, each batch one write
of its own (so the writer is held a few milliseconds at a time), and records each batch as an
`audit.retention` event in the same transaction. The hash of the last removed event becomes the
chain's anchor, so what remains still verifies. With an export sink configured, no event past the
sink's mark (`exported_id`) is removed.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from .store import AuditRecord, ChainTampered, Store, Transaction
from .store.audit_key import AuditKey
from .store.audit_tx import GENESIS, chain_hash, chain_mac, seal_holds

RETENTION_BATCH = 100
"""Events removed per write; measured in `make bench` (row "audit retention batch")."""
_PAGE = 5000
log = logging.getLogger("sitesecrets.server")


@dataclass
class ChainReport:
    """What `verify_chain` found in one chain. `broken_id` is None when every link holds."""

    chain: str
    events: int = 0
    unsealed: int = 0
    """Events from before migration 6, which carry no hash."""
    unkeyed: int = 0
    """Of `events`, those whose link is plain SHA-256 (written before links were keyed)."""
    broken_id: int | None = None
    reason: str = ""
    anchor_id: int = 0

    @property
    def ok(self) -> bool:
        return self.broken_id is None and not self.reason


def verify_chain(store: Store, chain: str, key: AuditKey | None) -> ChainReport:
    """Walk one chain from its anchor up to its head as read first; events written meanwhile are
    past the head and left for the next walk. `key`: the audit key, or None for a database not yet
    upgraded to keyed links (`tokenkey.read_audit_key`), whose chains are SHA-256 throughout."""
    head = store.read(lambda tx: tx.chain_head(chain))
    report = ChainReport(chain)
    if head is None:
        return report
    report.anchor_id = head.anchor_id
    report.reason = _unsealed(head, key)
    if report.reason:
        return report
    keyed_after = head.keyed_after
    switched = keyed_after is None or head.anchor_id >= keyed_after
    previous, sealing, after = head.anchor_hash or GENESIS, head.anchor_hash is not None, head.anchor_id
    while after < head.last_id:
        page = store.read(lambda tx: tx.chain_events(chain, after, _PAGE))
        if not page:
            break
        for event_id, stored, *sealed in page:
            if event_id > head.last_id:
                break
            if not switched and event_id > keyed_after:
                switched = True
                if previous != (head.keyed_hash or GENESIS):
                    report.broken_id = event_id
                    report.reason = (f"the events up to {keyed_after}, before it, are not those its chain was keyed after: "
                                     "some were changed or removed")
                    return report
            after = event_id
            keyed = switched and key is not None  # (a key was given: the seal held, so `keyed_after` is set)
            if stored is None and not sealing and not keyed:
                report.unsealed += 1
                continue
            sealing = True
            report.events += 1
            if keyed:
                link = chain_mac(key, previous, tuple(sealed))
            else:
                report.unkeyed += 1
                link = chain_hash(previous, tuple(sealed))
            if stored != link:
                report.broken_id = event_id
                report.reason = "has no hash" if stored is None else "its hash does not match its content and the event before it"
                return report
            previous = stored
    if not switched and previous != (head.keyed_hash or GENESIS):
        report.reason = f"the chain's events up to {keyed_after} are not those it was keyed after: some were changed or removed"
    elif sealing and (after != head.last_id or previous != head.last_hash):
        report.reason = f"the chain ends at event {after}, but its head names event {head.last_id}: events were removed from its end"
    return report


def _unsealed(head, key: AuditKey | None) -> str:
    """Why the chain's keyed state cannot be trusted, or "": with a key, its seal must hold (a
    chain without one, in a database whose key check value says it was keyed, is broken, never
    old); without one, the chain must not be keyed."""
    if key is None:
        return "the chain is keyed, and no audit key was given to check it" if head.keyed_after is not None else ""
    if not seal_holds(key, head):
        return ("its seal (where its keyed links begin, and its anchor) is missing or does not hold under "
                "the audit key: the chain's record was changed without the master key")
    return ""


class Walks:
    """The walks of `verify` in this process. A walk costs CPU in proportion to its site's log
    (about 5 µs an event: 1,000,000 events in 5 s), so one tenant's verifies must not crowd out
    everyone else's requests: requests for a chain already being walked share that walk (its
    report covers the chain up to its head as read when the walk began), and at most `slots`
    chains are walked at once, a further one waiting for a slot. The server's (`audit_walker.WALKS`)
    walk a long chain in a process of its own, so the walk does not hold this one's interpreter."""

    def __init__(self, slots: int = 2, walk: Callable[[Store, str, AuditKey | None], ChainReport] | None = None) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self._walk = walk or verify_chain
        self._lock = threading.Lock()
        self._running: dict[tuple[int, str], Future[ChainReport]] = {}
        self._sharing: dict[tuple[int, str], int] = {}
        self._queued = 0

    def verify(self, store: Store, chain: str, key: AuditKey | None) -> ChainReport:
        """`verify_chain(store, chain, key)`, or the result of the walk of it under way."""
        name = (id(store), chain)
        with self._lock:
            running = self._running.get(name)
            walking = running is None
            if walking:
                running = self._running[name] = Future()
            else:
                self._sharing[name] = self._sharing.get(name, 0) + 1
        if not walking:
            return running.result()
        try:
            with self._lock:
                self._queued += 1
            with self._slots:
                with self._lock:
                    self._queued -= 1
                report = self._walk(store, chain, key)
            running.set_result(report)
            return report
        except BaseException as error:  # the sharers get it too, then it goes on to this caller
            running.set_exception(error)
            raise
        finally:
            with self._lock:
                del self._running[name]
                self._sharing.pop(name, None)

    def queued(self) -> int:
        """How many walks wait for a slot."""
        with self._lock:
            return self._queued

    def sharing(self, store: Store, chain: str) -> int:
        """How many requests wait for the walk of `chain` under way besides its own."""
        with self._lock:
            return self._sharing.get((id(store), chain), 0)


# ---------------------------------------------------------------- retention


@dataclass
class RetentionReport:
    removed: int = 0
    batches: int = 0
    longest_batch_ms: float = 0.0
    """The longest time one batch's write took, queueing and commit (its fsync) included."""
    longest_hold_ms: float = 0.0
    """The longest time one batch's work held the writer, its commit left out."""
    per_chain: dict[str, int] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    """Chains left as they were because their seal does not hold (`ChainTampered`)."""


def cutoff(now: str, days: int) -> str:
    moment = datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) - timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def apply_retention(store: Store, default_days: int, now: str, *, exporting: bool) -> RetentionReport:
    """Remove every chain's events older than its site's `audit_retention_days` (the server's
    `default_days` unless the operator set one; 0 keeps all), batch by batch."""
    report = RetentionReport()

    chains, sites = store.read(lambda tx: ([c[0] for c in tx.audit_chains()], tx.chain_sites()))
    for chain in chains:
        name, days = sites.get(chain, (None, None))
        days = default_days if days is None else days
        if days <= 0:
            continue
        before = cutoff(now, days)
        while True:
            began = time.monotonic()
            try:
                removed, held = store.write(lambda tx: _timed(_remove_batch, tx, chain, name, before, now, exporting))
            except ChainTampered:
                log.error("audit retention left chain %r as it was: its seal does not hold (run audit verify)", chain)
                report.refused.append(chain)
                break
            if not removed:
                break
            report.longest_hold_ms = max(report.longest_hold_ms, held * 1000)
            report.batches += 1
            report.removed += removed
            report.per_chain[chain] = report.per_chain.get(chain, 0) + removed
            report.longest_batch_ms = max(report.longest_batch_ms, (time.monotonic() - began) * 1000)
    return report


def _timed(fn, *args):
    began = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - began


def _remove_batch(tx: Transaction, chain: str, site: str | None, before: str, now: str, exporting: bool) -> int:
    head = tx.chain_head(chain)
    if head is None:
        return 0
    anchor_id, anchor_hash, exported_id = head.anchor_id, head.anchor_hash, head.exported_id
    last = None
    for event_id, stored, at, *_ in tx.chain_events(chain, anchor_id, RETENTION_BATCH):
        if at >= before or (exporting and event_id > exported_id):
            break
        last = (event_id, stored)
    if last is None:
        return 0
    removed = tx.remove_chain_prefix(chain, last[0], last[1] if last[1] is not None else anchor_hash)
    details = {"removed": removed, "up_to_id": last[0], "before": before}
    if site is None:
        details["chain"] = chain or "none"
    tx.insert_audit(AuditRecord.of("audit.retention", details=details, at=now, outcome="ok", site=site,
                                   target="audit", actor="server"))
    return removed
