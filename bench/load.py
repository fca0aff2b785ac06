"""The closed-loop load generator: worker processes of threads, each with one keep-alive client.

A measurement is `Load(...)` handed to `measure`. Every thread sends its next request only when
the last one answered (closed loop), so concurrency is exactly the thread count. All threads start
at one agreed `time.monotonic()` instant (CLOCK_MONOTONIC is system-wide on Linux, so it means the
same in every process); requests that *complete* during the warm-up are thrown away, the ones
completing in the following `duration` seconds are counted and their latencies kept.

Threads are spread over `LOAD_PROCESSES` worker processes so the client's own GIL does not cap
the rate: on 2 cores, 2 processes of c/2 threads each (c=1 uses one process).

Two client kinds: `httpx` (the issue's keep-alive `httpx.Client`) and `raw` (the standard
library's `http.client`, lighter, so more of the machine is left to the server).
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

LOAD_PROCESSES = 2


@dataclass(frozen=True)
class Load:
    """What to send. `kind` is `get`/`post`/`patch` cycling over `paths`, or `create` (see below)."""

    host: str
    port: int
    token: str
    kind: str
    paths: tuple[str, ...] = ()
    body: dict[str, Any] | None = None
    site_prefix: str = ""
    more_ports: tuple[int, ...] = ()
    """Replicas of the same server: the threads of each process alternate between `port` and these."""
    """For `create`: each thread creates its own sites `{prefix}-{proc}-{thread}-{k}` (uncounted
    requests, outside the stats) and fills each with up to 100 secrets (counted)."""


@dataclass
class Sample:
    """One run's result: completed requests in the window and their latencies (seconds)."""

    count: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    """How many of each error: an HTTP status, or the client's exception when the request failed."""
    duration: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.count / self.duration if self.duration else 0.0


# ---------------------------------------------------------------- one connection, two flavours

class _RawClient:
    """A keep-alive HTTP/1.1 connection from `http.client`."""

    def __init__(self, host: str, port: int, token: str) -> None:
        import http.client

        self._conn = http.client.HTTPConnection(host, port, timeout=30)
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def send(self, method: str, path: str, body: bytes | None) -> int:
        self._conn.request(method, path, body=body, headers=self._headers)
        response = self._conn.getresponse()
        response.read()
        return response.status

    def close(self) -> None:
        self._conn.close()


class _HttpxClient:
    def __init__(self, host: str, port: int, token: str) -> None:
        import httpx

        self._client = httpx.Client(base_url=f"http://{host}:{port}", timeout=30,
                                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})

    def send(self, method: str, path: str, body: bytes | None) -> int:
        return self._client.request(method, path, content=body).status_code

    def close(self) -> None:
        self._client.close()


CLIENTS = {"raw": _RawClient, "httpx": _HttpxClient}


# ---------------------------------------------------------------- worker process side

def _requests(load: Load, proc: int, thread: int):
    """Endless (method, path, body, counted) tuples for one thread."""
    method = {"get": "GET", "post": "POST", "patch": "PATCH"}.get(load.kind)
    if method is not None:
        body = json.dumps(load.body).encode() if load.body is not None else None
        i = thread
        while True:
            yield method, load.paths[i % len(load.paths)], body, True
            i += 1
    # create: a fresh site per 100 secrets (the default per-site limit)
    k = 0
    while True:
        site = f"{load.site_prefix}-{proc}-{thread}-{k}"
        yield "POST", "/v1/sites", json.dumps({"name": site}).encode(), False
        for n in range(100):
            body = json.dumps({"name": f"S{n}", "value": f"value-{site}-{n}-" + "x" * 32}).encode()
            yield "POST", f"/v1/sites/{site}/secrets", body, True
        k += 1


def _thread(load: Load, client_kind: str, proc: int, thread: int, start: float, warm: float, end: float,
            out: Sample, lock: threading.Lock) -> None:
    ports = (load.port, *load.more_ports)
    port = ports[thread % len(ports)]
    client = CLIENTS[client_kind](load.host, port, load.token)
    latencies: list[float] = []
    count = errors = 0
    statuses: dict[str, int] = {}
    on_connection = 0  # requests this connection answered: tells a refused connect from a dropped keep-alive
    try:
        while time.monotonic() < start:
            time.sleep(0.001)
        for method, path, body, counted in _requests(load, proc, thread):
            began = time.monotonic()
            if began >= end:
                break
            # an uncounted set-up request (a site to create into) is retried: the counted ones need it
            for _ in range(1 if counted else 3):
                failure = ""
                try:
                    status = client.send(method, path, body)
                    on_connection += 1
                except Exception as error:  # a dropped connection: count it, reconnect, carry on
                    status = 0
                    failure = f"{type(error).__name__} after {'0' if not on_connection else '>0'} on its connection"
                    on_connection = 0
                    client.close()
                    client = CLIENTS[client_kind](load.host, port, load.token)
                if 0 < status < 400:
                    break
            finished = time.monotonic()
            if not counted or finished < warm or finished > end:
                continue
            if status >= 400 or status == 0:
                errors += 1
                key = failure or str(status)
                statuses[key] = statuses.get(key, 0) + 1
            else:
                count += 1
                latencies.append(finished - began)
    finally:
        client.close()
    with lock:
        out.count += count
        out.errors += errors
        for status, n in statuses.items():
            out.statuses[status] = out.statuses.get(status, 0) + n
        out.latencies.extend(latencies)


def run_in_process(load: Load, client_kind: str, proc: int, threads: int, start: float, warmup: float,
                   duration: float) -> Sample:
    """Run `threads` closed-loop threads in this process; the entry point of a worker job."""
    out, lock = Sample(duration=duration), threading.Lock()
    warm = start + warmup
    end = warm + duration
    workers = [threading.Thread(target=_thread, args=(load, client_kind, proc, t, start, warm, end, out, lock))
               for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return out


def _warm_imports(client_kind: str) -> int:
    if client_kind == "httpx":
        import httpx  # noqa: F401
    return os.getpid()


# ---------------------------------------------------------------- harness side

class LoadGenerator:
    """A pool of worker processes, kept for the whole bench so no run pays their start-up."""

    def __init__(self, client_kind: str = "httpx", processes: int = LOAD_PROCESSES) -> None:
        self.client_kind = client_kind
        self.processes = processes
        self._pool = ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn"))
        pids = {f.result() for f in [self._pool.submit(_warm_imports, client_kind) for _ in range(processes * 2)]}
        self.pids = sorted(pids)

    def describe(self) -> str:
        return (f"closed loop, {self.processes} worker processes x c/{self.processes} threads, "
                f"one keep-alive {self.client_kind} client per thread")

    def run(self, load: Load, concurrency: int, duration: float, warmup: float) -> Sample:
        """One run at `concurrency`: warm-up discarded, then `duration` seconds counted."""
        procs = min(self.processes, concurrency)
        shares = [concurrency // procs + (1 if i < concurrency % procs else 0) for i in range(procs)]
        start = time.monotonic() + 0.3  # time for every job to reach its worker
        futures = [self._pool.submit(run_in_process, load, self.client_kind, i, n, start, warmup, duration)
                   for i, n in enumerate(shares)]
        total = Sample(duration=duration)
        for f in futures:
            part = f.result()
            total.count += part.count
            total.errors += part.errors
            for status, n in part.statuses.items():
                total.statuses[status] = total.statuses.get(status, 0) + n
            total.latencies.extend(part.latencies)
        return total

    def close(self) -> None:
        self._pool.shutdown()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def _percentile_ms(sample, q: int) -> float:
    """A run's q-th latency percentile in ms: computed from its latencies, or as wrk reported it."""
    reported = getattr(sample, f"p{q}_ms", None)
    return reported if reported is not None else percentile(sample.latencies, q) * 1000


def summarise(samples: list[Sample]) -> dict[str, Any]:
    """Median and spread over runs: rate (req/s) and per-run p50/p99 latency (ms); the per-run
    figures are kept in run order, so interleaved measurements can be compared round by round."""
    rates = [s.rate for s in samples]
    p50s = [_percentile_ms(s, 50) for s in samples]
    p99s = [_percentile_ms(s, 99) for s in samples]
    return {
        "runs": len(samples),
        "rate": statistics.median(rates), "rate_min": min(rates), "rate_max": max(rates),
        "p50_ms": statistics.median(p50s), "p99_ms": statistics.median(p99s),
        "p99_ms_max": max(p99s), "errors": sum(s.errors for s in samples),
        "run_rates": rates, "run_p50_ms": p50s,
        "error_statuses": {k: sum(s.statuses.get(k, 0) for s in samples)
                           for k in sorted({k for s in samples for k in s.statuses})},
    }
