"""Slowing down token guessing: after too many bad tokens from one address, that address waits.

Kept in this process's memory: with several replicas each counts its own failures, so a guesser
gets at most `threshold` tries per window per replica, still far too few to guess a 256-bit token.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class FailureLimiter:
    def __init__(self, threshold: int = 20, window_seconds: float = 60.0, clock=time.monotonic) -> None:
        self.threshold, self.window = threshold, window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """Seconds `address` must wait before its next try, or None when it may try now."""
        with self._lock:
            recent = self._recent(address)
            if len(recent) < self.threshold:
                return None
            return max(1, int(recent[0] + self.window - self._clock()) + 1)

    def record_failure(self, address: str) -> bool:
        """Count a bad token; True when this failure is the one that starts the wait."""
        with self._lock:
            recent = self._recent(address)
            recent.append(self._clock())
            if len(self._failures) > 10_000:  # bound the memory a spray of addresses can take
                self._forget_quiet()
            return len(recent) == self.threshold

    def _recent(self, address: str) -> deque[float]:
        recent = self._failures.setdefault(address, deque())
        horizon = self._clock() - self.window
        while recent and recent[0] <= horizon:
            recent.popleft()
        return recent

    def _forget_quiet(self) -> None:
        horizon = self._clock() - self.window
        for address in [a for a, r in self._failures.items() if not r or r[-1] <= horizon]:
            del self._failures[address]
