"""Processes and data for the bench: a real server on a fresh data directory, and what it holds.

- `ServerProcess`: `python -m server serve --port 0` on a data directory, its URL, RSS and stop.
- `load_small`: over the HTTP API, site `bench` with 100 secrets and service `fn` binding 5 of them
  (plus a service token for it), and site `upd` with 100 secrets to update.
- `load_scale`: 1,000 more sites of 100 secrets each (100,000 secrets), inserted through the
  server's own store layer (same tables, same sealing under each site's data key, one transaction
  per 100 sites) while the server runs: creating them over HTTP would take minutes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SITE = "bench"
UPDATE_SITE = "upd"
SERVICE = "fn"
SECRETS = 100
BOUND = 5
WORKERS = os.environ.get("BENCH_WORKERS")
"""`serve --workers` for every bench server; unset, the server's default (one per core)."""


def value_for(site: str, n: int) -> str:
    return f"value-{site}-{n}-" + "x" * 32  # a 50-odd byte value, like an API key or a DSN


def start_line(proc: subprocess.Popen, what: str, timeout: float = 30.0) -> str:
    """The child's first stdout line, which must say where it listens."""
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"{what} did not start: {line!r}")
    return line.removeprefix("listening on ")


class ServerProcess:
    """A `sitesecrets-server serve` child on a loopback port; stderr goes to `log`."""

    def __init__(self, data_dir: Path, log: Path, env: dict[str, str] | None = None, cwd: Path = ROOT) -> None:
        """`cwd`: the tree whose `server` runs (another version's, to compare; see httpcost.py)."""
        self.data_dir = data_dir
        self._log = open(log, "ab")
        command = [PYTHON, "-m", "server", "serve", "--data-dir", str(data_dir), "--port", "0"]
        self.proc = subprocess.Popen(command + (["--workers", WORKERS] if WORKERS else []),
                                     cwd=cwd, stdout=subprocess.PIPE, stderr=self._log, text=True, env=env)
        self.url = start_line(self.proc, "the server")
        host_port = self.url.split("://", 1)[1]
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)

    def pids(self) -> list[int]:
        """The server's processes: `serve` and its workers."""
        return [self.proc.pid, *children(self.proc.pid)]

    def rss_kib(self) -> dict[str, int]:
        """Current and peak resident set (KiB) from /proc, summed over the server's processes (pages
        the workers share with their parent counted in each), and the proportional set size (PSS:
        each shared page split among its sharers), which sums to what the server really holds."""
        fields = {"VmRSS": 0, "VmHWM": 0, "Pss": 0}
        for pid in self.pids():
            for name in ("status", "smaps_rollup"):
                for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                    key, _, rest = line.partition(":")
                    if key in fields:
                        fields[key] += int(rest.split()[0])
        return {"rss_kib": fields["VmRSS"], "peak_kib": fields["VmHWM"], "pss_kib": fields["Pss"]}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (a `serve`'s workers), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return sorted(found)


def init_data_dir(data_dir: Path, env: dict[str, str] | None = None) -> str:
    """`sitesecrets-server init`; returns the admin token."""
    out = subprocess.run([PYTHON, "-m", "server", "init", "--data-dir", str(data_dir)], cwd=ROOT,
                         capture_output=True, text=True, check=True, env=env)
    return out.stdout.strip()


@dataclass
class Small:
    """What `load_small` made and the tokens that reach it."""

    admin: str
    service_token: str
    env_path: str
    reveal_paths: tuple[str, ...]
    list_path: str
    update_paths: tuple[str, ...]


def _check(response: httpx.Response) -> dict:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:200]}")
    return response.json() if response.content else {}


def load_small(url: str, admin: str) -> Small:
    """Sites `bench` and `upd` with 100 secrets each; service `fn` binding 5 of `bench`'s."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=30) as client:
        for site in (SITE, UPDATE_SITE):
            _check(client.post("/v1/sites", json={"name": site}))
            for n in range(SECRETS):
                _check(client.post(f"/v1/sites/{site}/secrets", json={"name": f"S{n}", "value": value_for(site, n)}))
        _check(client.post(f"/v1/sites/{SITE}/services",
                           json={"name": SERVICE, "secrets": [{"name": f"S{n}"} for n in range(BOUND)]}))
        token = _check(client.post("/v1/tokens", json={"name": "bench-fn", "role": "service", "site": SITE,
                                                       "service": SERVICE}))["token"]
    return Small(
        admin=admin, service_token=token,
        env_path=f"/v1/sites/{SITE}/services/{SERVICE}/env",
        reveal_paths=tuple(f"/v1/sites/{SITE}/secrets/S{n}/reveal" for n in range(SECRETS)),
        list_path=f"/v1/sites/{SITE}/secrets",
        update_paths=tuple(f"/v1/sites/{UPDATE_SITE}/secrets/S{n}" for n in range(SECRETS)),
    )


def load_scale(data_dir: Path, sites: int = 1000, per_site: int = SECRETS, batch: int = 100) -> float:
    """Insert `sites` sites of `per_site` secrets through the store layer; returns seconds taken.

    The rows are what the API would write: a wrapped data key per site, each value sealed under it
    with the same associated data, and a `site.create` audit event per site (one per secret would
    only make the set-up slower without changing what rows 1 and 4 read).
    """
    sys.path.insert(0, str(ROOT))
    from server.context import utc_now
    from server.config import Settings
    from server.datadir import offline_event, open_state

    began = time.perf_counter()
    state = open_state(Settings(data_dir=data_dir))
    keyring, now = state.keyring, utc_now()
    try:
        for first in range(0, sites, batch):
            names = [f"scale-{i:04d}" for i in range(first, min(first + batch, sites))]

            def write(tx, names=names) -> None:
                for name in names:
                    site = tx.insert_site(name, keyring.new_wrapped_data_key(tx, name), now)
                    tx.insert_audit(offline_event("site.create", name, f"site:{name}", {}))
                    for n in range(per_site):
                        tx.insert_secret({
                            "site_id": site.id, "app_id": None, "name": f"S{n}", "type_id": None,
                            "description": "", "version": 1,
                            "ciphertext": keyring.seal_value(site, None, f"S{n}", 1, value_for(name, n)),
                            "created_at": now, "updated_at": now, "created_by": "bench", "updated_by": "bench",
                        })

            state.store.write(write)
    finally:
        state.store.close()
    return time.perf_counter() - began



def fill_audit_log(data_dir: Path, site: str, events: int, batch: int = 5000) -> None:
    """Put `events` reveal events on `site`'s chain through the store layer (a server may be
    serving the directory: the writes take its write lock like a worker's)."""
    sys.path.insert(0, str(ROOT))
    from server.config import Settings
    from server.datadir import offline_event, open_state

    state = open_state(Settings(data_dir=data_dir))
    try:
        for first in range(0, events, batch):
            def write(tx, first=first) -> None:
                for n in range(first, min(first + batch, events)):
                    tx.insert_audit(offline_event("secret.reveal", site, f"secret:{site}/S{n % 100}", {}))

            state.store.write(write)
    finally:
        state.store.close()
