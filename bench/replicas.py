"""Row 10 (issue 7): the same audited read against one `serve` replica and against two, both on one
PostgreSQL database (`BENCH_DATABASE_URL`, default the local server at 127.0.0.1:5432); and (issue
12) against a SQLite server holding the same data, in the same rounds, so that the PostgreSQL/SQLite
ratio compares stores of the same contents in runs of the same minute, on a machine whose load
moves by half from one row to the next (rows 1 and 2's server, by then, also holds row 3's sites).

Each measurement gets a fresh database of its own, created and dropped here. The row is left out,
with a note, where no PostgreSQL answers. On a 2-core machine the client, both replicas and
PostgreSQL share the same cores, so this shows what a second replica costs or gains here, not
what it gains on a host of its own.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from . import fixtures
from .fixtures import ServerProcess
from .load import Load, summarise

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _admin_connection(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=3)


def available(url: str) -> bool:
    try:
        _admin_connection(url).close()
        return True
    except Exception:  # no driver, no server, no permission: the row is left out
        return False


def measure(bench, base: Path, url: str = "") -> dict:
    """Env (5 secrets) at c=16 against a SQLite server, replica A alone, then A and B, interleaved run by run."""
    url = url or os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not available(url):
        return {"error": f"no PostgreSQL at {url} (set BENCH_DATABASE_URL)"}
    name = f"sitesecrets_bench_{uuid.uuid4().hex[:8]}"
    with _admin_connection(url) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database = urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    env = dict(os.environ, SITESECRETS_DATABASE_URL=database)
    servers: list[ServerProcess] = []
    try:
        token = fixtures.init_data_dir(base / "pg", env=env)
        servers = [ServerProcess(base / "pg", base / f"pg-{i}.log", env=env) for i in range(2)]
        small = fixtures.load_small(servers[0].url, token)
        a, b = servers
        token = fixtures.init_data_dir(base / "sqlite-10")
        servers.append(ServerProcess(base / "sqlite-10", base / "sqlite-10.log"))
        lite = fixtures.load_small(servers[2].url, token)
        loads = {
            "sqlite": Load(servers[2].host, servers[2].port, lite.service_token, "get", (lite.env_path,)),
            "one": Load(a.host, a.port, small.service_token, "get", (small.env_path,)),
            "two": Load(a.host, a.port, small.service_token, "get", (small.env_path,), more_ports=(b.port,)),
        }
        samples: dict[str, list] = {key: [] for key in loads}
        for _ in range(bench.runs):
            for key, load in loads.items():
                samples[key].append(bench.gen.run(load, 16, bench.duration, bench.warmup))
        return {key: summarise(s) for key, s in samples.items()}
    finally:
        for server in servers:
            server.stop()
        with _admin_connection(url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
