"""Reading a child's pseudo-terminal until the child closes it: one loop for the command-line and
the TUI pty tests, each keeping what it reads in its own way."""

from __future__ import annotations

import os
import threading
from typing import Callable


def read_until_closed(master: int, take: Callable[[bytes], None]) -> None:
    """Hand every chunk read from `master` to `take` until the child's side is closed (EIO or EOF)."""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its side
            return
        if not chunk:
            return
        take(chunk)


def start_reader(master: int, take: Callable[[bytes], None], finished: Callable[[], None] = lambda: None) -> threading.Thread:
    """A daemon thread running `read_until_closed(master, take)`, then `finished()` however it ended."""

    def run() -> None:
        try:
            read_until_closed(master, take)
        finally:
            finished()

    reader = threading.Thread(target=run, daemon=True)
    reader.start()
    return reader
