"""The request context: `State` (what a process holds for every request), `Call` (one request as
a handler sees it) and `utc_now`, the clock every stored time comes from.

It lives apart from `app.py` so that handlers and the offline tools (`datadir.py`) can name
these without importing the WSGI application, which imports the handlers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .admission import Gate
from .auth import Principal, TokenHasher
from .changes import ChangeHub
from .config import Settings
from .http import Request
from .keyring import Keyring
from .routing import Route
from .store import AuditRecord, Store
from .store.base import encode_details


def utc_now(offset_seconds: float = 0) -> str:
    # formatted by time.strftime, not datetime's: every request asks for the time two or three
    # times, and datetime's strftime with a timedelta cost ten times as much (8.7 us against
    # 0.8 us a call). The text of a second is kept (a few seconds' worth: a request asks for now
    # and for a moment a while ago), which halves a call's instructions. The moment still comes
    # from `datetime.now`, the clock tests freeze.
    second = int(datetime.now(timezone.utc).timestamp() + offset_seconds)
    text = _seconds.get(second)
    if text is None:
        if len(_seconds) >= 8:
            _seconds.clear()
        text = _seconds[second] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
    return text


_seconds: dict[int, str] = {}
"""The text of the seconds `utc_now` formatted lately (each entry set whole: threads share it)."""


@dataclass
class State:
    """What every handler may use: settings, the store and the keys. Built once per process."""

    settings: Settings
    store: Store
    keyring: Keyring
    tokens: TokenHasher
    changes: ChangeHub = field(init=False)
    """Where waiting environment fetches wait for a change (see `changes.py`)."""
    gate: Gate = field(init=False)
    """Each site's share of this process's request handling (see `admission.py`)."""

    def __post_init__(self) -> None:
        self.changes = ChangeHub(self.store)
        self.gate = Gate()


@dataclass
class Call:
    """One request as a handler sees it."""

    request: Request
    principal: Principal | None
    state: State
    route: Route
    now: str
    routes: tuple[Route, ...]
    """The whole table `route` was found in: what `/v1/openapi.json` describes."""

    @property
    def store(self) -> Store:
        return self.state.store

    def event(self, action: str, *, site: str | None, target: str | None = None,
              outcome: str = "ok", details: dict[str, Any] | None = None) -> AuditRecord:
        principal = self.principal  # positional: no keyword dicts built and unpacked per event
        return AuditRecord(self.now, action, outcome, encode_details(details), principal.name if principal else None,
                           principal.token_id if principal else None, site, target, self.request.remote_addr)
