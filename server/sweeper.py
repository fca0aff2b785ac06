"""The server's background chores: purging expired trash (docs/API.md, "Trash"), removing tokens
a week after they expired, and removing audit events past their retention
(`audit_chain.apply_retention`).

One thread per serving process, whatever the number of sites: it sweeps once at start and then
every `interval` seconds. Several processes on one database may each run one; `purge_expired`
audits every entry once however many sweep together, and retention's batches lock their chain.
"""

from __future__ import annotations

import logging
import threading

from shared.wording import plural

from .audit_chain import apply_retention
from .context import utc_now
from .handlers.tokens import remove_expired_tokens
from .handlers.trash import purge_expired
from .store import Store, StoreError

log = logging.getLogger("sitesecrets.server")

SWEEP_SECONDS = 600.0
"""Trash is kept for whole days; ten minutes late is well within what `purge_at` promises."""


class Sweeper:
    """Start with `start()`; `stop()` before the store closes. `wake()` sweeps now (tests, operators).

    `audit_retention_days`: the server's default retention (None: no retention pass at all);
    `exporting`: an export sink is configured, so no unexported event is removed."""

    def __init__(self, store: Store, interval: float = SWEEP_SECONDS, *, audit_retention_days: int | None = None,
                 exporting: bool = False) -> None:
        self._store = store
        self._interval = interval
        self._retention = audit_retention_days
        self._exporting = exporting
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="sweeper", daemon=True)
        self.sweeps = 0
        """How many sweeps have finished (so a test can wait for the one it asked for)."""
        self.retention = None
        """The last retention pass's `RetentionReport`."""

    def start(self) -> "Sweeper":
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
        self._chore("purging expired trash", lambda: purge_expired(self._store, utc_now()),
                    "purged %s from the trash", "expired secret")
        self._chore("removing expired tokens", lambda: remove_expired_tokens(self._store),
                    "removed %s past their expiry", "token")
        if self._retention is not None:
            self._chore("removing audit events past retention", self._apply_retention,
                        "removed %s past their retention", "audit event")
        self.sweeps += 1

    def _apply_retention(self) -> int:
        self.retention = apply_retention(self._store, self._retention, utc_now(), exporting=self._exporting)
        return self.retention.removed

    @staticmethod
    def _chore(what: str, work, done: str, counted: str) -> None:
        try:
            count = work()
        except StoreError as error:  # the database is down or the store closing: try again next time
            log.error("%s failed: %s", what, error)
        except Exception as error:  # noqa: BLE001 - an audit failure (ApiError) or a bug must not end the chore
            log.error("%s failed unexpectedly (%s)", what, type(error).__name__)
        else:
            if count:
                log.info(done, plural(count, counted))
