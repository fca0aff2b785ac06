"""First denials on PostgreSQL: one transaction each (`store.write`) against grouped with other
audited reads (`store.record`), as SQLite's writer groups every write.

`python -m bench.denials_postgres URL [SECONDS]` (URL: a PostgreSQL database this may create a
schema in) writes first denials (each a new kind, so each a durable event, and given its site's
uid as a site-bound token's denial is) through `DenialLog` from 1, 4 and 16 threads, all of one
site and each thread its own site, SECONDS (default 3) per round, and prints events per second
and each denial's p50 / p99. It bypasses the budgets
(`denialbudget.py`), which bound what a server writes: this is the cost of the writes alone. It
also times the read of a site's lifetime (`DenialLog._lifetime`), and repeats of one denial (only
counted, nothing written) from 1 and 4 threads with that read and with the uid given, as the
token lookup now gives it for a site-bound token (`TokenRow.site_uid`): what a repeat cost and costs.

It works in a schema of its own, `bench_denials_<time>_<random>`, and drops it (and its temporary
data directory, master key and all) at the end, also when a round fails or is interrupted
(ctrl+c), saying so on its last line; should the drop itself fail, that line names the schema to
drop by hand.
"""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from psycopg import sql

from server.config import Settings
from server.datadir import init_data_dir, open_state
from server.denials import DenialLog
from server.store import AuditRecord

from .load import percentile


SCHEMA_PREFIX = "bench_denials_"


def _make_schema(base: str) -> str:
    """A new schema in the database of `base`, named by the time and a random part (two runs in
    the same second, a test's and a person's, each have their own)."""
    name = f"{SCHEMA_PREFIX}{int(time.time())}_{secrets.token_hex(3)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    return name


def _drop_schema(base: str, name: str) -> None:
    """Drop the schema `name` and everything in it; say so, or say what is left behind."""
    try:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
    except psycopg.Error as error:
        print(f"schema {name} could not be dropped ({type(error).__name__}): drop it with DROP SCHEMA {name} CASCADE",
              file=sys.stderr)
    else:
        print(f"schema {name} dropped")


def _schema_url(base: str, name: str) -> str:
    """`base` with `name` as its search path: the store's tables go into that schema."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{name}"


def _round(state, mode: str, threads: int, sites: list[str], seconds: float) -> tuple[float, float, float]:
    log = DenialLog(state.store, background=False, max_pending=10_000_000)
    if mode == "record":
        store = state.store
        log._store = type("Grouped", (), {"write": staticmethod(store.record), "lookup": staticmethod(store.lookup)})()
    latencies: list[float] = []
    # each denial given its site's uid, as a site-bound token's denial has it from the token lookup
    uids = {site: state.store.lookup(lambda tx, site=site: tx.chain_of(site)) for site in sites}
    stop = time.monotonic() + seconds

    def deny(n: int, halt: threading.Event) -> None:
        site, k = sites[n % len(sites)], 0
        while time.monotonic() < stop and not halt.is_set():
            k += 1
            event = AuditRecord.of("secret.reveal", at="2026-12-03T00:00:00Z", outcome="denied", actor="v",
                                   actor_id=f"tok_{n}", site=site, target=f"secret:site/{mode}-{threads}-{k}", source="10.0.0.1")
            started = time.perf_counter()
            log.deny(event, site_uid=uids[site])
            latencies.append(time.perf_counter() - started)

    return _on_threads(deny, threads, latencies, seconds)


def _repeats(state, threads: int, site_uid: str | None, seconds: float) -> tuple[float, float, float]:
    """Repeats of one denial per thread (each thread's first is written, the rest counted): with
    `site_uid` None each reads its site's lifetime, as every denial did before the token lookup
    brought it."""
    log = DenialLog(state.store, background=False)
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    def deny(n: int, halt: threading.Event) -> None:
        event = AuditRecord.of("secret.reveal", at="2026-12-03T00:00:00Z", outcome="denied", actor="v",
                               actor_id=f"tok_{n}", site="s0", target=f"secret:site/repeat-{site_uid is None}-{threads}-{n}",
                               source="10.0.0.1")
        while time.monotonic() < stop and not halt.is_set():
            started = time.perf_counter()
            log.deny(event, site_uid=site_uid)
            latencies.append(time.perf_counter() - started)

    try:
        return _on_threads(deny, threads, latencies, seconds)
    finally:
        log.close()


def _on_threads(deny, threads: int, latencies: list[float], seconds: float) -> tuple[float, float, float]:
    """Run `deny(n, halt)` on `threads` threads until they return; per second over `seconds`, p50
    and p99 in ms of the `latencies` they appended. Interrupted (ctrl+c), it sets `halt` and waits
    for them, so that nothing writes into the schema while it is dropped."""
    halt = threading.Event()
    workers = [threading.Thread(target=deny, args=(n, halt)) for n in range(threads)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    except BaseException:
        halt.set()
        for worker in workers:
            if worker.is_alive():
                worker.join()
        raise
    latencies.sort()
    return len(latencies) / seconds, percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000


def main(argv: list[str]) -> None:
    base = argv[0]
    seconds = float(argv[1]) if len(argv) > 1 else 3.0
    schema = _make_schema(base)
    print(f"in schema {schema}, dropped at the end")
    try:
        _measure(_schema_url(base, schema), seconds)
    finally:
        _drop_schema(base, schema)


def _measure(url: str, seconds: float) -> None:
    """Every figure, on a fresh data directory (removed afterwards) whose store is at `url`."""
    directory = Path(tempfile.mkdtemp(prefix="bench-denials-pg-"))
    try:
        data_dir = directory / "data"
        init_data_dir(data_dir, environ={}, database_url=url)
        state = open_state(Settings(data_dir=data_dir, database_url=url), environ={})
        try:
            _rounds(state, seconds)
        finally:
            state.store.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _rounds(state, seconds: float) -> None:
    sites = [f"s{n}" for n in range(16)]
    state.store.write(lambda tx: [tx.insert_site(name, state.keyring.new_wrapped_data_key(tx, name), "2026-12-03T00:00:00Z") for name in sites])
    started = time.perf_counter()
    for _ in range(1000):
        state.store.lookup(lambda tx: tx.chain_of("s0"))
    print(f"a site's lifetime read: {(time.perf_counter() - started):.3f} ms each (1000 reads)")
    uid = state.store.lookup(lambda tx: tx.chain_of("s0"))
    for threads in (1, 4):
        for how, given in (("uid read", None), ("uid given", uid)):
            rate, p50, p99 = _repeats(state, threads, given, seconds)
            print(f"{threads:>2} threads, repeats, {how:<9}: {rate:7.0f} denials/s, p50 {p50 * 1000:6.1f} µs, p99 {p99 * 1000:6.1f} µs")
    for threads in (1, 4, 16):
        for spread, names in (("one site", sites[:1]), ("a site each", sites[:threads])):
            for mode in ("write", "record"):
                rate, p50, p99 = _round(state, mode, threads, names, seconds)
                print(f"{threads:>2} threads, {spread:<11} {mode:<6}: {rate:7.0f} events/s, p50 {p50:5.1f} ms, p99 {p99:6.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1:])
