"""Ending the App when its terminal goes away without a SIGHUP.

An SSH session that dies takes the pty's other end with it. Usually the kernel sends the
foreground process SIGHUP, which the App handles like `q`; but a process that is not the terminal's
session leader (started with setsid, nohup, or under a multiplexer that lost its client) gets no
signal, and Textual's input thread then spins on an input that reads end-of-file forever: a
detached TUI kept one core busy. A blocking `poll()` that asks for no events still reports a
hang-up, so one idle thread notices without costing anything while the terminal lives.
"""

from __future__ import annotations

import select
import threading
from collections.abc import Callable

GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL


def watch_for_hangup(fd: int, on_hangup: Callable[[], None]) -> threading.Thread:
    """Call `on_hangup()` from a daemon thread once the terminal on `fd` hangs up (at most once)."""

    def wait() -> None:
        poller = select.poll()
        poller.register(fd, 0)  # no events asked for: poll reports only hang-ups and errors
        while True:
            if any(mask & GONE for _fd, mask in poller.poll()):
                on_hangup()
                return

    thread = threading.Thread(target=wait, name="terminal-hangup", daemon=True)
    thread.start()
    return thread
