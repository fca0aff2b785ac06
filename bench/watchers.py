"""Row 13 (issue 14, part 6): what waiting environment fetches cost the server that holds them.

`BENCH_ONLY=watch .venv/bin/python -m bench` runs this row alone into `bench/results-watch.json`:
- 1,000 idle watchers: 1,000 connections each holding `GET .../env` with `If-None-Match` and
  `Prefer: wait=60` on one server; its RSS above idle and its CPU time over 10 s of waiting
  (target: under 100 MiB more than idle, no measurable CPU);
- the latency from an update (its 200 back at the writer) to a waiting fetch's 200 with the new
  environment, over `LATENCY_ROUNDS` updates. `sitesecrets run --watch` adds its own restart on top.
"""

from __future__ import annotations

import http.client
import socket
import statistics
import threading
import time
from pathlib import Path

import httpx

from . import fixtures
from .fixtures import ServerProcess
from .httpcost import _cpu_seconds
from .report import Line

WATCHERS = 1000
IDLE_SECONDS = 10.0
LATENCY_ROUNDS = 20
MIB = 1024


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def _etag(server: ServerProcess, path: str, token: str) -> str:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    conn.request("GET", path + "?record=false", headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.headers["ETag"]


def _open_watchers(server: ServerProcess, path: str, token: str, tag: str) -> list[socket.socket]:
    request = (f"GET {path}?record=false HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
               f"If-None-Match: {tag}\r\nPrefer: wait=60\r\n\r\n").encode()
    watchers = []
    base = _threads(server.proc.pid)
    for n in range(WATCHERS):
        sock = socket.create_connection((server.host, server.port), timeout=30)
        sock.sendall(request)
        watchers.append(sock)
        if n % 100 == 99:  # keep under the connection cap until the earlier ones wait (and leave it)
            _until(lambda: _threads(server.proc.pid) >= base + n + 1, "watchers to be served")
    _until(lambda: _threads(server.proc.pid) >= base + WATCHERS, "every watcher to be held")
    return watchers


def _until(predicate, what: str, ceiling: float = 120.0) -> None:
    deadline = time.monotonic() + ceiling
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def idle_cost(bench, server: ServerProcess, path: str, token: str) -> dict:
    pid = server.proc.pid
    time.sleep(1.0)  # let start-up settle before the idle figure
    idle = server.rss_kib()["rss_kib"]
    tag = _etag(server, path, token)
    watchers = _open_watchers(server, path, token, tag)
    try:
        time.sleep(1.0)
        held = server.rss_kib()["rss_kib"]
        before = _cpu_seconds(pid)
        time.sleep(IDLE_SECONDS)
        cpu = _cpu_seconds(pid) - before
        after = server.rss_kib()["rss_kib"]
        threads = _threads(pid)
    finally:
        for sock in watchers:
            sock.close()
    return {"idle_rss_kib": idle, "held_rss_kib": max(held, after), "extra_mib": (max(held, after) - idle) / MIB,
            "cpu_seconds": cpu, "idle_seconds": IDLE_SECONDS, "threads": threads, "watchers": WATCHERS}


def update_latency(server: ServerProcess, small: fixtures.Small) -> dict:
    """Seconds from an update acknowledged to a waiting fetch answering the new environment."""
    secret = f"/v1/sites/{fixtures.SITE}/secrets/S0"
    samples = []
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {small.admin}"}, timeout=30) as admin, \
            httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {small.service_token}"}, timeout=90) as watcher:
        for n in range(LATENCY_ROUNDS):
            tag = watcher.get(small.env_path, params={"record": "false"}).headers["ETag"]
            answered: list[float] = []

            def wait() -> None:
                response = watcher.get(small.env_path, params={"record": "false"}, headers={"If-None-Match": tag, "Prefer": "wait=60"})
                answered.append(time.perf_counter())
                assert response.status_code == 200, response.status_code

            thread = threading.Thread(target=wait)
            thread.start()
            time.sleep(0.2)  # a bench, not a test: give the fetch time to start waiting
            assert admin.patch(secret, json={"value": f"rotated-{n}"}).status_code == 200
            updated = time.perf_counter()
            thread.join(90)
            samples.append(answered[0] - updated)
    return {"median_ms": statistics.median(samples) * 1000, "max_ms": max(samples) * 1000, "rounds": LATENCY_ROUNDS}


def measure(bench) -> dict:
    admin = fixtures.init_data_dir(bench.base / "watch")
    server = ServerProcess(bench.base / "watch", bench.base / "watch.log")
    bench.servers.append(server)
    small = fixtures.load_small(server.url, admin)
    bench.log("row 13: 1,000 idle watchers")
    idle = idle_cost(bench, server, small.env_path, small.service_token)
    bench.log("row 13: update to waiting fetch latency")
    return {"idle": idle, "latency": update_latency(server, small)}


def row_13(r13: dict | None) -> list[Line]:
    if not r13:
        return []
    idle, latency = r13["idle"], r13["latency"]
    cpu_share = idle["cpu_seconds"] / idle["idle_seconds"]
    return [
        Line("13", f"{idle['watchers']:,} idle watchers: RSS above idle", f"{idle['extra_mib']:.1f} MiB",
             target="< 100 MiB", ok=idle["extra_mib"] < 100, note=f"{idle['threads']} server threads while held"),
        Line("13", f"{idle['watchers']:,} idle watchers: server CPU", f"{cpu_share:.2%} of a core",
             f"{idle['cpu_seconds']:.2f} s over {idle['idle_seconds']:.0f} s", target="none measurable", ok=cpu_share < 0.01),
        Line("13", "update -> waiting fetch answered", f"{latency['median_ms']:.1f} ms", f"max {latency['max_ms']:.1f} ms"),
    ]
