"""The PostgreSQL server lock, kept for as long as a server runs.

A session-level advisory lock lasts as long as its database session: a restart of PostgreSQL (a
minor upgrade, a crash), `pg_terminate_backend` or a network cut ends the session, and the lock with
it, while the server serves on. With the lock gone, `rotate-master-key` ran under three serving
replicas, each of which then answered 503 `master_key_changed` until restarted. So a server checks
its lock's connection every `CHECK_SECONDS` and, once that is gone, takes the lock again on a new
one, trying every `CHECK_SECONDS` while the database is away. (The key check in `keyring.py` still
guards the moments in between.)
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

import psycopg

from .base import StoreError

log = logging.getLogger("sitesecrets.server")

CHECK_SECONDS = 1.0


class KeptLock:
    """A lock that `take()` takes on a connection of its own, taken again whenever `alive(conn)`
    says that connection is gone; `close()` ends it."""

    def __init__(self, take: Callable[[], psycopg.Connection], alive: Callable[[psycopg.Connection], bool]) -> None:
        self._take = take
        self._alive = alive
        self._conn = take()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="server-lock", daemon=True)
        self._thread.start()

    def _keep(self) -> None:
        lost = False
        while not self._stop.wait(CHECK_SECONDS):
            if self._alive(self._conn):
                continue
            if not lost:
                log.warning("the database session holding the server lock ended; taking the lock again")
            self._conn.close()
            try:
                self._conn = self._take()
            except StoreError:  # the database still away (or a rotation holds the lock): the next round tries again
                lost = True
                continue
            lost = False

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._conn.close()
