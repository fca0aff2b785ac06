"""Waiting for what must happen, never a fixed pause: a test polls its condition and fails with
what it waited for once a ceiling generous enough for a busy 2-core machine has passed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

CEILING = 60.0
T = TypeVar("T")


def wait_until(condition: Callable[[], T], what: str = "the condition", timeout: float = CEILING) -> T:
    """Return `condition()`'s first true value as soon as it has one; raise AssertionError naming
    `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
    return value
