"""Trying a request again while the server restarts: for how long, how often, and when it is safe.

Standard library only: `run` uses it on every start of a function. A request is tried again only
when the failure says "not now" (tui.exitstatus: no answer, or 429/502/503/504/507), never
sooner than the server's `Retry-After`, and only while the delays add up to no more than the
budget: `SITESECRETS_RETRY_SECONDS` (default 10, enough for a server's restart; 0 turns retrying
off). Whether a request may be sent twice is the caller's to judge (`safe_to_repeat`).
"""

from __future__ import annotations

import math
import os
import time

BUDGET_VAR = "SITESECRETS_RETRY_SECONDS"
DEFAULT_BUDGET = 10.0
"""A restart of the server (SIGTERM drains in-flight requests, then it starts again) takes a
second or two; a cron job or a deploy still learns of a server that stays down within seconds."""
FIRST_DELAY, LONGEST_DELAY = 0.5, 4.0

sleep = time.sleep
"""How a retry waits. Tests put a function here that restarts the server, rather than waiting."""


def budget_from_environment(environ: dict[str, str] | None = None) -> float:
    """`SITESECRETS_RETRY_SECONDS`, or the default; ValueError (one sentence) when it is not a
    number of seconds from 0 on."""
    text = (os.environ if environ is None else environ).get(BUDGET_VAR)
    if text is None or text.strip() == "":
        return DEFAULT_BUDGET
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"{BUDGET_VAR} is {text!r}, not a number of seconds (0 or more)")
    return seconds


def seconds_after(header: str | None) -> float | None:
    """A `Retry-After` of whole seconds (the form this server sends), else None (an HTTP date is
    left to the delays' own schedule)."""
    if header is None or not header.strip().isdigit():
        return None
    return float(header.strip())


def safe_to_repeat(method: str, *, sent: bool, code: str | None = None) -> bool:
    """Whether a request that failed for now may be sent again: a read (GET) always; any other
    only when it provably did nothing: it never left (no connection), or the server refused it
    before reading it (`server_busy`, or the bad-token throttle's 429)."""
    return method in ("GET", "HEAD") or not sent or code in ("server_busy", "rate_limited")


class Retrier:
    """The delays of one request's retries: 0.5, 1, 2, 4, 4 ... seconds, each drawn from its upper
    half (so the functions of a host whose server restarts do not all come back in one instant),
    at least the server's Retry-After, while their sum stays within `budget` seconds."""

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.spent = 0.0  # the delays slept (a wall clock would not bound a test's no-op sleep)
        self.deadline = time.monotonic() + budget  # nor would the delays alone bound slow tries
        self._tries = 0

    def wait(self, retry_after: float | None = None) -> bool:
        """Sleep before the next try and return True; False, without sleeping, once the budget
        would be passed (the Retry-After asked for included)."""
        import random  # only once a retry is due: every start of a function imports this module

        ceiling = min(LONGEST_DELAY, FIRST_DELAY * 2 ** self._tries)
        delay = max(random.uniform(ceiling / 2, ceiling), retry_after or 0.0)
        if self.spent + delay > self.budget or time.monotonic() + delay > self.deadline:
            return False
        self._tries += 1
        self.spent += delay
        sleep(delay)
        return True
