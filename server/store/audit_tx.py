"""The audit log's queries (migration 6): writing an event into its hash chain, filtered pages that
stay fast at millions of events, and what retention, export and `verify` read and remove.

A mixin of `SqlTx`, in the SQL both dialects read, on `SqlTx`'s `_one`, `_all`, `_run`,
`_insert_id` and `_site_lock` (which, in a PostgreSQL write, locks the row it reads).

Chains. Every event belongs to one chain: its site's lifetime (`site_uid`), or the chain `""` of
events of no site; it names the chain's row by `chain_id`. Its `hash` is HMAC-SHA256 under the
audit key over the previous event's hash and its own stored columns (`chain_mac`), so editing,
removing or reordering a stored event breaks the link after it, and only a holder of the master
key (which the audit key is derived from, see `crypto.audit_chain_key`) can write a link that
holds. Chains written before links were keyed hold plain SHA-256 links (`chain_hash`) up to their
`keyed_after` event; the chain's `seal` (`chain_seal`) pins that switch-over and the retention
anchor under the audit key. A transaction writes events only with the key (`audit_key`, given by
its store): without it every event is refused (`AuditKeyMissing`). The
chain's head row in `audit_chains` holds the last hash; writing an event reads the head, locking it
on PostgreSQL, so two transactions of one site take turns and the chain's order is its id order
(the id is drawn after the lock). SQLite has one writer, so its read needs no lock.

Where several events of several chains go into one transaction (PostgreSQL's grouped records),
`defer_audit` holds them until `seal_audit`, which takes the chains' heads in sorted order: two
groups on two replicas then never wait for each other in a cycle. PostgreSQL's transactions
(`PostgresTx`) hold every event this way (a write that does not defer seals each at once) and seal
them in two statements however many there are: one reads every event's site uid and locks every
chain head, in chain order; one inserts them all and moves each head.

Filtered pages. A page is the newest `limit` events before a cursor. A filter that most events
match is answered by the newest events of the site (a probe of `_PROBE` rows); a rarer one by an
index: `audit_chain_target` `(chain_id, target, action, id)` or `audit_chain_actor` `(chain_id,
actor, action, id)` when the page filters a target or an actor (the rarer of the two, judged by
counting at most `_COUNT_CAP` index entries of each, ten times that where both reach it), else
`audit_chain_action` `(chain_id, action, id)`. The index is read for the page's ids alone (with an
action filter too, from the index alone: it holds the action), then only those rows are read. A
prefix is a range of its index. The operator's whole log reads the same indexes chain by chain,
taking a target over an actor without counting (on PostgreSQL, each chain's newest matches by a
`LATERAL` read: see `PostgresTx._newest_ids`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from json.encoder import encode_basestring
from typing import Any, NamedTuple

from .audit_key import AuditKey
from .base import AuditKeyMissing, AuditRecord, ChainTampered

GENESIS = bytes(32)
"""The previous hash of a chain's first event (when retention left no anchor)."""
_PROBE = 2000
_COUNT_CAP = 20000
_COLUMNS = "id, at, actor, actor_id, action, site, target, outcome, source, details"
_KEYS = tuple(_COLUMNS.split(", "))
_SEALED = "at, actor, actor_id, action, site, site_uid, target, outcome, source, details"
"""The columns a hash covers, in this order (all but the id, which only orders the chain)."""
_INSERT = f"INSERT INTO audit_events ({_SEALED}, hash, chain_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_SITE_AND_HEAD = ("SELECT u.uid, c.id, c.last_hash, c.anchor_hash FROM (SELECT (SELECT uid FROM sites WHERE name = ?) AS uid) u "
                  "LEFT JOIN audit_chains c ON c.chain = coalesce(u.uid, '')")
_INDEXES = {"action": "audit_chain_action", "actor": "audit_chain_actor", "target": "audit_chain_target"}
_SEALED_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_quote = encode_basestring  # what `_SEALED_JSON` quotes a string with (ensure_ascii=False)
_SEAL_LABEL = "sitesecrets audit chain seal v1"
_HEAD = "chain, last_id, last_hash, anchor_id, anchor_hash, exported_id, keyed_after, keyed_hash, seal"
_NEW_CHAIN = "INSERT INTO audit_chains (chain, keyed_after, seal) VALUES (?, 0, ?) ON CONFLICT (chain) DO NOTHING"
"""A chain made by a keyed writer: keyed from its first event."""
_EVERY_CHAIN = "chain_id IN (SELECT id FROM audit_chains)"
"""The whole log's condition in a form the `(chain_id, ...)` indexes serve: one range per chain."""


def chain_hash(previous: bytes, sealed: tuple) -> bytes:
    """The link of an event written before links were keyed: SHA-256 of the previous event's hash
    and the event's `_SEALED` columns, as `json.dumps(list(sealed), ensure_ascii=False,
    separators=(",", ":"))` writes them in UTF-8. Only `verify` computes it now."""
    return hashlib.sha256(_link_body(previous, sealed)).digest()


def chain_mac(key: AuditKey, previous: bytes, sealed: tuple) -> bytes:
    """The link of an event: HMAC-SHA256 under the audit key over what `chain_hash` hashes."""
    return key.mac(_link_body(previous, sealed))


def _link_body(previous: bytes, sealed: tuple) -> bytes:
    """What a link covers: the previous link, then the event's columns as JSON in UTF-8."""
    return previous + _sealed_json(sealed).encode("utf-8", "surrogatepass")


def chain_seal(key: AuditKey, chain: str, keyed_after: int, keyed_hash: bytes | None, anchor_id: int,
               anchor_hash: bytes | None) -> bytes:
    """The MAC over a chain's state that a writer of the database cannot move: where its keyed links
    begin (after event `keyed_after`, whose link is `keyed_hash`) and its retention anchor. Without
    it, resetting `keyed_after` past the head would let plain SHA-256 links be written over keyed
    ones, and moving the anchor would drop the chain's oldest events unnoticed."""
    state = [_SEAL_LABEL, chain, keyed_after, keyed_hash and keyed_hash.hex(), anchor_id, anchor_hash and anchor_hash.hex()]
    return key.mac(_SEALED_JSON.encode(state).encode())


def new_chain_seal(key: AuditKey, chain: str) -> bytes:
    """The seal of a chain made by a keyed writer: keyed from its first event, no anchor."""
    return chain_seal(key, chain, 0, None, 0, None)


def seal_holds(key: AuditKey, head: "ChainHead") -> bool:
    """Whether the chain's stored seal is the one its state gives under `key`."""
    if head.seal is None or head.keyed_after is None:
        return False
    expected = chain_seal(key, head.chain, head.keyed_after, head.keyed_hash, head.anchor_id, head.anchor_hash)
    return hmac.compare_digest(head.seal, expected)


class ChainHead(NamedTuple):
    """A chain's row in `audit_chains`."""

    chain: str
    last_id: int
    last_hash: bytes | None
    anchor_id: int
    anchor_hash: bytes | None
    exported_id: int
    keyed_after: int | None
    """Links after this event are keyed; None: the chain has not been keyed (an older database)."""
    keyed_hash: bytes | None
    seal: bytes | None


def _sealed_json(sealed: tuple) -> str:
    """`json.dumps`' text of the columns, built without the encoder `json.dumps` makes per call (a
    third of the hash's instructions, on the writer thread): the columns are text or NULL, each
    quoted by the function `json.dumps` quotes a string with; anything else goes through the encoder."""
    try:
        return "[" + ",".join([_quote(v) if v is not None else "null" for v in sealed]) + "]"
    except TypeError:
        return _SEALED_JSON.encode(list(sealed))


def _of_chain(chain_id: int) -> str:
    """The condition that picks a chain's events, with the chain's id written into the statement:
    PostgreSQL's planner, given a parameter, assumes the log's most common chain, and for a small
    chain in a large log walked the primary key through every other chain's events (450 ms for a
    site of three events beside 3,000,000 others) instead of reading `(chain_id, ...)` indexes."""
    return f"chain_id = {int(chain_id)}"


def _conditions(filters: dict[str, str]) -> dict[str, tuple[str, list[Any]]]:
    """{column: (condition, parameters)} of a page's filters, each in the form its index reads in
    order: an exact value, or a prefix (a trailing '*': `action=secret.*`, `target=secret:app/web/*`)
    as the range of texts that start with it, which every filtered column sorts in the same order on
    both backends (by code point: SQLite compares UTF-8 bytes, PostgreSQL's are `COLLATE "C"`)."""
    conditions = {}
    for column in ("action", "actor", "target"):
        if column not in filters:
            continue
        value = filters[column]
        if not value.endswith("*"):
            conditions[column] = (f"{column} = ?", [value])
            continue
        prefix, above = value[:-1], _past(value[:-1])
        conditions[column] = ((f"{column} >= ? AND {column} < ?", [prefix, above]) if above is not None
                              else (f"{column} >= ?", [prefix]))
    return conditions


def _past(prefix: str) -> str | None:
    """The least text above every text that starts with `prefix`: the prefix with its last
    character raised by one (a last U+10FFFF, which has none above it, dropped first, and the
    surrogates, which no stored text holds, stepped over); None when nothing is above (an empty
    prefix, or one of U+10FFFF alone)."""
    stem = prefix.rstrip("\U0010ffff")
    if not stem:
        return None
    last = ord(stem[-1]) + 1
    return stem[:-1] + chr(0xE000 if 0xD800 <= last <= 0xDFFF else last)


def _head(row: tuple) -> ChainHead:
    def blob(value: Any) -> bytes | None:
        return value if value is None else bytes(value)

    return ChainHead(row[0], row[1], blob(row[2]), row[3], blob(row[4]), row[5], row[6], blob(row[7]), blob(row[8]))


def _row(row: tuple) -> dict[str, Any]:
    return dict(zip(_KEYS, row[:-1] + (json.loads(row[-1]),)))


class AuditQueries:
    """Audit events; see `base.Transaction` for each method's contract."""

    _one: Any
    _all: Any
    _run: Any
    _insert_id: Any
    _many: Any
    _site_lock: Any
    audit_key: AuditKey | None = None
    """The key of this database's audit links (see `crypto.audit_chain_key`), given by the store;
    None in a store opened without the master key, which may then write no audit event."""
    defer_audit: bool = False
    """Hold inserted events until `seal_audit` (set by a store that groups several writers' events)."""
    _pending_audit: list | None = None

    def _audit_index(self, name: str) -> str:
        """What names the index a filtered page must read (SQLite: `INDEXED BY`); nothing where the
        planner's statistics choose well (PostgreSQL)."""
        return ""

    # ------------------------------------------------------------ writing

    def insert_audit(self, event: AuditRecord, *, site_gone: bool = False) -> None:
        """The event is keyed to the site of that name as it exists in this transaction, so it
        lands in the log (and the chain) of the site's current lifetime (and a site's deletion is
        audited before the row goes). `site_gone`: the lifetime the event belongs to has ended (the
        site was deleted, its name perhaps taken again since), so it goes to the chain of no site,
        naming the site still: into the operator's log, never into a later lifetime's."""
        if not self.defer_audit and not self._site_lock() and not site_gone:
            self._insert_now(event)
            return
        if self._pending_audit is None:
            self._pending_audit = []
        uid = self._one("SELECT uid FROM sites WHERE name = ?", event.site) if event.site is not None and not site_gone else None
        self._pending_audit.append((uid[0] if uid else None, event))
        if not self.defer_audit:
            self.seal_audit()

    def _insert_now(self, event: AuditRecord) -> None:
        """One event written at once where no row lock orders the chain (SQLite's one writer): its
        site's uid and its chain's head read by one query instead of two."""
        uid, chain_id, last_hash, anchor_hash = self._one(_SITE_AND_HEAD, event.site)
        if chain_id is None:  # the chain's first event: its row is made
            head = self._lock_chain(uid or "")
        else:
            head = chain_id, bytes(last_hash or anchor_hash or GENESIS)
        self._write_events([(uid, event)], {uid or "": head})

    def seal_audit(self) -> None:
        """Write the held events in the order they were held, each hashed onto its chain: every
        chain's head read first, in sorted order, then the events inserted by one statement, then
        each head written once."""
        pending, self._pending_audit = self._pending_audit or [], []
        if pending:
            self._write_events(pending, {chain: self._lock_chain(chain) for chain in sorted({uid or "" for uid, _ in pending})})

    def _write_events(self, pending: list[tuple[str | None, AuditRecord]], heads: dict[str, tuple[int, bytes]]) -> None:
        """Insert `pending` ((site uid, event), in order) onto their chains, whose `heads` (id and last
        hash) are read, and write each chain's new head."""
        key = self._key()
        rows = []
        for uid, event in pending:
            chain_id, previous = heads[uid or ""]
            sealed = (event.at, event.actor, event.actor_id, event.action, event.site, uid, event.target,
                      event.outcome, event.source, event.details)
            previous = chain_mac(key, previous, sealed)
            heads[uid or ""] = chain_id, previous
            rows.append((*sealed, previous, chain_id))
        if len(rows) == 1:
            last_id = self._insert_id(_INSERT, *rows[0])
            self._run("UPDATE audit_chains SET last_id = ?, last_hash = ? WHERE id = ?", last_id, previous, chain_id)
            return
        self._many(_INSERT, rows)
        for chain_id, previous in heads.values():  # ids are drawn in row order, each chain's under its lock
            self._run("UPDATE audit_chains SET last_id = (SELECT max(id) FROM audit_events WHERE chain_id = ?), "
                      "last_hash = ? WHERE id = ?", chain_id, previous, chain_id)

    def _key(self) -> AuditKey:
        if self.audit_key is None:
            raise AuditKeyMissing()
        return self.audit_key

    def _lock_chain(self, chain: str) -> tuple[int, bytes]:
        """The chain's id and last hash (its anchor's, or `GENESIS`), its row locked in a PostgreSQL
        write; a new chain's row is made, keyed from its first event."""
        query = f"SELECT id, last_hash, anchor_hash FROM audit_chains WHERE chain = ?{self._site_lock()}"
        row = self._one(query, chain)
        if row is None:
            self._run(_NEW_CHAIN, chain, new_chain_seal(self._key(), chain))
            row = self._one(query, chain)
        return row[0], bytes(row[1] or row[2] or GENESIS)

    # ------------------------------------------------------------ reading a page

    def list_audit(self, site: str | None, filters: dict[str, str], limit: int, before: int | None) -> list[dict[str, Any]]:
        where, params = [], []
        if site is not None:  # this lifetime of the site only: a deleted namesake's events are not its
            chain = self._one("SELECT c.id FROM sites s JOIN audit_chains c ON c.chain = s.uid WHERE s.name = ?", site)
            if chain is None:
                return []
            where.append(_of_chain(chain[0]))
        if before is not None:
            where.append("id < ?")
            params.append(before)
        conditions = _conditions(filters)
        if not conditions:
            return self._page("audit_events", where, params, limit)
        matches = [condition for condition, _ in conditions.values()]
        match_params = [value for _, values in conditions.values() for value in values]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        window = f"(SELECT * FROM audit_events {clause} ORDER BY id DESC LIMIT {_PROBE}) recent"
        rows = self._page(window, matches, params + match_params, limit)
        if len(rows) == limit:
            return rows
        leads = {column: conditions[column] for column in ("target", "actor") if column in conditions}
        if site is not None:
            column = self._rarest(where, params, leads) if leads else "action"
        else:  # the whole log: no count over every chain, a target is taken as the rarer
            column = next(iter(leads), "action")
        ids, id_params = self._newest_ids(_INDEXES[column], where + matches, params + match_params, limit,
                                          every_chain=site is None)
        return self._page("audit_events", [f"id IN ({ids})"], id_params, limit)

    def _newest_ids(self, index: str, where: list[str], params: list[Any], limit: int, *,
                    every_chain: bool) -> tuple[str, list[Any]]:
        """The query of the ids of the newest `limit` events that `where` picks, read from `index`,
        and its parameters. `every_chain`: of the whole log, each chain's part of the index read as
        a range of its own."""
        if every_chain:
            where = [_EVERY_CHAIN, *where]
        return (f"SELECT id FROM audit_events{self._audit_index(index)} WHERE {' AND '.join(where)} "
                f"ORDER BY id DESC LIMIT ?", [*params, limit])

    def _page(self, source: str, where: list[str], params: list[Any], limit: int) -> list[dict[str, Any]]:
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        return [_row(r) for r in self._all(f"SELECT {_COLUMNS} FROM {source} {clause} ORDER BY id DESC LIMIT ?", *params, limit)]

    def _rarest(self, where: list[str], params: list[Any], ranges: dict[str, tuple[str, list]]) -> str:
        """The filter column whose index holds the fewest entries in range: counted (index only) up
        to a cap, and those that reach it counted again up to ten times the cap, so a common filter
        never ties with a merely frequent one."""
        candidates = list(ranges)
        for cap in (_COUNT_CAP, _COUNT_CAP * 10):
            if len(candidates) == 1:
                break
            counts = {}
            for column in candidates:
                condition, values = ranges[column]
                index = self._audit_index(_INDEXES[column])
                counts[column] = self._one(
                    f"SELECT count(*) FROM (SELECT 1 FROM audit_events{index} WHERE {' AND '.join(where + [condition])} "
                    f"LIMIT {cap}) n", *params, *values)[0]
            least = min(counts.values())
            if least < cap:
                return min(counts, key=counts.__getitem__)
            candidates = [column for column, count in counts.items() if count == least]
        return candidates[0]

    # ------------------------------------------------------------ chains, retention, export

    def audit_chains(self) -> list[tuple]:
        """(chain, last_id, last_hash, anchor_id, anchor_hash, exported_id) of every chain, by chain."""
        return [(r[0], r[1], r[2] and bytes(r[2]), r[3], r[4] and bytes(r[4]), r[5]) for r in self._all(
            "SELECT chain, last_id, last_hash, anchor_id, anchor_hash, exported_id FROM audit_chains ORDER BY chain")]

    def chain_of(self, site: str) -> str | None:
        """The chain of the site's current lifetime (its uid), or None if there is no such site."""
        row = self._one("SELECT uid FROM sites WHERE name = ?", site)
        return row[0] if row else None

    def chain_head(self, chain: str) -> ChainHead | None:
        """`audit_chains`' row of one chain, locked in a PostgreSQL write (retention's batches of
        several replicas take turns on it)."""
        row = self._one(f"SELECT {_HEAD} FROM audit_chains WHERE chain = ?{self._site_lock()}", chain)
        return row and _head(row)

    def key_audit_chains(self, key: AuditKey) -> int:
        """Key every chain that is not yet (an upgrade, in the transaction that makes the key check
        value current): its links up to its head stay SHA-256 and are pinned by the seal, whose
        `keyed_hash` is the head's link; every link after is keyed. Returns how many were keyed."""
        rows = [_head(row) for row in self._all(f"SELECT {_HEAD} FROM audit_chains WHERE seal IS NULL ORDER BY chain{self._site_lock()}")]
        for head in rows:
            keyed_hash = head.last_hash or head.anchor_hash
            seal = chain_seal(key, head.chain, head.last_id, keyed_hash, head.anchor_id, head.anchor_hash)
            self._run("UPDATE audit_chains SET keyed_after = ?, keyed_hash = ?, seal = ? WHERE chain = ?",
                      head.last_id, keyed_hash, seal, head.chain)
        return len(rows)

    def chain_sites(self) -> dict[str, tuple[str, int | None]]:
        """{uid: (name, audit_retention_days)} of the sites that exist: the chains that have a site."""
        return {uid: (name, days) for uid, name, days in self._all("SELECT uid, name, audit_retention_days FROM sites")}

    def _chain_id(self, chain: str) -> int | None:
        row = self._one("SELECT id FROM audit_chains WHERE chain = ?", chain)
        return row[0] if row else None

    def chain_events(self, chain: str, after_id: int, limit: int) -> list[tuple]:
        """(id, hash, *sealed columns) of the chain's events after `after_id`, oldest first."""
        chain_id = self._chain_id(chain)
        if chain_id is None:
            return []
        rows = self._all(f"SELECT id, hash, {_SEALED} FROM audit_events WHERE {_of_chain(chain_id)} AND id > ? ORDER BY id LIMIT ?",
                         after_id, limit)
        return [(r[0], r[1] and bytes(r[1]), *r[2:]) for r in rows]

    def remove_chain_prefix(self, chain: str, up_to_id: int, anchor_hash: bytes | None) -> int:
        """Remove the chain's events up to `up_to_id`, leaving `anchor_hash` (that event's hash) as
        the chain's anchor, sealed anew; returns how many went. Raises `ChainTampered`, removing
        nothing, if the chain's seal does not hold now: sealing the new anchor would vouch for
        whatever was changed."""
        key = self._key()
        row = self._one(f"SELECT {_HEAD}, id FROM audit_chains WHERE chain = ?{self._site_lock()}", chain)
        if row is None:
            return 0
        head, chain_id = _head(row), row[-1]
        if not seal_holds(key, head):
            raise ChainTampered("the chain's seal does not hold; run audit verify")
        removed = self._run(f"DELETE FROM audit_events WHERE {_of_chain(chain_id)} AND id <= ?", up_to_id).rowcount
        seal = chain_seal(key, chain, head.keyed_after, head.keyed_hash, up_to_id, anchor_hash)
        self._run("UPDATE audit_chains SET anchor_id = ?, anchor_hash = ?, seal = ? WHERE id = ?", up_to_id, anchor_hash, seal, chain_id)
        return removed

    def set_exported(self, chain: str, up_to_id: int) -> None:
        self._run("UPDATE audit_chains SET exported_id = ? WHERE chain = ? AND exported_id < ?", up_to_id, chain, up_to_id)

    def export_page(self, after_id: int, chain: str | None, limit: int) -> list[dict[str, Any]]:
        """Events after `after_id`, oldest first: of one chain, or (`chain` None) of all."""
        condition = "1 = 1"
        if chain is not None:
            chain_id = self._chain_id(chain)
            if chain_id is None:
                return []
            condition = _of_chain(chain_id)
        rows = self._all(f"SELECT {_COLUMNS} FROM audit_events WHERE {condition} AND id > ? ORDER BY id LIMIT ?",
                         after_id, limit)
        return [_row(r) for r in rows]

    def first_audit_id_at(self, at: str) -> int | None:
        """The id of the first event at or after the time `at` (a scan: for the operator's export)."""
        row = self._one("SELECT min(id) FROM audit_events WHERE at >= ?", at)
        return row[0] if row else None


def seal_group(txs: list) -> None:
    """Write the events that `txs`, transactions run one after another on one connection and committed
    together, held back (`defer_audit`): every chain's head read and written once for them all."""
    if txs:
        txs[0]._pending_audit = [item for tx in txs for item in (tx._pending_audit or [])]
        txs[0].seal_audit()
