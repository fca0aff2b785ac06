"""What waiting environment fetches of one site cost another site's env fetches while the waited
site changes (the env-wait wake storm).

`.venv/bin/python -m bench.envwake` (`BENCH_WORKERS=N` sets `serve --workers N`; `ENVWAKE_SECONDS`
each phase's length, 15 s; `ENVWAKE_TREE` another version of the tree whose server to measure, as
`git archive <commit> | tar -x -C DIR` leaves it): a fresh `serve` on loopback holding site
`watched` (service `fn` binding S0..S4, and U0, which no service binds) and site `other` (service
`fn` binding S0..S4).
A child process holds `WAITERS` connections, each a `GET /v1/sites/watched/services/fn/env` with
`If-None-Match` and `Prefer: wait=60`, asking again at once (with the new tag after a 200) as
`sitesecrets run --watch` does. Meanwhile one thread fetches `other`'s environment back to back on
one keep-alive connection (c=1), through four phases: no waiters, waiters held and nothing
changing, waiters held while U0 (bound by no waiter) is updated `RATE` times a second, and waiters
held while S0 (bound by every waiter) is. Printed per phase: the other site's p50/p99, the
waiters' 200s, and the server's CPU time per second.
Its data directory is removed at the end (`BENCH_KEEP=1` keeps it and says where).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import http.client
from pathlib import Path

import httpx

from . import fixtures
from .httpcost import _cpu_seconds

WAITERS = 1000
RATE = 10.0
SECONDS = float(os.environ.get("ENVWAKE_SECONDS", "15"))
ENV = "/v1/sites/{site}/services/fn/env"


def _setup(url: str, admin: str) -> dict[str, str]:
    """The two sites, their services and a service token for each; returns {site: token}."""
    tokens = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=30) as client:
        for site in ("watched", "other"):
            fixtures._check(client.post("/v1/sites", json={"name": site}))
            for name in [f"S{n}" for n in range(5)] + ["U0"]:
                fixtures._check(client.post(f"/v1/sites/{site}/secrets", json={"name": name, "value": fixtures.value_for(site, 0)}))
            fixtures._check(client.post(f"/v1/sites/{site}/services", json={"name": "fn", "secrets": [{"name": f"S{n}"} for n in range(5)]}))
            tokens[site] = fixtures._check(client.post("/v1/tokens", json={"name": f"{site}-fn", "role": "service", "site": site,
                                                                          "service": "fn"}))["token"]
    return tokens


async def _waiter(host: str, port: int, token: str, tag: str, answered, opened) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    opened.value += 1
    path = ENV.format(site="watched")
    while True:
        writer.write((f"GET {path}?record=false HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
                      f"If-None-Match: {tag}\r\nPrefer: wait=60\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        await reader.readexactly(int(headers.get("content-length", "0")))
        if lines[0].split()[1] == "200":
            answered.value += 1
            tag = headers["etag"]


def _hold_waiters(host: str, port: int, token: str, tag: str, answered, opened) -> None:
    """The child process: `WAITERS` waiting fetches, opened 100 at a time (under the connection cap)."""
    async def main() -> None:
        tasks = []
        for n in range(WAITERS):
            tasks.append(asyncio.create_task(_waiter(host, port, token, tag, answered, opened)))
            if n % 100 == 99:
                await asyncio.sleep(0.5)
        await asyncio.gather(*tasks)

    asyncio.run(main())


def _threads(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                total += int(line.split()[1])
    return total


def _fetch_loop(server: fixtures.ServerProcess, token: str, seconds: float) -> list[float]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"}
    path = ENV.format(site="other")
    samples = []
    end = time.perf_counter() + seconds
    while (began := time.perf_counter()) < end:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"the other site's env fetch answered {response.status}")
        samples.append(time.perf_counter() - began)
    conn.close()
    return samples


def _writer(server: fixtures.ServerProcess, admin: str, name: str, stop: threading.Event) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin}"}, timeout=30) as client:
        n, start = 0, time.perf_counter()
        while not stop.is_set():
            fixtures._check(client.patch(f"/v1/sites/watched/secrets/{name}", json={"value": f"changed-{n}"}))
            n += 1
            stop.wait(max(0.0, start + n / RATE - time.perf_counter()))


def _phase(server, tokens, admin, answered, changing: str | None) -> dict:
    stop = threading.Event()
    writer = threading.Thread(target=_writer, args=(server, admin, changing, stop)) if changing else None
    if writer:
        writer.start()
    answered_before, cpu_before = answered.value, sum(_cpu_seconds(p) for p in server.pids())
    samples = _fetch_loop(server, tokens["other"], SECONDS)
    cpu = sum(_cpu_seconds(p) for p in server.pids()) - cpu_before
    stop.set()
    if writer:
        writer.join(30)
    ms = sorted(s * 1000 for s in samples)
    return {"fetches": len(ms), "p50_ms": statistics.median(ms), "p99_ms": ms[int(len(ms) * 0.99) - 1],
            "waiter_200s": answered.value - answered_before, "server_cpu_per_s": cpu / SECONDS}


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="envwake-", dir=os.environ.get("BENCH_DIR")))
    try:
        _measure(base)
    finally:  # a master key and tokens: kept only when asked for, as `make bench` keeps its own
        if os.environ.get("BENCH_KEEP") == "1":
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def _measure(base: Path) -> None:
    tree = Path(os.environ.get("ENVWAKE_TREE", fixtures.ROOT))  # another version's tree, to compare
    admin = subprocess.run([fixtures.PYTHON, "-m", "server", "init", "--data-dir", str(base / "data")], cwd=tree,
                           capture_output=True, text=True, check=True).stdout.strip()
    server = fixtures.ServerProcess(base / "data", base / "server.log", cwd=tree)
    try:
        tokens = _setup(server.url, admin)
        results = {"no waiters": _phase(server, tokens, admin, multiprocessing.Value("l", 0), None)}
        conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
        conn.request("GET", ENV.format(site="watched") + "?record=false", headers={"Authorization": f"Bearer {tokens['watched']}"})
        response = conn.getresponse()
        response.read()
        tag = response.headers["ETag"]
        conn.close()
        answered, opened = multiprocessing.Value("l", 0), multiprocessing.Value("l", 0)
        base_threads = _threads(server.pids())
        holder = multiprocessing.Process(target=_hold_waiters, args=(server.host, server.port, tokens["watched"], tag, answered, opened),
                                         daemon=True)
        holder.start()
        deadline = time.monotonic() + 120
        while _threads(server.pids()) < base_threads + WAITERS:
            if time.monotonic() > deadline:
                raise RuntimeError("the waiters were not all held in time")
            time.sleep(0.2)
        time.sleep(1.0)  # a bench, not a test: let the last ones park
        results["waits held, quiet"] = _phase(server, tokens, admin, answered, None)
        results["unrelated secret 10/s"] = _phase(server, tokens, admin, answered, "U0")
        results["bound secret 10/s"] = _phase(server, tokens, admin, answered, "S0")
        holder.terminate()
    finally:
        server.stop()
    load = os.getloadavg()
    print(f"tree={tree} workers={fixtures.WORKERS or 'default'} waiters={WAITERS} phase={SECONDS:.0f}s load={load[0]:.1f},{load[1]:.1f}")
    print(f"{'phase':24} {'fetches':>8} {'p50 ms':>8} {'p99 ms':>8} {'waiter 200s':>12} {'server CPU/s':>13}")
    for name, r in results.items():
        print(f"{name:24} {r['fetches']:>8} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['waiter_200s']:>12} {r['server_cpu_per_s']:>13.2f}")


if __name__ == "__main__":
    main()
