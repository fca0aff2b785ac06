"""`serve --workers 2`: every guarantee of one process holds across worker processes sharing one
socket (limits, check-and-set, revocation, nothing acknowledged lost to a kill -9), a dead worker
is replaced, and SIGTERM drains them all. Real processes on loopback, on both backends.

Which worker accepts a connection is the kernel's choice, so where a test needs both workers it
opens keep-alive connections until each worker holds one, as /proc shows (`Served.holders`).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import httpx
import pytest

import dbbackend
from waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
SITE = "/v1/sites/default"
WORKERS = 2


def children(pid: int) -> set[int]:
    """The live processes whose parent is `pid` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended while we looked
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def _established_inodes(port: int) -> set[str]:
    """Socket inodes of established TCP connections whose local port is `port` (the server's ends)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


class Served:
    """`sitesecrets-server serve --workers 2` on a loopback port over `data_dir`."""

    def __init__(self, data_dir: Path, workers: int = WORKERS) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SITESECRETS_")}
        command = [sys.executable, "-m", "server", "serve", "--data-dir", str(data_dir), "--port", "0",
                   "--workers", str(workers)]
        url = dbbackend.database_url(data_dir)
        if url:
            command += ["--database-url", url]
        self.proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), line
        self.url = line.split()[-1]
        self.port = int(self.url.rsplit(":", 1)[1])

    def workers(self) -> set[int]:
        return children(self.proc.pid)

    def holders(self) -> dict[int, int]:
        """How many established client connections each worker holds."""
        established = _established_inodes(self.port)
        return {pid: len(_socket_inodes(pid) & established) for pid in self.workers()}

    def client(self, token: str, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)

    def clients_on_every_worker(self, token: str, limit: int = 64) -> list[httpx.Client]:
        """Keep-alive clients, opened one by one until every worker holds at least one of them."""
        made: list[httpx.Client] = []
        while True:
            api = self.client(token)
            assert api.get("/v1/whoami").status_code == 200  # the connection is open and served
            made.append(api)
            holders = self.holders()
            if len(holders) == WORKERS and all(holders.values()):
                return made
            assert len(made) < limit, f"{limit} connections and still a worker holds none: {holders}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def served(data_dir: Path) -> Iterator[Served]:
    server = Served(data_dir)
    yield server
    server.stop()


def test_serve_starts_the_workers_it_is_asked_for(served) -> None:
    assert len(served.workers()) == WORKERS


def test_one_worker_serves_in_the_serving_process_itself(data_dir, admin_token) -> None:
    one = Served(data_dir, workers=1)
    try:
        with one.client(admin_token) as api:
            assert api.get("/v1/whoami").status_code == 200
        assert one.workers() == set()
    finally:
        one.stop()


def test_keep_alive_connections_are_spread_evenly_over_the_workers(served, admin_token) -> None:
    clients = []
    try:
        for _ in range(12):  # opened one after another, as a pool of keep-alive clients starts up
            clients.append(served.client(admin_token))
            assert clients[-1].get("/v1/whoami").status_code == 200
        counts = sorted(served.holders().values())
        assert sum(counts) == 12 and counts[-1] - counts[0] <= 1, counts
    finally:
        for api in clients:
            api.close()


def test_concurrent_creates_across_workers_stop_exactly_at_the_limit(served, admin_token) -> None:
    with served.client(admin_token) as admin:
        for i in range(95):
            assert admin.post(f"{SITE}/secrets", json={"name": f"PRE{i}", "value": "v"}).status_code == 201
    clients = served.clients_on_every_worker(admin_token)
    while len(clients) < 40:
        clients.append(served.client(admin_token))
        assert clients[-1].get("/v1/whoami").status_code == 200
    barrier = threading.Barrier(len(clients))
    statuses: dict[str, int] = {}

    def create(i: int, api: httpx.Client) -> None:
        barrier.wait()
        statuses[f"NEW{i}"] = api.post(f"{SITE}/secrets", json={"name": f"NEW{i}", "value": "v"}).status_code

    threads = [threading.Thread(target=create, args=(i, api)) for i, api in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert sorted(statuses.values()) == [201] * 5 + [409] * (len(clients) - 5), statuses
        for api in clients:  # every worker counts the same 100
            assert api.get(SITE).json()["secret_count"] == 100
    finally:
        for api in clients:
            api.close()


def test_two_updates_of_one_version_on_two_workers_one_wins(served, admin_token) -> None:
    clients = served.clients_on_every_worker(admin_token)
    try:
        # opening stopped at the first connection the second worker took: the others are the first's
        a, b = clients[0], clients[-1]
        for n in range(10):
            name = f"CAS_{n}"
            assert a.post(f"{SITE}/secrets", json={"name": name, "value": "start"}).status_code == 201
            barrier = threading.Barrier(2)
            results: list[int] = []

            def update(api: httpx.Client, value: str) -> None:
                barrier.wait()
                results.append(api.patch(f"{SITE}/secrets/{name}", json={"value": value, "expected_version": 1}).status_code)

            threads = [threading.Thread(target=update, args=(api, v)) for api, v in ((a, "x"), (b, "y"))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(results) == [200, 409]
            assert b.get(f"{SITE}/secrets/{name}").json()["version"] == 2
    finally:
        for api in clients:
            api.close()


def test_a_token_revoked_through_one_worker_is_refused_by_every_worker_at_its_next_request(served, admin_token) -> None:
    with served.client(admin_token) as admin:
        created = admin.post("/v1/tokens", json={"name": "ci", "role": "viewer"}).json()
        viewers = served.clients_on_every_worker(created["token"])
        try:
            assert admin.delete(f"/v1/tokens/{created['id']}").status_code == 204
            statuses = [viewer.get("/v1/sites").status_code for viewer in viewers]
            assert statuses == [401] * len(viewers)
        finally:
            for viewer in viewers:
                viewer.close()


def test_a_killed_worker_is_replaced_and_the_server_keeps_answering(served, admin_token) -> None:
    before = served.workers()
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: victim not in served.workers() and len(served.workers()) == WORKERS, "a replacement worker")
    assert served.proc.poll() is None
    with served.client(admin_token) as api:
        assert api.get("/v1/whoami").status_code == 200


def test_sigterm_drains_every_worker_and_exits_zero(served, admin_token, data_dir) -> None:
    workers = served.workers()
    body = b'{"name": "LATE", "value": "still stored"}'
    sock = socket.create_connection(("127.0.0.1", served.port))
    # the head now, the body once the stop has begun: "100 Continue" proves the request began
    sock.sendall(f"POST {SITE}/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin_token}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode())
    assert _read_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 100")
    served.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: _refused(served.port), "new connections refused")
    sock.sendall(body)
    assert _read_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 201")
    sock.close()
    assert served.proc.wait(timeout=30) == 0
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers)
    again = Served(data_dir)
    try:
        with again.client(admin_token) as api:
            assert api.post(f"{SITE}/secrets/LATE/reveal").json()["value"] == "still stored"
    finally:
        again.stop()


def test_sigterm_writes_the_counts_of_repeated_denials_each_worker_holds(served, admin_token, data_dir) -> None:
    with served.client(admin_token) as api:
        viewer = api.post("/v1/tokens", json={"name": "v", "role": "viewer"}).json()["token"]
    clients = served.clients_on_every_worker(viewer)
    for _ in range(3):
        for api in clients:
            assert api.post(f"{SITE}/secrets/A/reveal").status_code == 403
    for api in clients:
        api.close()
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=30) == 0
    events = [json.loads(row["details"]) for row in dbbackend.rows(
        data_dir, "SELECT details FROM audit_events WHERE outcome = 'denied' AND action = 'secret.reveal'")]
    # each worker coalesces its own: a first event and one count per worker, every denial in them
    assert len(events) == 2 * WORKERS
    assert sum(e.get("repeated", 1) for e in events) == 3 * len(clients)  # a first counts one


def test_workers_end_with_their_parent_when_it_is_killed_outright(served) -> None:
    workers = served.workers()
    served.proc.kill()
    served.proc.wait()
    wait_until(lambda: not any(_alive(pid) for pid in workers), "the workers to end")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:  # queued as the last copy of the socket closed: ask again
        return False
    return False


def _read_until(sock: socket.socket, end: bytes) -> bytes:
    data = b""
    while end not in data:
        byte = sock.recv(1)
        assert byte, f"connection closed after {data!r}"
        data += byte
    return data


# ------------------------------------------------------------ kill -9 of a worker mid-write


def _writer(api: httpx.Client, worker: int, outcome: dict, stop: threading.Event) -> None:
    """Creates and updates its own secrets, one at a time; `acked` holds the last acknowledged
    value of each, `pending` the one write in flight when its worker died (it may or may not land)."""
    acked: dict[str, str] = outcome.setdefault("acked", {})
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
            outcome["died"] = True
            return  # its worker died mid-request: that write was never acknowledged
        outcome["pending"] = None
        if response.status_code < 300:
            acked[name] = value
            outcome["writes"] = outcome.get("writes", 0) + 1


def test_kill_9_of_a_worker_mid_write_loses_no_acknowledged_write(served, admin_token) -> None:
    with served.client(admin_token) as admin:
        assert admin.patch(SITE, json={"limits": {"max_secrets": 1000}}).status_code == 200
    clients = served.clients_on_every_worker(admin_token)
    victim = max(served.holders().items(), key=lambda item: item[1])[0]
    stop = threading.Event()
    outcomes: list[dict] = [{} for _ in clients]
    threads = [threading.Thread(target=_writer, args=(api, w, outcomes[w], stop)) for w, api in enumerate(clients)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: all(o.get("writes", 0) >= 3 for o in outcomes), "writes on every connection")
        os.kill(victim, signal.SIGKILL)  # with writes in flight on its connections
        # A writer whose request was in flight loses it (HTTPError). One caught between two requests
        # loses nothing: httpx sees the idle connection closed and opens another on a live worker.
        # Either way the kill is over once the supervisor has replaced the victim.
        wait_until(lambda: any(o.get("died") for o in outcomes)
                   or (victim not in served.workers() and len(served.workers()) == WORKERS),
                   "a writer to lose its worker, or the worker to be replaced")
        survivors = [o for o in outcomes if not o.get("died")]
        done = [o.get("writes", 0) for o in survivors]
        wait_until(lambda: all(o.get("writes", 0) >= d + 3 for o, d in zip(survivors, done)),
                   "writes on the surviving worker after the kill")
        wait_until(lambda: len(served.workers()) == WORKERS and victim not in served.workers(), "a replacement worker")
    finally:
        stop.set()
        for t in threads:
            t.join()
        for api in clients:
            api.close()
    with served.client(admin_token) as api:
        for outcome in outcomes:
            pending = outcome.get("pending")
            for name, value in outcome["acked"].items():
                got = api.post(f"{SITE}/secrets/{name}/reveal").json()["value"]
                allowed = {value} | ({pending[1]} if pending and pending[0] == name else set())
                assert got in allowed, (name, got, value)
        assert api.post(f"{SITE}/secrets", json={"name": "AFTER_THE_KILL", "value": "v"}).status_code == 201


# ------------------------------------------------------------ SQLite: writers take turns in the kernel


def _waiting(path: Path) -> set[int]:
    """Processes blocked on a flock of `path`, as /proc/locks lists them ("->" marks a waiter)."""
    info = path.stat()
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    waiting = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and device in fields:
            waiting.add(int(fields[fields.index("->") + 4]))  # "N: -> FLOCK ADVISORY WRITE pid dev:ino"
    return waiting


@pytest.mark.sqlite_only(reason="write.lock orders the writers of a SQLite data directory")
def test_a_worker_commits_only_in_its_turn_at_the_write_lock(served, admin_token, data_dir) -> None:
    import fcntl

    lock = data_dir / "write.lock"
    answer: list[int] = []
    with open(lock, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another process's commit in progress
        with served.client(admin_token) as api:
            writing = threading.Thread(target=lambda: answer.append(
                api.post(f"{SITE}/secrets", json={"name": "TURN", "value": "v"}).status_code))
            writing.start()
            # the worker holding our connection; the other may queue too (its start-up sweep, late on a busy machine)
            wait_until(lambda: any(served.holders().get(pid) for pid in _waiting(lock)),
                       "the writer of the worker serving the request to queue at write.lock")
            assert answer == []  # it waits in the kernel's queue, not in SQLite's busy handler
            fcntl.flock(held, fcntl.LOCK_UN)
            writing.join(30)
    assert answer == [201]


@pytest.mark.sqlite_only(reason="write.lock lives in the SQLite data directory")
def test_the_write_lock_is_private_and_never_followed_through_a_symlink(served, data_dir, tmp_path) -> None:
    import stat

    assert stat.S_IMODE((data_dir / "write.lock").stat().st_mode) == 0o600
    served.stop()
    (data_dir / "write.lock").unlink()
    (data_dir / "write.lock").symlink_to(tmp_path / "elsewhere")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITESECRETS_")}
    result = subprocess.run([sys.executable, "-m", "server", "serve", "--data-dir", str(data_dir), "--port", "0",
                             "--workers", str(WORKERS)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "elsewhere").exists()
