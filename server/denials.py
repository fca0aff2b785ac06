"""Denied attempts, coalesced: the first of a kind is audited at once, its repeats are counted.

A token refused the same thing over and over (a viewer's script retrying a reveal, a leaked
service token asking for another service's environment) would otherwise write one durable,
hash-chained event per try: a log and an fsync load that every tenant of the host shares, grown
without bound by any valid token. So a denial's *kind* is its event without its time (the same
token, action, site, target, method, path and role, from the same address) in the same lifetime
of its site:

- the first denial of a kind is written at once, durably, as any event (and before any repeat of
  it is answered), and opens a window of `window` seconds;
- a repeat inside the window is only counted (so is one after it while the first is still being
  written: it waits for that first's outcome, as every repeat does);
- when the window closes (on the flusher thread, or at the first denial of the kind after it)
  the count is written as one more event of that kind with `details.repeated` (how many),
  `details.first_at` and `details.last_at` (when the first and last of them came) and
  `details.window_seconds`; a window that saw no repeat writes nothing more;
- `close()` (a graceful shutdown) writes every count still open; a crash loses at most the
  counts of the windows open at that moment, never a window's first event.

Every event goes through `audit.record` in a store write, so the chain holds them as any other.
A site deleted (and its name perhaps taken again) while a window of it is open ends that window's
lifetime: a denial of the new site is a kind of its own, and the old window's count goes to the
log of no site (the operator's), never into the new site's (`Transaction.insert_audit`).
Each process (a `serve --workers` worker, a replica) coalesces its own denials. At most
`max_pending` kinds are counted at once: past that, a denial is written through as before, so a
flood of distinct kinds costs memory in proportion to the cap, not to the flood.

On PostgreSQL each first event is a transaction of its own (`store.write`), not grouped with the
audited reads (`store.record`) as SQLite's writer groups everything. Measured
(`python -m bench.denials_postgres`, 16 threads, each denial given its site's uid as a site-bound
token's is; 3 runs on 4 December 2026, load average 3-9 on a shared 2-core machine): grouping wins
only while many first denials of one site wait on its chain's head (314-405 against 1,023-2,191
events/s), which the budgets (`denialbudget.py`) allow for at most 100 events a minute per site
and process, under half a second of its own chain; spread over sites, a transaction each runs on
the pool's connections side by side and was faster (1,422-1,742 against 630-1,115 events/s), and
the recorder is shared with every tenant's environment fetches, which one tenant's denials would
then queue in front of. A repeat, only counted, costs about 2 µs with its site's uid given and
91-143 µs (p50) where it must read it (`_lifetime`: 0.17-0.43 ms a read, one thread).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Callable

from shared.wording import plural

from . import audit
from .context import utc_now
from .store import AuditRecord, Store
from .store.base import encode_details

log = logging.getLogger("sitesecrets.server")

WINDOW_SECONDS = 60
MAX_PENDING = 4096
"""Kinds counted at once in one process: about 0.5 KB each (2 MB in all), 4.6 KB for a target
naming a secret of the longest name a path may hold (19 MB at the very most)."""
RETRY_SECONDS = 5.0
"""How long the flusher waits before trying again to write counts the store refused."""
FLUSH_BATCH = 500
"""Counts written in one transaction by the flusher."""


Kind = tuple[AuditRecord, "str | None"]
"""A denial's kind: its event without its time (or the fewer fields its caller names), and the
lifetime (uid) of its site when it came, None for no site or one that does not exist."""


class _Window:
    """One kind's open window: its first event was (or is being) written; repeats are counted."""

    __slots__ = ("deadline", "count", "first_at", "last_at", "opened")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.count = 0
        self.first_at = self.last_at = ""
        self.opened: bool | None = None
        """Whether the first event was written: None while its write is under way."""

    def count_one(self, at: str) -> None:
        self.count += 1
        self.first_at = self.first_at or at
        self.last_at = at

    def absorb(self, other: "_Window") -> None:
        """Take over the unwritten count of an earlier window of the same kind."""
        if other.count:
            self.first_at = min(filter(None, (self.first_at, other.first_at)))
            self.last_at = max(self.last_at, other.last_at)
            self.count += other.count

    def summary(self, kind: AuditRecord, at: str, window: float) -> AuditRecord:
        """The event that writes this window's count: its kind's, at `at`."""
        details = {**json.loads(kind.details), "repeated": self.count, "first_at": self.first_at,
                   "last_at": self.last_at, "window_seconds": window}
        return kind._replace(at=at, details=encode_details(details))


class DenialLog:
    """Coalesces denied events (see the module's docstring). `deny(event)` from request threads,
    `close()` once no request is left; the flusher thread runs only while a window is open.

    `clock` gives the windows' time (monotonic seconds) and `background=False` starts no flusher,
    so that tests move time themselves and call `flush_due()`."""

    def __init__(self, store: Store, *, window: float = WINDOW_SECONDS, max_pending: int = MAX_PENDING,
                 clock: Callable[[], float] = time.monotonic, background: bool = True) -> None:
        self._store = store
        self.window, self.max_pending = window, max_pending
        self._clock = clock
        self._background = background
        self._lock = threading.Condition()
        # oldest window first: each lasts `window`, so this is also the order in which they close
        self._windows: OrderedDict[Kind, _Window] = OrderedDict()
        self._flusher: threading.Thread | None = None
        self._closed = False
        self._retry_at = 0.0

    def __len__(self) -> int:
        """How many kinds have a window open (the memory the log holds)."""
        return len(self._windows)

    def deny(self, event: AuditRecord, *, admit: Callable[[], bool] | None = None, kind: AuditRecord | None = None,
             site_uid: str | None = None) -> bool | None:
        """Audit a denied attempt: written durably (True: it opened a window, or the cap or a closed
        log wrote it through), or counted in its kind's open window (False), once that window's
        first event is durable. `admit`, when given, is asked (under the log's lock, so that no
        other denial of the kind comes between) whether a denial no open window counts may be
        written: if not, it is left alone (None), and the caller refuses it otherwise (the budgets,
        `denialbudget.Admission`). `kind`: what makes denials the same (the
        fields its count is written with), where that is less than the whole event; by default
        the event itself. `site_uid`: the uid of the event's site, where the caller knows it (the
        token's own site, read with the token: `TokenRow.site_uid`); else it is read here. Raises
        what `audit.record` raises when the event cannot be written; it is then not counted either."""
        key = ((event if kind is None else kind)._replace(at=""), site_uid or self._lifetime(event.site))
        with self._lock:
            # a window whose first is still being written counts its repeats even when its time is
            # up: taken over by a later first, its count would be written before that first (and,
            # should that first fail, its repeats counted twice: there and on their own)
            while (window := self._windows.get(key)) is not None and (window.opened is None or self._clock() < window.deadline):
                window.count_one(event.at)
                # a repeat is answered only once the first of its kind is durable
                self._lock.wait_for(lambda counted=window: counted.opened is not None)
                if window.opened:
                    return False
                # that first was not written, nor its window kept: look again (another repeat may
                # have opened the kind's window since), else this one comes first
            if admit is not None and not admit():
                return None
            earlier, window = self._open(key)
        events = [(event, key[1])]
        if earlier is not None and earlier.count:
            events.insert(0, (earlier.summary(key[0], event.at, self.window), key[1]))
        try:
            self._write(events)
        except BaseException:
            with self._lock:
                if window is not None:
                    if self._windows.get(key) is window:
                        del self._windows[key]  # its repeats, waiting on it, are written one by one
                    window.opened = False
                    self._lock.notify_all()
                if earlier is not None and earlier.count:
                    self._restore(key, earlier)
            raise
        if window is not None:
            with self._lock:
                window.opened = True
                self._lock.notify_all()
        return True

    def flush_due(self) -> int:
        """Write the counts of the windows that have closed; returns how many events that wrote.
        Raises what the store raises; the counts it could not write stay, to be written later."""
        now = self._clock()
        return self._flush(lambda window: window.deadline <= now)

    def close(self) -> None:
        """Write every count still open and write through from now on: call it once no request is
        left (a graceful shutdown), before the store closes."""
        with self._lock:
            self._closed = True
            flusher = self._flusher
            self._lock.notify_all()
        if flusher is not None:
            flusher.join()
        why = "a first event was still being written"
        try:
            self._flush(lambda window: True)
        except Exception as error:  # noqa: BLE001 - logged with what is lost; the shutdown goes on
            why = type(error).__name__
        lost = sum(window.count for window in self._windows.values())
        if lost:
            log.error("%s could not be audited at shutdown (%s)", plural(lost, "repeated denial"), why)

    def wake(self) -> None:
        """Have the flusher look at its clock again now (tests move a clock of their own)."""
        with self._lock:
            self._lock.notify_all()

    def _lifetime(self, site: str | None) -> str | None:
        """The uid of the site named `site` now (None: no site, or none of that name): one indexed
        read, so that a denial of a site made again under the same name is not counted as one of
        its predecessor's. Only a denial of a site not the token's own makes it (a token of no site
        that may not do something in one): a site-bound token's comes with the token."""
        return None if site is None else self._store.lookup(lambda tx: tx.chain_of(site))

    def _open(self, kind: Kind) -> tuple[_Window | None, _Window | None]:
        """Under the lock: the closed window of `kind` this request writes the count of (if any),
        and the window its own event opens (None when the log is closed or full: written through)."""
        earlier = self._windows.pop(kind, None)
        if self._closed or len(self._windows) >= self.max_pending:
            return earlier, None
        window = self._windows[kind] = _Window(self._clock() + self.window)
        self._start_flusher()
        return earlier, window

    def _restore(self, kind: Kind, window: _Window) -> None:
        """Under the lock: put back a closed window whose count could not be written, first in
        line to be written again (or into the window of its kind opened meanwhile)."""
        current = self._windows.get(kind)
        if current is not None:
            current.absorb(window)
            return
        self._windows[kind] = window
        self._windows.move_to_end(kind, last=False)
        self._start_flusher()

    def _flush(self, due: Callable[[_Window], bool]) -> int:
        written = 0
        while True:
            with self._lock:
                batch = []
                while self._windows and len(batch) < FLUSH_BATCH:
                    kind, window = next(iter(self._windows.items()))
                    if not (window.opened and due(window)):
                        break  # the windows behind it closed later still
                    del self._windows[kind]
                    if window.count:
                        batch.append((kind, window))
            if not batch:
                return written
            at = utc_now()
            try:
                self._write([(window.summary(kind[0], at, self.window), kind[1]) for kind, window in batch])
            except BaseException:
                with self._lock:
                    for kind, window in reversed(batch):
                        self._restore(kind, window)
                raise
            written += len(batch)

    def _write(self, events: list[tuple[AuditRecord, str | None]]) -> None:
        """Write each event of the lifetime (uid) it was counted in: one whose site's lifetime has
        ended since goes to the log of no site."""
        def write(tx) -> None:
            for event, lifetime in events:
                audit.record(tx, event, site_gone=event.site is not None and tx.chain_of(event.site) != lifetime)

        self._store.write(write)

    def _start_flusher(self) -> None:
        """Under the lock: a flusher, unless one runs (it ends when no window is left open)."""
        if self._background and self._flusher is None and not self._closed:
            self._flusher = threading.Thread(target=self._run, name="denials", daemon=True)
            self._flusher.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                while True:
                    if self._closed or not self._windows:
                        self._flusher = None
                        return
                    front = next(iter(self._windows.values()))
                    wait = max(front.deadline, self._retry_at) - self._clock()
                    if wait <= 0:
                        break
                    self._lock.wait(wait)
            try:
                self.flush_due()
            except Exception as error:  # noqa: BLE001 - the counts stay; tried again in a while
                log.error("repeated denials could not be audited yet (%s); trying again in %.0f s",
                          type(error).__name__, RETRY_SECONDS)
                self._retry_at = self._clock() + RETRY_SECONDS
            else:
                with self._lock:  # a front window still due is one whose first write is under way
                    front = next(iter(self._windows.values()), None)
                    stuck = front is not None and front.deadline <= self._clock()
                self._retry_at = self._clock() + RETRY_SECONDS if stuck else 0.0
