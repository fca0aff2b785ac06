"""The server's queries in PostgreSQL's dialect: `SqlTx` (which holds them all) on a psycopg connection.

Most queries are the same text in both dialects, so `PostgresTx` runs `SqlTx`'s with `?`
placeholders turned into psycopg's `%s`, and supplies only what differs: ids come back through
`RETURNING`, bindings keep their order in `seq` rather than `rowid` (`BINDING_ORDER`), batches
go through a cursor's `executemany`, and audit events are written in two statements however many
there are (`seal_audit`).

In a write transaction `get_site` locks the site's row (`SELECT ... FOR UPDATE`): see
`postgres.py` for why that one lock is what keeps every per-site rule true across replicas.

Deletes are plain `DELETE`s, with no SQLite-style wipe: under MVCC the deleted row (ciphertext and
all) stays in the table as a dead row until VACUUM, and zeroing it first would only add a new
version beside the old one. The README ("What deleting means on PostgreSQL") says what holds.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import psycopg

from .audit_tx import GENESIS, chain_mac, new_chain_seal
from .base import AuditRecord, BoundSecret, EnvService, EnvSite, EnvSnapshot
from .sql_tx import SqlTx

_ENV_SNAPSHOT = """SELECT 0 AS part, NULL AS seq, si.id, si.name, si.wrapped_key, v.id, v.loaded_at, coalesce(c.changes, 0), va.site_secrets,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
        FROM sites si LEFT JOIN services v ON v.site_id = si.id AND v.name = %s LEFT JOIN apps va ON va.id = v.app_id
        LEFT JOIN service_env_changes c ON c.service_id = v.id
        WHERE si.name = %s
    UNION ALL
    SELECT 1, b.seq, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            b.app_id, a.name, b.name, s.id, s.version, s.ciphertext, b.loaded_version, s.last_used_at
        FROM sites si JOIN services v ON v.site_id = si.id AND v.name = %s JOIN bindings b ON b.service_id = v.id
        LEFT JOIN apps a ON a.id = b.app_id
        LEFT JOIN secrets s ON s.site_id = v.site_id AND coalesce(s.app_id, 0) = coalesce(b.app_id, 0) AND s.name = b.name
        WHERE si.name = %s
    ORDER BY 1, 2"""
"""`env_snapshot` in one statement. Its first row: the site of a name and its service of a name with
its change counter and its app's `site_secrets` (a left join, so that a site without that service
still comes back; `SqlTx`'s first query); then one row per binding of that service, in binding order, with its
secret (`bound_secrets`' columns). Each row leaves the other part's columns NULL, so no binding row
repeats the site's and service's columns. One statement sees one snapshot, so `read_env` runs it with
no transaction around it: one round trip where `read`'s two queries took four (BEGIN, the site and
service, the bindings, ROLLBACK). (SQLite keeps the two: in-process, this one costs more than they do.)"""
_LOCK_HEADS = """SELECT n.name, c.chain, c.id, c.last_hash, c.anchor_hash
    FROM unnest(%s::text[]) AS n(name) LEFT JOIN sites s ON s.name = n.name COLLATE "C"
    JOIN audit_chains c ON c.chain = coalesce(s.uid, '')
    ORDER BY c.chain FOR UPDATE OF c"""
"""The chain head of each site name's current lifetime (NULL: the chain `""` of no site), each row
locked, in chain order."""
_MAKE_CHAINS = """INSERT INTO audit_chains (chain, keyed_after)
    SELECT DISTINCT coalesce(s.uid, ''), 0 FROM unnest(%s::text[]) AS n(name) LEFT JOIN sites s ON s.name = n.name COLLATE "C"
    ON CONFLICT (chain) DO NOTHING
    RETURNING id, chain"""
"""The rows of the chains that the names lack, keyed from their first event; `_lock_heads` seals
each (a new chain is rare: a new site's first event)."""
_WRITE_EVENTS = """WITH e AS (
        INSERT INTO audit_events (at, actor, actor_id, action, site, site_uid, target, outcome, source, details, hash, chain_id)
        SELECT r->>0, r->>1, r->>2, r->>3, r->>4, r->>5, r->>6, r->>7, r->>8, r->>9, decode(r->>10, 'hex'), (r->>11)::bigint
        FROM json_array_elements(%s::json) WITH ORDINALITY AS u(r, n)
        ORDER BY n
        RETURNING id, chain_id)
    UPDATE audit_chains c SET last_id = m.last_id, last_hash = decode(h.value, 'hex')
    FROM (SELECT chain_id, max(id) AS last_id FROM e GROUP BY chain_id) m
    JOIN json_each_text(%s::json) AS h(chain_id, value) ON h.chain_id::bigint = m.chain_id
    WHERE c.id = m.chain_id"""
"""Every event inserted, in the order given (the ids are drawn as the rows reach the insert, which
`ORDER BY n` makes array order), and each chain's head moved to its last one: one statement and one
round trip, where an INSERT per event and an UPDATE per chain took one each. The events come as one
JSON array of rows (hashes in hex), and the heads as one object: psycopg dumps fourteen array
parameters element by element in Python (52 µs for a group of four), one JSON text is `json.dumps`
(10 µs)."""


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@lru_cache(maxsize=512)
def dialect(sql: str) -> str:
    """`SqlTx`'s `?` placeholders as psycopg's `%s` (no query of ours holds a literal `?` or `%`)."""
    return sql.replace("?", "%s")


class PostgresTx(SqlTx):
    """The queries of one transaction on one psycopg connection; `writing` says whether it may write."""

    BINDING_ORDER = "b.seq"

    def __init__(self, conn: psycopg.Connection, writing: bool, *, defer_audit: bool = False) -> None:
        super().__init__(conn)
        self._writing = writing
        self.defer_audit = defer_audit
        self._cursor: psycopg.Cursor | None = None

    def _execute(self, sql: str, params: tuple[Any, ...]) -> psycopg.Cursor:
        # one cursor for the transaction's statements (each read at once by `_one`, `_all` or
        # `_run`'s caller): `Connection.execute` makes a new one, with its adapters, every time
        if self._cursor is None:
            self._cursor = self._conn.cursor()
        return self._cursor.execute(dialect(sql), params)

    def _many(self, sql: str, rows: list[tuple]) -> None:
        with self._conn.cursor() as cursor:
            cursor.executemany(dialect(sql), rows)

    def _insert_id(self, sql: str, *params: Any) -> int:
        return self._one(f"{sql} RETURNING id", *params)[0]

    def _newest_ids(self, index: str, where: list[str], params: list[Any], limit: int, *,
                    every_chain: bool) -> tuple[str, list[Any]]:
        # `ORDER BY id + 0`: every match below the cursor is read from the filter's index (index
        # only) and the newest kept, a cost that grows with the matches (40 ms for 600,000). Ordered
        # by `id` itself, the planner, which knows how often a value occurs in the whole log but not
        # in one chain or in its recent part, may walk the primary key backwards, a cost that grows
        # with the whole log (240 ms a chain at 3,000,000 events, for a small chain's few). The
        # whole log: each chain's newest matches, then the newest of those.
        chain = ["chain_id = c.id"] if every_chain else []
        newest = f"SELECT id FROM audit_events WHERE {' AND '.join(chain + where)} ORDER BY id + 0 DESC LIMIT ?"
        if not every_chain:
            return newest, [*params, limit]
        return (f"SELECT e.id FROM audit_chains c CROSS JOIN LATERAL ({newest}) e ORDER BY e.id DESC LIMIT ?",
                [*params, limit, limit])

    def _site_lock(self) -> str:
        # the lock every per-site rule rests on; a read-only snapshot may not (and need not) take it
        return " FOR UPDATE" if self._writing else ""

    def get_meta_locked(self, key: str, *, exclusive: bool = False) -> str | None:
        # FOR SHARE lets site creations run side by side; FOR UPDATE (the rotation) waits for them
        # and makes them wait, and at READ COMMITTED each then reads what the other committed
        lock = " FOR UPDATE" if exclusive else " FOR SHARE"
        row = self._one(f"SELECT value FROM meta WHERE key = ?{lock}", key)
        return row[0] if row else None

    def env_snapshot(self, site: str, service: str) -> EnvSnapshot | None:
        rows = self._all(_ENV_SNAPSHOT, service, site, service, site)
        if not rows:
            return None
        site_id, site_name, wrapped_key, service_id, loaded_at, env_changes, site_secrets = rows[0][2:9]
        site_row = EnvSite(site_id, site_name, wrapped_key)
        if service_id is None:
            return EnvSnapshot(site_row, None, True, [])
        return EnvSnapshot(site_row, EnvService(service_id, loaded_at, env_changes), site_secrets is None or bool(site_secrets),
                           [BoundSecret(*row[9:]) for row in rows[1:]])

    # ------------------------------------------------------------ audit events

    def insert_audit(self, event: AuditRecord, *, site_gone: bool = False) -> None:
        """Held by site name (not uid) until `seal_audit`, which reads every event's site and chain
        head in one statement; sealed at once unless `defer_audit`. Either way the event is keyed
        to the site of that name as it exists in this transaction, as `AuditQueries` keys it (held
        by no name when `site_gone`: the chain of no site)."""
        if not self._writing:
            super().insert_audit(event, site_gone=site_gone)  # refused by the read-only snapshot, as it always was
            return
        if self._pending_audit is None:
            self._pending_audit = []
        self._pending_audit.append((None if site_gone else event.site, event))
        if not self.defer_audit:
            self.seal_audit()

    def seal_audit(self) -> None:
        """The held events written in the order they were held, each hashed onto its chain: every
        chain's head locked first, in chain order (`_LOCK_HEADS`, which also reads each site's uid),
        then all inserted and each head moved by one statement (`_WRITE_EVENTS`)."""
        pending, self._pending_audit = self._pending_audit or [], []
        if not pending:
            return
        key = self._key()
        names = list({site: None for site, _ in pending})
        chains, last = self._lock_heads(names)
        rows = []
        for site, event in pending:
            uid, chain_id = chains[site]
            sealed = (event.at, event.actor, event.actor_id, event.action, event.site, uid, event.target,
                      event.outcome, event.source, event.details)
            last[chain_id] = previous = chain_mac(key, last[chain_id], sealed)
            rows.append((*sealed, previous.hex(), chain_id))
        self._run(_WRITE_EVENTS, _JSON.encode(rows), _JSON.encode({chain_id: head.hex() for chain_id, head in last.items()}))

    def _lock_heads(self, names: list[str | None]) -> tuple[dict[str | None, tuple[str | None, int]], dict[int, bytes]]:
        """{site name: (uid, chain id)} of each name's chain, and {chain id: last hash} (its anchor's,
        or `GENESIS`), each chain's head row locked. A chain's first event makes its row first, and
        then every head is read again: the rows locked already stay locked, so a new chain's is the
        one lock that may come out of chain order (a deadlock that could cause is PostgreSQL's to
        detect and the store's to retry; a new chain is a new site's, whose first event is its
        `site.create`, a write of one event)."""
        rows = self._all(_LOCK_HEADS, names)
        if len({row[0] for row in rows}) < len(names):
            for chain_id, chain in self._all(_MAKE_CHAINS, names):
                self._run("UPDATE audit_chains SET seal = ? WHERE id = ?", new_chain_seal(self._key(), chain), chain_id)
            rows = self._all(_LOCK_HEADS, names)
        chains = {name: (chain or None, chain_id) for name, chain, chain_id, _, _ in rows}
        return chains, {chain_id: bytes(last_hash or anchor_hash or GENESIS) for _, _, chain_id, last_hash, anchor_hash in rows}
