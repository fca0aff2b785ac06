"""Walking the audit log's hash chains (`verify`) and ageing them out (retention).

`verify_chain` recomputes every link of one chain from its anchor (see `store/audit_tx.py` for what
a link is) and names the first event whose stored hash is not the one its content and its
predecessor give: an edited event is named itself, a removed one by the event after the gap, a
removed tail by comparing the chain's head. Events written before migration 6 carry no hash and
come before the chain's first link; they are counted, not checked.

Retention removes a chain's oldest events in batches of `RETENTION_BATCH`, each batch one write
of its own (so the writer is held a few milliseconds at a time), and records each batch as an
`audit.retention` event in the same transaction. The hash of the last removed event becomes the
chain's anchor, so what remains still verifies. With an export sink configured, no event past the
sink's mark (`exported_id`) is removed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .store import AuditRecord, Store, Transaction
from .store.audit_tx import GENESIS, chain_hash

RETENTION_BATCH = 100
"""Events removed per write; measured in `make bench` (row "audit retention batch")."""
_PAGE = 5000


@dataclass
class ChainReport:
    """What `verify_chain` found in one chain. `broken_id` is None when every link holds."""

    chain: str
    events: int = 0
    unsealed: int = 0
    """Events from before migration 6, which carry no hash."""
    broken_id: int | None = None
    reason: str = ""
    anchor_id: int = 0

    @property
    def ok(self) -> bool:
        return self.broken_id is None and not self.reason


def verify_chain(store: Store, chain: str) -> ChainReport:
    """Walk one chain from its anchor up to its head as read first; events written meanwhile are
    past the head and left for the next walk."""
    head = store.read(lambda tx: tx.chain_head(chain))
    report = ChainReport(chain)
    if head is None:
        return report
    _, last_id, last_hash, anchor_id, anchor_hash, _ = head
    report.anchor_id = anchor_id
    previous, sealing, after = anchor_hash or GENESIS, anchor_hash is not None, anchor_id
    while after < last_id:
        page = store.read(lambda tx: tx.chain_events(chain, after, _PAGE))
        if not page:
            break
        for event_id, stored, *sealed in page:
            if event_id > last_id:
                break
            after = event_id
            if stored is None and not sealing:
                report.unsealed += 1
                continue
            sealing = True
            report.events += 1
            if stored != chain_hash(previous, tuple(sealed)):
                report.broken_id = event_id
                report.reason = "has no hash" if stored is None else "its hash does not match its content and the event before it"
                return report
            previous = stored
    if sealing and (after != last_id or previous != last_hash):
        report.reason = f"the chain ends at event {after}, but its head names event {last_id}: events were removed from its end"
    return report


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
            removed, held = store.write(lambda tx: _timed(_remove_batch, tx, chain, name, before, now, exporting))
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
    _, _, _, anchor_id, anchor_hash, exported_id = head
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
