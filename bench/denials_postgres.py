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
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from server.config import Settings
from server.datadir import init_data_dir, open_state
from server.denials import DenialLog
from server.store import AuditRecord

from .load import percentile


def _schema_url(base: str) -> str:
    name = f"bench_denials_{int(time.time())}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
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

    def deny(n: int) -> None:
        site, k = sites[n % len(sites)], 0
        while time.monotonic() < stop:
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

    def deny(n: int) -> None:
        event = AuditRecord.of("secret.reveal", at="2026-12-03T00:00:00Z", outcome="denied", actor="v",
                               actor_id=f"tok_{n}", site="s0", target=f"secret:site/repeat-{site_uid is None}-{threads}-{n}",
                               source="10.0.0.1")
        while time.monotonic() < stop:
            started = time.perf_counter()
            log.deny(event, site_uid=site_uid)
            latencies.append(time.perf_counter() - started)

    try:
        return _on_threads(deny, threads, latencies, seconds)
    finally:
        log.close()


def _on_threads(deny, threads: int, latencies: list[float], seconds: float) -> tuple[float, float, float]:
    """Run `deny(n)` on `threads` threads until they return; per second over `seconds`, p50 and
    p99 in ms of the `latencies` they appended."""
    workers = [threading.Thread(target=deny, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    latencies.sort()
    return len(latencies) / seconds, percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000


def main(argv: list[str]) -> None:
    url = _schema_url(argv[0])
    seconds = float(argv[1]) if len(argv) > 1 else 3.0
    data_dir = Path(tempfile.mkdtemp()) / "data"
    init_data_dir(data_dir, environ={}, database_url=url)
    state = open_state(Settings(data_dir=data_dir, database_url=url), environ={})
    try:
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
    finally:
        state.store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
