"""The thread of `run --watch` that follows the service's environment: a waiting fetch
(`If-None-Match` + `Prefer: wait=60`) held open, one after another, each outcome put on the
supervisor's queue as an event (tui/watch.py reads them). Standard library only, as all of `run`.

- A changed environment: Changed.
- No answer, or a 429/5xx "not now": Unreachable, and the fetch is tried again after 1, 2, 4 ... 30
  seconds, or the server's `Retry-After` when it asks for longer (at most LONGEST_RETRY_AFTER);
  Reached once it answers again.
- A refusal (the token revoked or expired, the service deleted): Refused, once, and the server is
  asked again every REFUSED_RETRY seconds, or as soon as the token's file or stored login holds
  another token (TokenUnusable when what it holds cannot be used); Resumed once it answers again.
"""

from __future__ import annotations

import queue
import random
import time
from dataclasses import dataclass, replace

from tui.credentials import CredentialsError, TokenSource
from tui.envfetch import Refusal, RunError, Server, Unavailable, wait_for_change

WAIT_SECONDS = 60
"""How long one waiting fetch asks the server to hold it (the most the server grants)."""
FIRST_RETRY, LAST_RETRY = 1.0, 30.0
LONGEST_RETRY_AFTER = 300.0
"""The longest `Retry-After` (of a 429 or 503) the watch waits: a server asking for an hour must
not leave CMD unwatched for that long."""
REFUSED_RETRY = 300.0
"""Seconds between asks while the server refuses the watch: a revoked token or a deleted service
stays so until someone acts, and asking at an outage's rate would only load the server (and its
bad-token throttle) for as long as CMD runs. Vault Agent's auto-auth backs off to 5 minutes too."""
TOKEN_CHECK = 2.0
"""Seconds between reads of the token's file while the server refuses the token in use: a
rotated file resumes the watch within them, and a read of a small local file costs nothing."""


@dataclass(frozen=True)
class Changed:
    payload: dict


@dataclass(frozen=True)
class Unreachable:
    reason: str


class Reached:
    """The server answers again after an Unreachable."""


@dataclass(frozen=True)
class Refused:
    """The server refuses the watch: HTTP `status` (401, 403, 404); `renewed` when the token it
    refuses is one read again after an earlier refusal."""

    status: int
    renewed: bool = False


@dataclass(frozen=True)
class Resumed:
    """The server answers the watch again after a Refused, to `server` (with the token it took)."""

    server: Server


@dataclass(frozen=True)
class TokenUnusable:
    """What the token's place holds now cannot be used (a file mid-rotation, or readable by others)."""

    reason: str


sleep = time.sleep
"""How the watch waits between fetches. Tests put a function here that records the delay."""


class Backoff:
    """Delays of 1, 2, 4 ... 30 seconds, each drawn from its upper half, so that the functions
    of a host whose server restarts do not all come back in the same instant."""

    def __init__(self) -> None:
        self._tries = 0

    def next(self) -> float:
        ceiling = min(LAST_RETRY, FIRST_RETRY * 2 ** self._tries)
        self._tries = min(self._tries + 1, 16)
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self._tries = 0


def watch_changes(server: Server, etag: str, events: queue.SimpleQueue, source: TokenSource | None = None) -> None:
    """Hold a waiting fetch open, one after another, and put each changed environment on `events`.
    After a refusal, `source` is read again for another token to ask with."""
    backoff, failing, refused = Backoff(), False, None  # refused: (status, token) of the refusal that stands
    while True:
        asked = time.monotonic()
        wait = 0 if refused else WAIT_SECONDS  # after a refusal: at once, whether it still stands
        try:
            answer = wait_for_change(server, etag, wait)
        except Refusal as error:
            if (error.status, server.token) != refused:  # said once, and again for another token
                events.put(Refused(error.status, renewed=refused is not None and refused[1] != server.token))
            refused, failing = (error.status, server.token), False
            server = after_refusal(server, source, events)
            continue
        except RunError as error:
            failing = True
            events.put(Unreachable(str(error)))
            sleep(retry_delay(backoff, error))  # the retry delay itself, not a poll
            continue
        if refused:
            events.put(Resumed(server))
        elif failing:
            events.put(Reached())
        refused, failing = None, False
        if answer.status == 304:
            if not wait:
                continue
            if time.monotonic() - asked < WAIT_SECONDS / 2:
                # the server is shutting down (it ends waits at once) or something in between does
                # not hold requests: asking again at once would spin
                sleep(backoff.next())
            else:
                backoff.reset()
            continue
        backoff.reset()
        etag = answer.etag or etag
        events.put(Changed(answer.payload or {}))


def after_refusal(server: Server, source: TokenSource | None, events: queue.SimpleQueue) -> Server:
    """Wait REFUSED_RETRY seconds, or until `source` holds a token other than the refused one; the
    server to ask next (with that token)."""
    if source is None or source.read is None:
        sleep(REFUSED_RETRY)
        return server
    for _ in range(round(REFUSED_RETRY / TOKEN_CHECK)):
        sleep(TOKEN_CHECK)
        try:
            token = source.read()
        except CredentialsError as error:  # the sentence names the file, never what it holds
            events.put(TokenUnusable(str(error)))
            continue
        if token and token != server.token:
            return replace(server, token=token)
    return server


def retry_delay(backoff: Backoff, error: RunError) -> float:
    """The next delay, at least the server's `Retry-After` (a 429 or 503), up to LONGEST_RETRY_AFTER:
    coming back sooner than a busy server asked only adds to what keeps it busy."""
    asked = error.retry_after if isinstance(error, Unavailable) else None
    return max(backoff.next(), min(asked or 0.0, LONGEST_RETRY_AFTER))
