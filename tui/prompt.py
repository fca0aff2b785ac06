"""Questions at the terminal that always answer ctrl+c at once.

`input()` and `getpass()` miss a ctrl+c that lands between writing their prompt and blocking in
`read()`: CPython runs a signal's handler only when a system call is interrupted or between
bytecodes, and a signal that arrived just before the `read()` interrupts nothing, so the user is
left at a prompt that ignores ctrl+c (seen on a busy machine). Here the wait is a `select()` on the
terminal and on a wakeup pipe that the interpreter writes the signal's number to, so a ctrl+c
before or during the wait ends it, and the pending handler raises `KeyboardInterrupt`.
Standard library only: `sitesecrets run` may import it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import termios
from typing import Iterator


MAX_LINE_BYTES = 4095
"""The most of a line a terminal in canonical mode keeps (Linux: its 4096-byte buffer, less the
newline); what is typed or pasted past it is dropped without a sign, so a line this long may be cut."""


def ask(prompt: str, *, echo: bool = True) -> str:
    """One line typed at the controlling terminal, without its newline; with `echo` false the
    typing is not shown (as `getpass`). Raises `EOFError` on ctrl+d at an empty line and
    `KeyboardInterrupt` on ctrl+c."""
    fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    try:
        with _wakeup() as wake, _echo_off(fd, enabled=not echo):
            os.write(fd, prompt.encode("utf-8"))
            line = _read_line(fd, wake)
            if not echo:
                os.write(fd, b"\n")  # the user's Enter was not echoed
    finally:
        os.close(fd)
    return line


def _read_line(fd: int, wake: int) -> str:
    """A canonical-mode terminal hands over a whole line per read (or b"" for ctrl+d)."""
    while True:
        ready, _, _ = select.select([fd, wake], [], [])
        if wake in ready:
            os.read(wake, 512)
            continue  # the interpreter runs the signal's handler before the next select
        data = os.read(fd, 65536)
        if not data:
            raise EOFError
        return data.decode("utf-8", errors="replace").rstrip("\r\n")


@contextlib.contextmanager
def _wakeup() -> Iterator[int]:
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    try:
        yield read_end
    finally:
        signal.set_wakeup_fd(previous)
        os.close(read_end)
        os.close(write_end)


@contextlib.contextmanager
def _echo_off(fd: int, *, enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    saved = termios.tcgetattr(fd)
    quiet = list(saved)
    quiet[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSAFLUSH, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
