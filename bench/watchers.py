"""Row 13 (issue 14, part 6): what waiting environment fetches cost the server that holds them.

`BENCH_ONLY=watch .venv/bin/python -m bench` runs this row alone into `bench/results-watch.json`:
- 1,000 idle watchers: 1,000 connections each holding `GET .../env` with `If-None-Match` and
  `Prefer: wait=60` on one server; its RSS above idle and its CPU time over 10 s of waiting
  (target: under 100 MiB more than idle, no measurable CPU);
- the latency from an update (its 200 back at the writer) to a waiting fetch's 200 with the new
  environment, over `LATENCY_ROUNDS` updates;
- the latency from an update (its 200 back at the writer) to the command that `sitesecrets run
  --watch --settle 0` restarted having the new value, over `RESTART_ROUNDS` updates: the wait above,
  then the supervisor's checks, TERM to the old command and its exit, the load recorded, the new one
  started. The command is `sh`, which writes the value into a FIFO this process reads (a blocking
  read: no polling in the figure), then `exec`s `sleep`, which TERM ends at once.
"""

from __future__ import annotations

import http.client
import os
import select
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

import httpx

from . import fixtures
from .fixtures import PYTHON, ROOT, ServerProcess
from .httpcost import _cpu_seconds
from .report import Line

WATCHERS = 1000
IDLE_SECONDS = 10.0
LATENCY_ROUNDS = 20
RESTART_ROUNDS = 20
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


# the value goes through the environment into printf's argument list inside sh: never on a command line
RECORDING_COMMAND = ["/bin/sh", "-c", 'printf "%s\\n" "$S0" > "$WATCH_FIFO"; exec sleep 3600']


def _read_line(fd: int, buffer: bytearray, ceiling: float = 60.0) -> tuple[str, float]:
    """The next line the command wrote into the FIFO, and the moment it arrived."""
    while b"\n" not in buffer:
        if not select.select([fd], [], [], ceiling)[0]:
            raise RuntimeError("the watched command wrote nothing in time")
        buffer += os.read(fd, 4096)
    arrived = time.perf_counter()
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line.decode(), arrived


def restart_latency(bench, server: ServerProcess, small: fixtures.Small) -> dict:
    """Seconds from an update acknowledged to the command `run --watch` restarted holding the new value."""
    fifo = bench.base / "watch.fifo"
    os.mkfifo(fifo, 0o600)
    fd = os.open(fifo, os.O_RDWR)  # read-write: no end-of-file between one command's close and the next's open
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(bench.base), "XDG_CONFIG_HOME": str(bench.base),
           "SITESECRETS_TOKEN": small.service_token, "WATCH_FIFO": str(fifo)}
    argv = [PYTHON, "-m", "tui.cli", "run", "--watch", "--settle", "0",  # the mechanism, not the 2 s wait for more changes
            "--url", server.url, "--site", fixtures.SITE, "--service", fixtures.SERVICE, "--", *RECORDING_COMMAND]
    buffer, samples = bytearray(), []
    with open(bench.base / "watch-run.log", "wb") as log:
        supervisor = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        _read_line(fd, buffer)  # the first start
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {small.admin}"}, timeout=30) as admin:
            for n in range(RESTART_ROUNDS):
                time.sleep(0.2)  # a bench, not a test: let the supervisor's next waiting fetch start
                value = f"watched-{n}"
                assert admin.patch(f"/v1/sites/{fixtures.SITE}/secrets/S0", json={"value": value}).status_code == 200
                updated = time.perf_counter()
                line, arrived = _read_line(fd, buffer)
                if line != value:
                    raise RuntimeError("the restarted command did not have the value just written")
                samples.append(arrived - updated)
    finally:
        supervisor.terminate()
        supervisor.wait(30)
        os.close(fd)
    return {"median_ms": statistics.median(samples) * 1000, "max_ms": max(samples) * 1000, "rounds": RESTART_ROUNDS}


def measure(bench) -> dict:
    admin = fixtures.init_data_dir(bench.base / "watch")
    server = ServerProcess(bench.base / "watch", bench.base / "watch.log")
    bench.servers.append(server)
    small = fixtures.load_small(server.url, admin)
    bench.log("row 13: 1,000 idle watchers")
    idle = idle_cost(bench, server, small.env_path, small.service_token)
    bench.log("row 13: update to waiting fetch latency")
    latency = update_latency(server, small)
    bench.log("row 13: update to restarted command latency (run --watch)")
    return {"idle": idle, "latency": latency, "restart": restart_latency(bench, server, small)}


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
        *restart_line(r13.get("restart")),
    ]


def restart_line(restart: dict | None) -> list[Line]:
    if not restart:
        return []
    return [Line("13", "update -> command restarted by run --watch", f"{restart['median_ms']:.1f} ms",
                 f"max {restart['max_ms']:.1f} ms over {restart['rounds']}")]
