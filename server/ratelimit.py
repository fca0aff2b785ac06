"""Slowing down token guessing: after too many bad tokens from one address, that address waits.
The same limiter, keyed by token id and by site, throttles a token (or a site) whose denials wrote
too many events (`denialbudget.py`).

Kept in this process's memory: with several replicas, or the workers of `serve --workers N`, each
counts its own failures, so a guesser gets at most `threshold` tries per window per process, still
far too few to guess a 256-bit token; at most, also when it sends them at once (`take`).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import NamedTuple


SWEEP_AT = 10_000
"""Addresses remembered before the quiet ones (no failure for a window) are forgotten."""
MAX_ADDRESSES = 100_000
"""The most addresses remembered at once: past it, those not being throttled are dropped first."""


class Taken(NamedTuple):
    """What `FailureLimiter.take` got: `wait` None for a place (else the seconds to wait, as
    `retry_after`), and whether that place was the last, the one that starts the wait."""

    wait: int | None
    last: bool


class FailureLimiter:
    def __init__(self, threshold: int = 20, window_seconds: float = 60.0, clock=time.monotonic,
                 sweep_at: int = SWEEP_AT, max_addresses: int = MAX_ADDRESSES) -> None:
        self.threshold, self.window = threshold, window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._sweep_at, self._max = sweep_at, max_addresses
        self._next_sweep = sweep_at

    def retry_after(self, address: str) -> int | None:
        """Seconds `address` must wait before its next try, or None when it may try now.

        Exact, rounded up: the moment the wait ends is the moment enough failures have left the
        window that fewer than `threshold` remain (a failure leaves it exactly `window` seconds on).
        """
        with self._lock:
            return self._wait(self._recent(address))

    def take(self, address: str) -> Taken:
        """Take a place in `address`'s budget if one is left (counted as a failure). One step under
        the lock, where checking (`retry_after`) and then counting (`record_failure`) would let
        threads at once all find the room one of them leaves: however many take at once, no more
        than `threshold` get a place in a window."""
        with self._lock:
            recent = self._recent(address)
            wait = self._wait(recent)
            if wait is None:
                self._count(recent)
            return Taken(wait, wait is None and len(recent) == self.threshold)

    def give_back(self, address: str) -> None:
        """Undo `address`'s latest failure (a place taken for what was not done after all)."""
        with self._lock:
            recent = self._failures.get(address)
            if recent:
                recent.pop()

    def record_failure(self, address: str) -> bool:
        """Count a bad token; True when this failure is the one that starts the wait."""
        with self._lock:
            recent = self._recent(address)
            self._count(recent)
            return len(recent) == self.threshold

    def __len__(self) -> int:
        """How many addresses it remembers failures of (the memory a spray of addresses costs)."""
        return len(self._failures)

    def _wait(self, recent: deque[float]) -> int | None:
        """Under the lock: the wait `recent` failures impose (None: fewer than `threshold`)."""
        if len(recent) < self.threshold:
            return None
        # failures recorded past `threshold` (`record_failure` does not refuse): wait for the surplus too
        ends = recent[len(recent) - self.threshold] + self.window
        return max(1, math.ceil(ends - self._clock()))

    def _count(self, recent: deque[float]) -> None:
        """Under the lock: one more failure in `recent`."""
        recent.append(self._clock())
        if len(self._failures) > self._next_sweep:  # bound the memory a spray of addresses can take
            self._sweep()

    def _recent(self, address: str) -> deque[float]:
        recent = self._failures.setdefault(address, deque())
        horizon = self._clock() - self.window
        while recent and recent[0] <= horizon:
            recent.popleft()
        return recent

    def _sweep(self) -> None:
        """Forget quiet addresses; past `max_addresses`, also the oldest not being throttled.

        The next sweep waits until the table has doubled, so a spray of addresses costs each bad
        token amortised O(1) instead of a walk of the whole table under the lock. A throttled
        address is never dropped for room: a spray must not free a real guesser.
        """
        horizon = self._clock() - self.window
        for address in [a for a, r in self._failures.items() if not r or r[-1] <= horizon]:
            del self._failures[address]
        if len(self._failures) > self._max:
            excess = len(self._failures) - self._max
            # oldest first: a dict keeps the order addresses first failed in
            for address in [a for a, r in self._failures.items() if len(r) < self.threshold][:excess]:
                del self._failures[address]
        self._next_sweep = max(self._sweep_at, 2 * len(self._failures))
