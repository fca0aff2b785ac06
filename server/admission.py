"""The fair admission gate: each site's share of a server process's request handling.

Every tenant of a shared host connects from the same address (or as the same user), so neither
the bad-token throttle nor the connection share can tell one tenant's flood of *allowed* requests
from everyone's traffic, and with a thread per connection a site sending back to back on 16
connections gets 16 turns at the interpreter and at the group commit to another site's one. So
once a request's token is known (and so its site), its handler runs only while it holds one of
the process's `SLOTS` places. A site sending alone is not held back at all (as many of its
requests are handled at once as it sends); while several sites hold or wait for places (or held
one within `LINGER_SECONDS`), each holds at most its share (`SLOTS` divided by their number, rounded
up; together never more than `SLOTS`), and
a freed place goes to the sites with requests waiting in turn (round robin), however many each
has queued.

A place is held through the request's durable commit: the commit's wait is most of a request's
time under load, so a gate that let requests go once their write was queued never filled, and
the flood's requests crowded the commits and the interpreter as before (bench row 11). A site
alone is not limited because the group commit's batching needs many requests under way: 4 at
once cost a single site at c=16 a fifth of its rate on a quiet machine (bench row 12). A request
that waits for a change (`Prefer: wait`) gives its place up for the wait (`step_aside`) and does
not queue again.

A wait is bounded: a site with `MAX_QUEUED` requests already waiting, or a request that waited
`MAX_WAIT_SECONDS`, is answered 429 `rate_limited` with `Retry-After`, never left hanging.
Requests of no site (the operator's tokens, public routes) never queue. Each process (each worker
of `serve --workers N`, each replica) has a gate of its own, as it has its own bad-token throttle.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

SLOTS = 4
"""Requests handled at once in one process, their commits included, while several sites send:
a site flooding then holds two places against another site's two (with eight it held four to the
other's two, and got three times its rate)."""
MAX_QUEUED = 64
"""Requests of one site that may wait for a place in one process (a quarter of the connection
cap, as a peer's share of connections is); the next is 429 at once."""
MAX_WAIT_SECONDS = 5.0
"""How long a request may wait for a place before it is answered 429 instead."""
LINGER_SECONDS = 0.05
"""How long a site that gave up its last place still counts as sending: a client sends its next
request a few milliseconds after the last answer, and were the flood given that site's share in
between, the site would wait for a place at each request (bench row 11: the other site's rate
0.43 of the flood's without it, 0.70 with it)."""
RETRY_AFTER_SECONDS = 1
"""What a refused request is told to wait: a site's queue drains within about that at its share."""


class Busy(Exception):
    """This request's site has more waiting than its share allows: answer 429 with `retry_after`.
    Nothing was done for the request."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class Gate:
    """`slots` places, each site with requests under way held to its share of them, handed out
    round robin across the sites that have requests waiting."""

    def __init__(self, slots: int = SLOTS, *, max_queued: int = MAX_QUEUED, max_wait: float = MAX_WAIT_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.slots, self.max_queued, self.max_wait = slots, max_queued, max_wait
        self._clock = clock
        self._lock = threading.Lock()
        self._used: dict[str, int] = {}  # places held, by site (a site holding none is not listed)
        self._in_use = 0
        # each site with requests waiting, in the order its turn comes (a dict keeps insertion
        # order): the site whose turn it is goes to the back once served, with what it has left
        self._waiting: dict[str, deque[threading.Lock]] = {}
        self._held = threading.local()  # the site whose place this thread holds, if any
        self._recent: dict[str, float] = {}  # when each site last gave up its last place

    def enter(self, site: str | None) -> None:
        """Take a place for a request of `site`, waiting for one in the site's turn; raises `Busy`
        when its site already has `max_queued` waiting, or after `max_wait` seconds. A request of
        no site passes at once and holds nothing. Every `enter` is followed by a `leave`."""
        if site is None:
            return
        with self._lock:
            queue = self._waiting.get(site)
            if queue is None and self._may_take(site):
                self._take(site)
                self._held.site = site
                return
            if len(queue or ()) >= self.max_queued:
                raise Busy(RETRY_AFTER_SECONDS)
            if queue is None:
                queue = self._waiting[site] = deque()
            turn = threading.Lock()
            turn.acquire()
            queue.append(turn)
        self._wait_for(turn, site, queue)
        self._held.site = site

    def _wait_for(self, turn: threading.Lock, site: str, queue: deque[threading.Lock]) -> None:
        """Wait until `_hand_on` releases `turn`, with the place already this request's (so no
        race for it); `Busy` after `max_wait`. Every `LINGER_SECONDS` the shares are worked out
        again: a site that stopped sending stops counting then, and says so by no place it gives
        up, so without this the places it left would stay free while others wait."""
        deadline = time.monotonic() + self.max_wait
        while not turn.acquire(timeout=max(0.0, min(LINGER_SECONDS, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                if self._withdraw(site, queue, turn):
                    raise Busy(RETRY_AFTER_SECONDS)
                return  # handed a place just as its time ran out: it holds it
            with self._lock:
                self._hand_on()

    def leave(self) -> None:
        """Give up this thread's place, if it still holds one (a no-op after `step_aside`)."""
        site = getattr(self._held, "site", None)
        if site is not None:
            self._held.site = None
            with self._lock:
                left = self._used[site] - 1
                if left:
                    self._used[site] = left
                else:
                    del self._used[site]
                    self._recent[site] = self._clock()
                self._in_use -= 1
                self._hand_on()

    step_aside = leave
    """Called where a request stops working to wait for a change: its place goes to the next
    request now, and the request finishes without queueing again."""

    def waiting(self, site: str) -> int:
        """Requests of `site` waiting for a place now."""
        with self._lock:
            return len(self._waiting.get(site, ()))

    def held(self, site: str) -> int:
        """Places requests of `site` hold now."""
        with self._lock:
            return self._used.get(site, 0)

    def _may_take(self, site: str) -> bool:
        """Whether a request of `site` may take a place now (call with `_lock` held): always, while
        no other site sends; else while a place is free and the site holds less than its share.
        The share is rounded up: rounded down, three sites sending would hold one place each and
        leave the fourth free while their requests wait; rounded up, the extra place goes round
        with the others (`_hand_on` serves the sites in turn)."""
        active = self._used.keys() | self._waiting.keys() | self._lingering()
        sending = len(active) + (site not in active)
        if sending == 1:
            return True
        return self._in_use < self.slots and self._used.get(site, 0) < -(-self.slots // sending)

    def _lingering(self) -> set[str]:
        """Sites that held a place within `LINGER_SECONDS` (call with `_lock` held): between two
        requests on a connection a site holds nothing, and a flood must not take its share then."""
        now = self._clock()
        for site in [s for s, at in self._recent.items() if now - at > LINGER_SECONDS]:
            del self._recent[site]
        return self._recent.keys()

    def _take(self, site: str) -> None:
        self._used[site] = self._used.get(site, 0) + 1
        self._in_use += 1

    def _hand_on(self) -> None:
        """Freed places to the waiting sites in turn, each within its share (call with `_lock` held)."""
        handed = True
        while handed:  # a site's leaving may free more than one (the others' shares grow)
            handed = False
            for site in list(self._waiting):
                if not self._may_take(site):
                    continue  # at its share: its turn comes when one of its own places is given up
                queue = self._waiting.pop(site)
                self._take(site)
                queue.popleft().release()
                if queue:
                    self._waiting[site] = queue  # to the back of the round
                handed = True

    def _withdraw(self, site: str, queue: deque[threading.Lock], turn: threading.Lock) -> bool:
        """Take a request that waited too long out of its queue; False when it was handed a place
        in the meantime (then it holds it)."""
        with self._lock:
            try:
                queue.remove(turn)
            except ValueError:
                return False
            if not queue and self._waiting.get(site) is queue:
                del self._waiting[site]
                self._hand_on()  # one site fewer: the others' shares may have grown
            return True
