"""Two real `sitesecrets-server serve` processes on one PostgreSQL database: the per-site rules,
revocation and durability hold across replicas as they do in one process."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import httpx
import pytest

import dbbackend
from apihelpers import SITE, create_secret, expect_error
from waiting import wait_until

pytestmark = pytest.mark.postgresql_only(reason="replicas share a PostgreSQL database")

REPO = Path(__file__).resolve().parents[2]


class Replica:
    def __init__(self, data_dir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SITESECRETS_")}
        command = [sys.executable, "-m", "server", "serve", "--data-dir", str(data_dir), "--port", "0",
                   "--database-url", dbbackend.database_url(data_dir)]
        self.proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), line
        self.url = line.split()[-1]

    def client(self, token: str, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def replicas(data_dir: Path) -> Iterator[tuple[Replica, Replica]]:
    started: list[Replica] = []
    try:
        started.append(Replica(data_dir))
        started.append(Replica(data_dir))
        yield started[0], started[1]
    finally:
        for replica in started:
            replica.stop()


def test_fifty_concurrent_creates_split_across_two_replicas_stop_at_the_limit(replicas, admin_token) -> None:
    one, two = replicas
    with one.client(admin_token) as admin:
        for i in range(95):
            create_secret(admin, f"PRE{i}")
    barrier = threading.Barrier(50)
    statuses: dict[str, int] = {}

    def create(i: int) -> None:
        with (one if i % 2 else two).client(admin_token) as api:
            barrier.wait()
            statuses[f"NEW{i}"] = api.post(f"{SITE}/secrets", json={"name": f"NEW{i}", "value": "v"}).status_code

    threads = [threading.Thread(target=create, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses.values()) == [201] * 5 + [409] * 45, statuses
    for replica in replicas:
        with replica.client(admin_token) as api:
            assert api.get(SITE).json()["secret_count"] == 100
            names = {s["name"] for s in api.get(f"{SITE}/secrets").json()["items"]}
            assert names == {f"PRE{i}" for i in range(95)} | {n for n, s in statuses.items() if s == 201}


def test_token_revoked_through_one_replica_is_refused_by_the_other_at_its_next_request(replicas, admin_token) -> None:
    one, two = replicas
    with one.client(admin_token) as admin:
        created = admin.post("/v1/tokens", json={"name": "ci", "role": "viewer"}).json()
        with two.client(created["token"]) as viewer:
            assert viewer.get("/v1/sites").status_code == 200
            assert admin.delete(f"/v1/tokens/{created['id']}").status_code == 204
            expect_error(viewer.get("/v1/sites"), 401, "unauthorized")


def test_check_and_set_holds_across_replicas(replicas, admin_token) -> None:
    one, two = replicas
    with one.client(admin_token) as a, two.client(admin_token) as b:
        create_secret(a, "CAS")
        barrier = threading.Barrier(2)
        results: list[int] = []

        def update(api: httpx.Client, value: str) -> None:
            barrier.wait()
            results.append(api.patch(f"{SITE}/secrets/CAS", json={"value": value, "expected_version": 1}).status_code)

        threads = [threading.Thread(target=update, args=(api, v)) for api, v in ((a, "x"), (b, "y"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [200, 409]
        assert b.get(f"{SITE}/secrets/CAS").json()["version"] == 2


def _writer(replica: Replica, token: str, worker: int, outcome: dict, stop: threading.Event) -> None:
    """Creates and updates its own secrets, one request at a time; see `acked` and `pending`."""
    acked: dict[str, str] = outcome.setdefault("acked", {})
    with replica.client(token, timeout=10) as api:
        step = 0
        while not stop.is_set():
            name, step = f"W{worker}_{step % 5}", step + 1
            value = f"{worker}-{step}-{random.random()}"
            if name in acked:
                method, path, body = "PATCH", f"{SITE}/secrets/{name}", {"value": value}
            else:
                method, path, body = "POST", f"{SITE}/secrets", {"name": name, "value": value}
            outcome["pending"] = (name, value)
            try:
                response = api.request(method, path, json=body)
            except httpx.HTTPError:
                return  # the replica died mid-request: that write was never acknowledged
            outcome["pending"] = None
            if response.status_code < 300:
                acked[name] = value
                outcome["writes"] = outcome.get("writes", 0) + 1


def _acknowledged(outcomes: list[dict], on_one: bool) -> int:
    """Writes acknowledged so far by the writers on replica one (odd) or two (even)."""
    return sum(o.get("writes", 0) for w, o in enumerate(outcomes) if w % 2 == on_one)


def test_kill_9_of_one_replica_mid_write_loses_no_acknowledged_write_and_the_other_keeps_serving(replicas, admin_token) -> None:
    one, two = replicas
    with one.client(admin_token) as admin:
        admin.patch(SITE, json={"limits": {"max_secrets": 1000}})
    stop = threading.Event()
    outcomes = [{} for _ in range(8)]
    threads = [threading.Thread(target=_writer, args=(one if w % 2 else two, admin_token, w, outcomes[w], stop))
               for w in range(8)]
    for t in threads:
        t.start()
    # both replicas are taking writes before one is killed, and the survivor takes more after
    wait_until(lambda: _acknowledged(outcomes, True) >= 8 and _acknowledged(outcomes, False) >= 8, "writes on both")
    one.proc.kill()  # SIGKILL, with writes in flight
    one.proc.wait()
    after_kill = _acknowledged(outcomes, False)
    wait_until(lambda: _acknowledged(outcomes, False) >= after_kill + 8, "writes on the survivor after the kill")
    stop.set()
    for t in threads:
        t.join()
    survivors_acked = sum(len(o.get("acked", {})) for w, o in enumerate(outcomes) if w % 2 == 0)
    assert survivors_acked > 0 and any(o.get("acked") for w, o in enumerate(outcomes) if w % 2)
    with two.client(admin_token) as api:
        for outcome in outcomes:
            pending = outcome.get("pending")
            for name, value in outcome.get("acked", {}).items():
                got = api.post(f"{SITE}/secrets/{name}/reveal").json()["value"]
                allowed = {value} | ({pending[1]} if pending and pending[0] == name else set())
                assert got in allowed, (name, got, value)
        create_secret(api, "AFTER_THE_CRASH")
        assert api.post(f"{SITE}/secrets/AFTER_THE_CRASH/reveal").status_code == 200
