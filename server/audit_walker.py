"""A verify walk in a process of its own, so that one tenant's verify never holds the interpreter
lock that every other tenant's requests in the same worker need.

A walk is CPU-bound Python in proportion to the site's log (`audit_chain.verify_chain`: 5 to 14 µs
an event). Run in a worker's thread, it took the interpreter lock from the requests beside it for
its whole length: measured with one worker, env fetches at c=1 had a p99 of 28-34 ms during a
300,000-event walk against 2-3.5 ms idle. So a chain longer than `IN_PROCESS_EVENTS` is walked by
`python -m server.audit_walker`, at a lower CPU priority (`nice`), which reads the database beside
the server (read-only for SQLite; a connection of its own for PostgreSQL) and prints its report.

What the child is given goes through its stdin, never its command line or environment (which
anyone on the host may read): the audit key, and the database's place (a PostgreSQL URL may hold
a password). Its environment is the parent's without our own variables (the master key may be one
of them), keeping what libpq and Python read. It is killed with its parent (`workers.die_with`).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from .audit_chain import ChainReport, Walks, verify_chain
from .store import SqliteStore, Store, StoreError
from .store.audit_key import AuditKey

IN_PROCESS_EVENTS = 2000
"""A chain whose head is at most this many event ids past its anchor is walked in the request's
own thread (at most ~30 ms of CPU, less than starting a process costs); a longer one apart."""
NICENESS = 10
"""The child's CPU priority below the workers': the kernel gives a waiting worker the core first."""
_OURS = "SITESECRETS_"
log = logging.getLogger("sitesecrets.server")


def walk(store: Store, chain: str, key: AuditKey | None) -> ChainReport:
    """`verify_chain(store, chain, key)`, in a process of its own when the chain is long and the
    store is one it can open (a data directory's SQLite file, or PostgreSQL)."""
    head = store.read(lambda tx: tx.chain_head(chain))
    place = _place(store)
    if head is None or head.last_id - head.anchor_id <= IN_PROCESS_EVENTS or place is None:
        return verify_chain(store, chain, key)
    try:
        return walk_apart(place, chain, key)
    except OSError as error:  # no process to be had (a host's process limit): walk here, as before
        log.warning("audit verify: cannot start a walker process (%s); walking in this one", error.strerror or error)
        return verify_chain(store, chain, key)


def walk_apart(place: dict[str, str], chain: str, key: AuditKey | None) -> ChainReport:
    """Walk `chain` of the database at `place` (`{"sqlite": path}` or `{"postgresql": url}`) in a
    child process; its report. Raises OSError if no process could be started, StoreError if the
    child gave no report."""
    request = {**place, "chain": chain, "key": key.key.hex() if key else None, "parent": os.getpid()}
    child = subprocess.run([sys.executable, "-m", "server.audit_walker"], input=json.dumps(request).encode(),
                           capture_output=True, env=_child_environ(), cwd=_ROOT, check=False)
    if child.returncode != 0:
        why = child.stderr.decode("utf-8", "replace").strip().splitlines()
        log.error("audit verify: the walker process ended with status %s: %s", child.returncode, why[-1] if why else "no message")
        raise StoreError("the audit chain could not be walked")
    return ChainReport(**json.loads(child.stdout))


_ROOT = str(Path(__file__).resolve().parents[1])
"""The directory holding the `server` package, so `-m server.audit_walker` finds this one."""


def _child_environ() -> dict[str, str]:
    environ = {name: value for name, value in os.environ.items() if not name.startswith(_OURS)}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_ROOT, environ.get("PYTHONPATH")]))
    return environ


def _place(store: Store) -> dict[str, str] | None:
    if isinstance(store, SqliteStore):  # (absolute: `serve --data-dir data` names it from the server's directory)
        return {"sqlite": str(store.path.resolve())}
    url = getattr(store, "url", None)  # a PostgresStore (not imported here: psycopg is optional)
    return {"postgresql": url} if isinstance(url, str) else None


def _open(place: dict[str, str]):
    if "sqlite" in place:
        from .store.sqlite import SqliteReader

        return SqliteReader(Path(place["sqlite"]))
    from .store.postgres import PostgresStore

    return PostgresStore(place["postgresql"], pool_size=1, migrate_schema=False)


def main() -> int:
    """The child: one request on stdin, its report on stdout."""
    request = json.load(sys.stdin)
    from .workers import die_with

    die_with(request["parent"])
    os.nice(NICENESS)
    store = _open(request)
    try:
        key = AuditKey(bytes.fromhex(request["key"])) if request["key"] else None
        report = verify_chain(store, request["chain"], key)
    finally:
        store.close()
    json.dump(asdict(report), sys.stdout)
    return 0


WALKS = Walks(walk=walk)
"""This process's walks (the server's `GET .../audit/verify`)."""


if __name__ == "__main__":
    sys.exit(main())
