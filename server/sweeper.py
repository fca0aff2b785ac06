"""The server's one background chore: purging expired trash (docs/API.md, "Trash").

One thread per serving process, whatever the number of sites: it purges once at start and then
every `interval` seconds, each time in one write. Several processes on one database may each run
one; `purge_expired` audits every entry once however many sweep together.
"""

from __future__ import annotations

import logging
import threading

from .context import utc_now
from .handlers.trash import purge_expired
from .store import Store, StoreError

log = logging.getLogger("sitesecrets.server")

SWEEP_SECONDS = 600.0
"""Trash is kept for whole days; ten minutes late is well within what `purge_at` promises."""


class TrashSweeper:
    """Start with `start()`; `stop()` before the store closes. `wake()` sweeps now (tests, operators)."""

    def __init__(self, store: Store, interval: float = SWEEP_SECONDS) -> None:
        self._store = store
        self._interval = interval
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="trash-sweeper", daemon=True)
        self.sweeps = 0
        """How many sweeps have finished (so a test can wait for the one it asked for)."""

    def start(self) -> "TrashSweeper":
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread.ident is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stopping:
            self._sweep()
            self._wake.wait(self._interval)
            self._wake.clear()

    def _sweep(self) -> None:
        try:
            purged = purge_expired(self._store, utc_now())
        except StoreError as error:  # the database is down or the store closing: try again next time
            log.error("purging expired trash failed: %s", error)
        except Exception as error:  # noqa: BLE001 - an audit failure (ApiError) or a bug must not end the chore
            log.error("purging expired trash failed unexpectedly (%s)", type(error).__name__)
        else:
            if purged:
                log.info("purged %d expired secret(s) from the trash", purged)
        self.sweeps += 1
