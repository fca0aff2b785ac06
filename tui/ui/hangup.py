"""Ending the App when its terminal goes away, with a SIGHUP or without one.

An SSH session that dies takes the pty's other end with it. Usually the kernel sends the
foreground process SIGHUP, which the App handles like `q`; but a process that is not the terminal's
session leader (started with setsid, nohup, or under a multiplexer that lost its client) gets no
signal, and Textual's input thread then spins on an input that reads end-of-file forever: a
detached TUI kept one core busy. A blocking `poll()` that asks for no events still reports a
hang-up, so one idle thread notices without costing anything while the terminal lives.

A process that is the terminal's foreground gets SIGCONT right after SIGHUP when the terminal is
hung up (as when sshd's side closes). Textual takes SIGCONT as "resumed after ctrl+z" and starts
its output again: on a hung-up terminal `isatty` is false, so it skips its check, and the new
writer thread dies on its first write; the App then waited for ever to hand it its last output,
and every dropped SSH session left a TUI behind. So a SIGCONT on a terminal that is gone resumes
nothing (`no_resume_after_hangup`).
"""

from __future__ import annotations

import select
import signal
import threading
from collections.abc import Callable

GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL


def hung_up(fd: int) -> bool:
    """Whether the terminal on `fd` has gone (asked without waiting)."""
    poller = select.poll()
    poller.register(fd, 0)
    return any(mask & GONE for _fd, mask in poller.poll(0))


def no_resume_after_hangup(fd: int) -> None:
    """Let the SIGCONT handler in place (Textual's) run only while the terminal on `fd` lives."""
    resume = signal.getsignal(signal.SIGCONT)
    if not callable(resume):
        return

    def resume_unless_hung_up(signum, frame) -> None:
        if not hung_up(fd):
            resume(signum, frame)

    signal.signal(signal.SIGCONT, resume_unless_hung_up)


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
