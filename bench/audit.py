"""Row 14 (issue 17): the audit log at a year's scale. `BENCH_ONLY=audit .venv/bin/python -m bench`
runs it alone into `bench/results-audit.json` (a few minutes on the 2-core machine).

- **Fixture**: 3,000,000 events in site `default` of a fresh data directory (`BENCH_AUDIT_EVENTS`),
  written straight into the SQLite file through the store's own connection: the audit indexes
  dropped, one `executemany` in one transaction, the indexes built again. The mix is an env-fetch
  heavy host's: 97% `service.env` over 10 services, 1.5% reveals and 1% updates of 100 secrets by
  two people, 0.5% creates and denied attempts, 30 events by a rare actor. (The fixture's events
  carry 32 random bytes as their hash, so the sizes are a chained log's; this row runs no verify.)
- **Filtered pages**: `GET /v1/sites/default/audit?...` (100 events a page) on a real server, each
  filter 1 warm-up then `BENCH_AUDIT_REPEAT` timed requests; median and worst, target < 50 ms.
- **Env fetch with and without the indexes**: two servers on fresh data directories, one with the
  three filter indexes dropped; the server's CPU per env fetch (row 12's figure, 3 interleaved
  rounds) and the env rate at c=1 and c=16, servers taking turns run by run.
- **Retention**: `apply_retention` on the 3M store with a cutoff that makes `BENCH_AUDIT_RETAIN`
  events due; the longest batch's write (queueing, the batch and its commit) is the writer's hold.
- **Export**: `export_events` of the first 300,000 events into /dev/null, events a second.
- **PostgreSQL** (`BENCH_AUDIT_PARTS=sqlite` leaves it out, `=pg` measures it alone): the same fixture by COPY into a new database
  of `BENCH_DATABASE_URL` (as row 10), `VACUUM ANALYZE`, and the same pages through a server on it.
"""

from __future__ import annotations

import itertools
import os
import random
import sqlite3
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from . import fixtures
from .fixtures import ServerProcess
from .httpcost import cpu_per_request
from .load import Load
from .report import Line, ms
from .targets import _load_line

EVENTS = int(os.environ.get("BENCH_AUDIT_EVENTS", "3000000"))
REPEAT = int(os.environ.get("BENCH_AUDIT_REPEAT", "10"))
RETAIN = int(os.environ.get("BENCH_AUDIT_RETAIN", "50000"))
EXPORTED = 300_000
"""Events the export figure times (the whole 3M would take a minute and say no more)."""
PAGE_MS = 50.0
ENV_SLOWER = 0.05
FILTER_INDEXES = ("audit_chain_action", "audit_chain_target", "audit_chain_actor")
ALL_INDEXES = ("audit_chain",) + FILTER_INDEXES
QUERIES = {
    "no filter": "",
    "action, 1.5%": "action=secret.reveal",
    "action, 97%": "action=service.env",
    "exact target, 0.03%": "target=secret:site/S42",
    "target prefix, 0.3%": "target=secret:site/S4*",
    "target prefix, 97%": "target=service:*",
    "actor, 1.2%": "actor=alice",
    "actor, 30 events": "actor=auditor",
    "action + target": "action=secret.reveal&target=secret:site/S42",
    "action + actor": "action=secret.update&actor=alice",
    "action prefix + target prefix": "action=secret.*&target=secret:site/S1*",
    "action + actor, none match": "action=service.env&actor=alice",
    "action, deep page": "action=secret.reveal&before={middle}",
    "action prefix alone, 3%": "action=secret.*",
    "actor prefix alone, 30 events": "actor=audit*",
}
LOGS = {"": "/v1/sites/default/audit", "whole log, ": "/v1/audit", "small site, ": "/v1/sites/small/audit"}
"""Each query on the site's log, on the operator's whole log (`GET /v1/audit`), and on the log of a
site of a few events beside the 3,000,000 (a planner that guesses its chain as common reads them all)."""


def _event(i: int, rng: random.Random, stamp: str, uid: str) -> tuple:
    r = rng.random()
    if r < 0.97:
        k = i % 10
        return (stamp, f"svc-fn{k}", f"tok{k}", "service.env", "default", uid, f"service:fn{k}", "ok", "10.0.0.5", '{"secrets":5}')
    secret, person = f"secret:site/S{rng.randrange(100)}", ("alice" if rng.random() < 0.5 else "bob")
    if r < 0.985:
        return (stamp, person, f"tok-{person}", "secret.reveal", "default", uid, secret, "ok", "10.0.0.9", "{}")
    if r < 0.995:
        return (stamp, person, f"tok-{person}", "secret.update", "default", uid, secret, "ok", "10.0.0.9", '{"version":2}')
    return (stamp, "mallory", "tok-m", "secret.create", "default", uid, secret, "denied", "10.0.0.66", "{}")


_INSERTED = "at, actor, actor_id, action, site, site_uid, target, outcome, source, details, chain_id, hash"


def _rows(events: int, uid: str, chain_id: int):
    rng = random.Random(17)
    # ten events a second from now on, after init's own events: retention removes a chain's oldest
    # events in id order, so a log's times must rise with its ids, as a real one's do
    start = datetime.now(timezone.utc) + timedelta(seconds=1)
    stamps = [(start + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ") for s in range(events // 10 + 1)]
    for i in range(events):
        if i % 100_000 == 7:
            row = (stamps[i // 10], "auditor", "tok-a", "audit.read", "default", uid, "audit", "ok", "10.0.0.1", "{}")
        else:
            row = _event(i, rng, stamps[i // 10], uid)
        yield row + (chain_id, rng.randbytes(32))  # a hash's bytes, so the sizes are a chained log's


def build_fixture_pg(url: str, events: int) -> dict:
    """`build_fixture` on PostgreSQL: COPY with the indexes dropped, then the indexes and ANALYZE."""
    import psycopg

    began = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        uid = conn.execute("SELECT uid FROM sites WHERE name = 'default'").fetchone()[0]
        chain_id = conn.execute("SELECT id FROM audit_chains WHERE chain = %s", (uid,)).fetchone()[0]
        schema = dict(conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_events' "
                                   "AND indexname = ANY(%s)", (list(ALL_INDEXES),)).fetchall())
        for name in schema:
            conn.execute(f"DROP INDEX {name}")
        with conn.cursor() as cursor, cursor.copy(f"COPY audit_events ({_INSERTED}) FROM STDIN") as copy:
            for row in _rows(events, uid, chain_id):
                copy.write_row(row)
        inserted = time.perf_counter()
        for sql in schema.values():
            conn.execute(sql)
        conn.execute("UPDATE audit_chains SET last_id = (SELECT max(id) FROM audit_events WHERE chain_id = %s) WHERE id = %s",
                     (chain_id, chain_id))
        conn.execute("VACUUM ANALYZE audit_events")
        sizes = {name: conn.execute("SELECT pg_relation_size(%s)", (name,)).fetchone()[0] for name in ("audit_events", *ALL_INDEXES)}
    table = sizes["audit_events"]
    return {"events": events, "insert_s": inserted - began, "index_s": time.perf_counter() - inserted,
            "bytes_per_event": {"table": table / events, **{n: sizes[n] / events for n in ALL_INDEXES}},
            "total_bytes_per_event": sum(sizes.values()) / events}


def pages_on_postgres(bench, events: int) -> dict:
    """The fixture and the filtered pages on PostgreSQL (`BENCH_DATABASE_URL`, as row 10)."""
    from urllib.parse import urlsplit, urlunsplit

    from .replicas import DEFAULT_URL, _admin_connection, available

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not available(url):
        return {"error": f"no PostgreSQL at {url} (set BENCH_DATABASE_URL)"}
    name = f"sitesecrets_audit_{os.getpid()}"
    with _admin_connection(url) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database = urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    env = dict(os.environ, SITESECRETS_DATABASE_URL=database)
    try:
        admin_token = fixtures.init_data_dir(bench.base / "audit-pg", env=env)
        bench.log(f"row 14: writing {events:,} audit events into PostgreSQL (COPY)")
        raw = {"fixture": build_fixture_pg(database, events)}
        server = ServerProcess(bench.base / "audit-pg", bench.base / "audit-pg.log", env=env)
        bench.servers.append(server)
        bench.log("row 14: filtered pages on PostgreSQL")
        raw["pages"] = time_pages(server.url, admin_token, events // 2)
        server.stop()
        return raw
    finally:
        with _admin_connection(url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build_fixture(db: Path, events: int) -> dict:
    """`events` audit events in site `default`, written straight into the file; returns timings and sizes."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        uid = conn.execute("SELECT uid FROM sites WHERE name = 'default'").fetchone()[0]
        chain_id = conn.execute("SELECT id FROM audit_chains WHERE chain = ?", (uid,)).fetchone()[0]
        began = time.perf_counter()
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        schema = {name: sql for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events'") if name in ALL_INDEXES}
        for name in schema:
            conn.execute(f"DROP INDEX {name}")
        conn.executemany(f"INSERT INTO audit_events ({_INSERTED}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         _rows(events, uid, chain_id))
        # the chain's head names the last event, as writing them one by one would have left it
        conn.execute("UPDATE audit_chains SET last_id = (SELECT max(id) FROM audit_events WHERE chain_id = ?) WHERE id = ?",
                     (chain_id, chain_id))
        inserted = time.perf_counter()
        for sql in schema.values():
            conn.execute(sql)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        built = time.perf_counter()
        sizes = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
    finally:
        conn.close()
    table = sizes.get("audit_events", 0)
    return {"events": events, "insert_s": inserted - began, "index_s": built - inserted, "file_bytes": db.stat().st_size,
            "bytes_per_event": {"table": table / events, **{n: sizes.get(n, 0) / events for n in ALL_INDEXES}},
            "total_bytes_per_event": (table + sum(sizes.get(n, 0) for n in ALL_INDEXES)) / events}


def time_pages(url: str, admin: str, middle: int) -> dict:
    figures = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=60) as client:
        client.post("/v1/sites", json={"name": "small"}).raise_for_status()
        client.post("/v1/sites/small/secrets", json={"name": "S42", "value": "v"}).raise_for_status()
        for (log, prefix), (name, query) in itertools.product(LOGS.items(), QUERIES.items()):
            name, path = log + name, f"{prefix}?limit=100&{query.format(middle=middle)}"
            client.get(path).raise_for_status()
            times, count = [], 0
            for _ in range(REPEAT):
                began = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - began) * 1000)
                response.raise_for_status()
                count = len(response.json()["items"])
            figures[name] = {"median_ms": statistics.median(times), "max_ms": max(times), "items": count, "query": query}
    return figures


def env_with_and_without(bench) -> dict:
    servers, loads = {}, {}
    for name in ("indexes", "no indexes"):
        key = name.replace(" ", "-")
        admin = fixtures.init_data_dir(bench.base / key)
        if name == "no indexes":
            with sqlite3.connect(bench.base / key / "secrets.db") as conn:
                for index in FILTER_INDEXES:
                    conn.execute(f"DROP INDEX {index}")
        server = ServerProcess(bench.base / key, bench.base / f"{key}.log")
        bench.servers.append(server)
        small = fixtures.load_small(server.url, admin)
        servers[name] = server
        loads[name] = Load(server.host, server.port, small.service_token, "get", (small.env_path,))
    cpu = {name: [] for name in servers}
    bench.log(f"row 14: CPU per env fetch with and without the filter indexes, {bench.runs} rounds")
    for _ in range(bench.runs):
        for name in servers:
            cpu[name].append(cpu_per_request(servers[name], loads[name]))
    figures = {name: {"cpu_us": {"median": statistics.median(runs), "runs": runs}} for name, runs in cpu.items()}
    for c in (1, 16):
        bench.log(f"row 14: env at c={c}, with and without the filter indexes")
        for name, summary in bench.measure(loads, c).items():
            figures[name][f"env_c{c}"] = summary
    for server in servers.values():
        server.stop()
    return figures


def insert_cost(base: Path, events: int = 20_000, group: int = 128) -> dict:
    """The writer's CPU per audit event (`insert_audit`: chain head, insert, head update) on a
    store with and without the filter indexes, in groups as the writer commits them; the least
    of 3 rounds each, interleaved, in process CPU time (what other work on the machine moves least)."""
    from server import keys, tokenkey
    from server.store import AuditRecord, SqliteStore

    stores = {}
    for name in ("indexes", "no_indexes"):
        fixtures.init_data_dir(base / f"cost-{name}")
        if name == "no_indexes":
            with sqlite3.connect(base / f"cost-{name}" / "secrets.db") as conn:
                for index in FILTER_INDEXES:
                    conn.execute(f"DROP INDEX {index}")
        stores[name] = SqliteStore(base / f"cost-{name}" / "secrets.db")
        # the audit key, as a server has it (a store without it writes no event)
        tokenkey.open_token_key(stores[name], keys.read_key_file(base / f"cost-{name}" / keys.KEY_FILE))
    event = AuditRecord.of("service.env", details={"secrets": 5}, at="2026-01-01T00:00:00Z", outcome="ok",
                           site="default", target="service:fn", actor="svc-fn", actor_id="tok", source="10.0.0.5")
    best = {name: float("inf") for name in stores}
    try:
        for _ in range(3):
            for name, store in stores.items():
                began = time.process_time()
                for _ in range(events // group):
                    store.write(lambda tx: [tx.insert_audit(event) for _ in range(group)])
                best[name] = min(best[name], (time.process_time() - began) / events * 1e6)
    finally:
        for store in stores.values():
            store.close()
    return {"indexes_us": best["indexes"], "no_indexes_us": best["no_indexes"], "events": events, "group": group}


def retention_and_export(data_dir: Path, events: int) -> dict:
    from server.audit_chain import RETENTION_BATCH, apply_retention
    from server.audit_export import export_events
    from server.config import Settings
    from server.datadir import open_state

    state = open_state(Settings(data_dir=data_dir))
    try:
        first_at = state.store.read(lambda tx: tx.export_page(0, None, 1))[0]["at"]
        due_at = state.store.read(lambda tx: tx.export_page(RETAIN, None, 1))[0]["at"]
        now = (datetime.strptime(due_at, "%Y-%m-%dT%H:%M:%SZ") + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        began = time.perf_counter()
        report = apply_retention(state.store, 1, now, exporting=False)
        retention = {"removed": report.removed, "batches": report.batches, "batch_size": RETENTION_BATCH,
                     "longest_batch_ms": report.longest_batch_ms, "longest_hold_ms": report.longest_hold_ms, "seconds": time.perf_counter() - began,
                     "first_at": first_at, "cutoff": now}
        began = time.perf_counter()
        with open(os.devnull, "w") as out:
            count, _ = export_events(state.store, out, 0, max_events=EXPORTED)
        seconds = time.perf_counter() - began
    finally:
        state.store.close()
    return {"retention": retention, "export": {"events": count, "seconds": seconds, "per_s": count / seconds}}


def measure(bench) -> dict:
    """Row 14's figures; `BENCH_AUDIT_PARTS` (default `sqlite,pg`) picks the backends measured."""
    parts = os.environ.get("BENCH_AUDIT_PARTS", "sqlite,pg").split(",")
    raw: dict = {}
    if "sqlite" in parts:
        data_dir = bench.base / "audit3m"
        admin = fixtures.init_data_dir(data_dir)
        bench.log(f"row 14: writing {EVENTS:,} audit events straight into the store")
        raw["fixture"] = build_fixture(data_dir / "secrets.db", EVENTS)
        server = ServerProcess(data_dir, bench.base / "audit3m.log")
        bench.servers.append(server)
        bench.log("row 14: filtered pages")
        raw["pages"] = time_pages(server.url, admin, EVENTS // 2)
        server.stop()
        raw["env"] = env_with_and_without(bench)
        bench.log("row 14: retention batches and export throughput on the big store")
        raw.update(retention_and_export(data_dir, EVENTS))
        raw["insert_cost"] = insert_cost(bench.base)
    if "pg" in parts:
        raw["postgresql"] = bench.guarded(pages_on_postgres, bench, EVENTS)
    return raw


def row_14(r: dict | None) -> list[Line]:
    if not r:
        return []
    return (_sqlite_lines(r) if "fixture" in r else []) + _postgres_lines(r.get("postgresql"))


def _sqlite_lines(r: dict) -> list[Line]:
    fixture = r["fixture"]
    lines = [Line("14", f"fixture: {fixture['events']:,} events", f"{fixture['insert_s']:.0f} s insert + {fixture['index_s']:.0f} s indexes",
                  note=f"bytes per event: {fixture['total_bytes_per_event']:.0f} "
                       f"({', '.join(f'{k} {v:.0f}' for k, v in fixture['bytes_per_event'].items())})")]
    for name, page in r["pages"].items():
        lines.append(Line("14", f"page of 100, {name}", f"{ms(page['median_ms'])} median", f"max {ms(page['max_ms'])}",
                          f"{page['items']} items", f"< {PAGE_MS:g} ms", page["median_ms"] < PAGE_MS))
    env = r["env"]
    base, plain = env["indexes"], env["no indexes"]
    slower = base["cpu_us"]["median"] / plain["cpu_us"]["median"] - 1
    lines.append(Line("14", "server CPU per env fetch, with / without filter indexes",
                      f"{base['cpu_us']['median']:.0f} / {plain['cpu_us']['median']:.0f} us ({slower:+.1%})",
                      target=f"<= +{ENV_SLOWER:.0%}", ok=slower <= ENV_SLOWER))
    for c in (1, 16):
        for name in ("indexes", "no indexes"):
            lines.append(_load_line("14", f"env c={c}, {name}", env[name][f"env_c{c}"]))
        share = base[f"env_c{c}"]["rate"] / plain[f"env_c{c}"]["rate"] - 1
        lines[-2].result += f" ({share:+.1%})"
    ret = r["retention"]
    lines.append(Line("14", f"retention: {ret['removed']:,} events in batches of {ret['batch_size']}",
                      f"{ms(ret['longest_hold_ms'])} longest hold ({ms(ret['longest_batch_ms'])} with commit)",
                      f"{ret['batches']} batches in {ret['seconds']:.1f} s", target="a few ms", ok=ret["longest_hold_ms"] < 10))
    cost = r.get("insert_cost")
    if cost:
        extra = cost["indexes_us"] - cost["no_indexes_us"]
        lines.append(Line("14", "writer CPU per audit insert, with / without filter indexes",
                          f"{cost['indexes_us']:.1f} / {cost['no_indexes_us']:.1f} us ({extra:+.1f} us, "
                          f"{extra / base['cpu_us']['median']:+.1%} of an env fetch)", target=f"<= +{ENV_SLOWER:.0%}",
                          ok=extra / base["cpu_us"]["median"] <= ENV_SLOWER))
    ex = r["export"]
    lines.append(Line("14", "export (JSON lines)", f"{ex['per_s']:,.0f} events/s", f"{ex['events']:,} in {ex['seconds']:.0f} s"))
    return lines


def _postgres_lines(pg: dict | None) -> list[Line]:
    lines: list[Line] = []
    if pg and "pages" in pg:
        fixture = pg["fixture"]
        lines.append(Line("14", f"PostgreSQL fixture: {fixture['events']:,} events",
                          f"{fixture['insert_s']:.0f} s COPY + {fixture['index_s']:.0f} s indexes",
                          note=f"PostgreSQL bytes per event: {fixture['total_bytes_per_event']:.0f} "
                               f"({', '.join(f'{k} {v:.0f}' for k, v in fixture['bytes_per_event'].items())})"))
        for name, page in pg["pages"].items():
            lines.append(Line("14", f"PostgreSQL page of 100, {name}", f"{ms(page['median_ms'])} median",
                              f"max {ms(page['max_ms'])}", f"{page['items']} items", f"< {PAGE_MS:g} ms",
                              page["median_ms"] < PAGE_MS))
    elif pg:
        lines.append(Line("14", "PostgreSQL pages", f"not measured: {pg.get('error')}"))
    return lines
