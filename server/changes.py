"""Waiting for a service's environment to change, for `GET .../env` with `If-None-Match` and
`Prefer: wait=N`, without the database being asked once per waiting request.

Every change that can alter a service's environment adds one to that service's counter
(`service_env_changes`), in the same transaction (migration 10's triggers): a change to a secret
its bindings name, to its bindings, or to its app's `site_secrets`. Nothing else in the site moves
it, so a change wakes only the waits whose environment it may alter. A waiting request reads the
counter in the snapshot it computed its ETag from, then waits here until the hub has seen a larger
one (a service deleted, or its site, counts as infinitely many). One thread per process, and only
while some request waits, reads the counters of the services waited on: at once when this process
has answered a write (`poke`), and every `poll_seconds` otherwise, which is how a change made by
another worker or replica is seen.
"""

from __future__ import annotations

import logging
import threading
import time

from .store import Store, StoreError

log = logging.getLogger("sitesecrets.server")

POLL_SECONDS = 1.0
"""How often the counters are read while requests wait: the delay before a change made by
another process (worker or replica) reaches the requests waiting in this one."""
GONE = 1 << 62
"""The counter a service that no longer exists is taken to have: its waiters wake and find out."""


class ChangeHub:
    """The per-process rendezvous of waiting environment fetches and the changes that end them."""

    def __init__(self, store: Store, poll_seconds: float = POLL_SECONDS) -> None:
        self._store = store
        self._poll = poll_seconds
        self._lock = threading.Lock()
        self._services: dict[int, threading.Condition] = {}  # one condition per service waited on
        self._waiters: dict[int, int] = {}
        self._known: dict[int, int] = {}  # the latest counter seen of each service waited on
        self._poke = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._woken = 0

    def wait(self, service_id: int, seen: int, deadline: float) -> bool:
        """Block until the service's counter passes `seen` (True), or until `deadline` (a
        `time.monotonic()` moment) or `close()` (False)."""
        with self._lock:
            if self._closed:
                return False
            condition = self._services.setdefault(service_id, threading.Condition(self._lock))
            self._waiters[service_id] = self._waiters.get(service_id, 0) + 1
            self._known[service_id] = max(self._known.get(service_id, seen), seen)  # the caller's read is a fact too
            self._start(first=len(self._waiters) == 1 and self._waiters[service_id] == 1)
            try:
                while not self._closed and self._known[service_id] <= seen:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    condition.wait(left)
                if self._closed:
                    return False
                self._woken += 1
                return True
            finally:
                self._forget(service_id)

    def poke(self) -> None:
        """Something may have changed in this process: read the counters now, if anyone waits."""
        if self._waiters:
            self._poke.set()

    def close(self) -> None:
        """End every wait (each returns False) and refuse new ones: the server is shutting down."""
        with self._lock:
            self._closed = True
            for condition in self._services.values():
                condition.notify_all()
        self._poke.set()

    @property
    def woken(self) -> int:
        """How many waits a change has ended so far (a shutdown's are not counted)."""
        with self._lock:
            return self._woken

    @property
    def waiting(self) -> int:
        with self._lock:
            return sum(self._waiters.values())

    def _forget(self, service_id: int) -> None:
        self._waiters[service_id] -= 1
        if not self._waiters[service_id]:
            del self._waiters[service_id], self._known[service_id], self._services[service_id]

    def _start(self, first: bool) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="env-changes", daemon=True)
            self._thread.start()
        elif first:
            self._poke.set()  # the thread sleeps without a timeout while no one waits: start its polls

    def _watch(self) -> None:
        while not self._closed:
            # no waiters: sleep until the next one pokes (a waiter's `_start` found this thread running)
            self._poke.wait(self._poll if self._waiters else None)
            self._poke.clear()
            with self._lock:
                services = list(self._waiters)
            if services:
                self._refresh(services)

    def _refresh(self, services: list[int]) -> None:
        try:
            counters = self._store.read(lambda tx: tx.env_changes(services))
        except StoreError as error:  # the next poll tries again; waiters time out meanwhile
            log.error("reading the environment change counters failed: %s", error)
            return
        with self._lock:
            for service_id in services:
                if service_id not in self._known:
                    continue
                counter = counters.get(service_id, GONE)
                if counter > self._known[service_id]:
                    self._known[service_id] = counter
                    self._services[service_id].notify_all()
