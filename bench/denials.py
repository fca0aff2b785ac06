"""Denied requests from a valid token: what one client's back-to-back 403s cost the audit log and
the other tenants of the host.

`python -m bench.denials [SECONDS] [TARGETS] [THREADS]` starts `sitesecrets-server serve` on a fresh data
directory (`BENCH_WORKERS` as for the bench), loads site `bench` (`fixtures.load_small`), gives
site `hostile` a viewer token, and for SECONDS (default 10) has that viewer ask to reveal a secret
of its own site back to back, on one keep-alive connection per thread (two threads), while one
more thread fetches site `bench`'s environment back to back with its service token. TARGETS
(default 1) is how many distinct secret names the viewer cycles through: 1 is the same denial
repeated; a large number is a viewer trying name after name; 0 has the viewer ask `whoami`
instead, which it may (the cost of any request of a valid token, for reference). THREADS (default 2) is how many
threads deny; 0 measures the env fetches alone. `BENCH_TREE=DIR` serves another checkout's
`server` (to compare against it, as `httpcost.py` does).

Prints the denied requests per second and their statuses, the denied events the run wrote (and
the bytes their columns hold, and per minute at that rate), and the env fetches' rate,
p50 and p99 meanwhile.

Its data directory (a master key, tokens, the server's log) is removed at the end, also when the
run fails or is interrupted; `BENCH_KEEP=1` keeps it, as for `make bench`, and says where.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from . import fixtures
from .load import percentile

HOSTILE = "hostile"
DENIERS = 2


def _denials(data_dir: Path) -> tuple[int, int]:
    """Denied events in the log, and the bytes their columns hold (the link's 32 bytes included)."""
    with sqlite3.connect(data_dir / "secrets.db") as db:
        count, size = db.execute(
            "SELECT count(*), coalesce(sum(length(at) + length(action) + length(outcome) + length(details)"
            " + length(coalesce(actor, '')) + length(coalesce(actor_id, '')) + length(coalesce(site, ''))"
            " + length(coalesce(target, '')) + length(coalesce(source, '')) + 32), 0)"
            " FROM audit_events WHERE outcome = 'denied'").fetchone()
    return count, size


def _run(send, stop: threading.Event, latencies: list[float], statuses: dict[int, int]) -> None:
    while not stop.is_set():
        began = time.perf_counter()
        status = send()
        latencies.append(time.perf_counter() - began)
        statuses[status] = statuses.get(status, 0) + 1


def main(seconds: float = 10.0, targets: int = 1, deniers: int = DENIERS) -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-denials-"))
    try:
        _measure(base, seconds, targets, deniers)
    finally:
        if os.environ.get("BENCH_KEEP") == "1":
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def _measure(base: Path, seconds: float, targets: int, deniers: int) -> None:
    admin_token = fixtures.init_data_dir(base / "data")
    tree = Path(os.environ.get("BENCH_TREE", fixtures.ROOT))
    server = fixtures.ServerProcess(base / "data", base / "server.log", cwd=tree)
    try:
        small = fixtures.load_small(server.url, admin_token)
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=60) as admin:
            admin.post("/v1/sites", json={"name": HOSTILE}).raise_for_status()
            admin.post(f"/v1/sites/{HOSTILE}/secrets", json={"name": "S0", "value": "v"}).raise_for_status()
            viewer = admin.post("/v1/tokens", json={"name": "leaked", "role": "viewer", "site": HOSTILE}).json()["token"]
            events_before, size_before = _denials(base / "data")
            stop = threading.Event()
            env_latencies: list[float] = []
            env_statuses: dict[int, int] = {}
            denied_latencies: list[float] = []
            denied_statuses: dict[int, int] = {}
            clients = []

            def denier(n: int):
                client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {viewer}"}, timeout=60)
                clients.append(client)
                counter = iter(range(n, 1 << 62, deniers))
                if not targets:  # the reference: a request the token may make, which writes nothing
                    return lambda: client.get("/v1/whoami").status_code
                return lambda: client.post(f"/v1/sites/{HOSTILE}/secrets/S{next(counter) % targets}/reveal").status_code

            env_client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {small.service_token}"}, timeout=60)
            clients.append(env_client)
            threads = [threading.Thread(target=_run, args=(denier(n), stop, denied_latencies, denied_statuses)) for n in range(deniers)]
            threads.append(threading.Thread(target=_run, args=(lambda: env_client.get(small.env_path).status_code, stop,
                                                               env_latencies, env_statuses)))
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            try:
                time.sleep(seconds)
            finally:  # interrupted too: the threads stop before the server and its directory go
                stop.set()
                for thread in threads:
                    thread.join()
            elapsed = time.perf_counter() - began
            for client in clients:
                client.close()
            server.stop()  # a graceful stop: whatever is held in memory is written now
            written, grown = (after - before for after, before in zip(_denials(base / "data"), (events_before, size_before)))
        denied = sum(denied_statuses.values())
        print(f"{tree}: {seconds:.0f} s, {deniers} threads denied back to back ({targets} distinct target(s)), 1 thread env")
        print(f"denied: {denied} requests, {denied / elapsed:.0f} req/s, statuses {denied_statuses}, "
              f"p50 {percentile(denied_latencies, 50) * 1000:.1f} ms")
        print(f"denied events written: {written} ({written / elapsed * 60:.0f} a minute at that rate), "
              f"{grown / 1024:.0f} KiB of columns ({grown / elapsed * 60 / 1024 / 1024:.1f} MiB a minute, before indexes)")
        print(f"env of another site: {len(env_latencies)} fetches, {len(env_latencies) / elapsed:.0f} req/s, "
              f"p50 {percentile(env_latencies, 50) * 1000:.1f} ms, p99 {percentile(env_latencies, 99) * 1000:.1f} ms, "
              f"statuses {env_statuses}")
    finally:
        server.stop()


if __name__ == "__main__":
    arguments = [float(sys.argv[1]) if len(sys.argv) > 1 else 10.0, *(int(a) for a in sys.argv[2:4])]
    main(*arguments)
