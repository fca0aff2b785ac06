"""The real `sitesecrets` process under a pseudo-terminal: keys in, every byte it writes out.

A pilot test sees what Textual meant to draw; this sees what reached the terminal, alternate-screen
exit and post-exit output included, which is what an attacker's escape sequence would have to
survive. `tests/tui/pty_app.py` is the child: `tui.cli.main`, optionally with a fault injected.

The bytes are also played into `pyte`, a terminal emulator, so a test can wait for what the screen
shows (`wait_for_screen`, `wait_until_gone`): a key that must change the screen is followed by a
wait for that change, never by a fixed pause.
"""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Callable

import pyte
from ptyread import start_reader

CHILD = Path(__file__).with_name("pty_app.py")
ROOT = Path(__file__).resolve().parents[2]

ALT_SCREEN_OFF = b"\x1b[?1049l"
TIMEOUT = 30.0
"""A ceiling for a busy 2-core machine: a wait ends as soon as its condition holds."""


class PtySession:
    """One child on a pty of `columns` x `rows`; `output` is everything it wrote so far."""

    def __init__(self, args: list[str], *, mode: str = "plain", columns: int = 100, rows: int = 30,
                 env: dict[str, str] | None = None, argv: list[str] | None = None):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        child_env = {key: value for key, value in os.environ.items()
                     if not key.startswith(("TEXTUAL", "SITESECRETS", "TMUX"))}
        child_env.update(TERM="xterm-256color", COLORTERM="truecolor", PYTHONPATH=str(ROOT), LANG="C.UTF-8")
        child_env.pop("NO_COLOR", None)
        child_env.update(env or {})
        command = argv or [sys.executable, str(CHILD), mode, *args]
        self.proc = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=child_env,
                                     cwd=ROOT, start_new_session=True, close_fds=True)
        os.close(slave)
        self._master = master
        self._buffer = bytearray()
        self._screen = pyte.Screen(columns, rows)
        self._stream = pyte.ByteStream(self._screen)
        self._changed = threading.Condition()
        self._reader = start_reader(master, self._take, finished=self._wake_waiters)

    def _take(self, chunk: bytes) -> None:
        with self._changed:
            self._buffer += chunk
            self._stream.feed(chunk)
            self._changed.notify_all()

    def _wake_waiters(self) -> None:
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> bytes:
        with self._changed:
            return bytes(self._buffer)

    @property
    def screen(self) -> str:
        """What the terminal shows now, one line per row."""
        with self._changed:
            return "\n".join(self._screen.display)

    def send(self, keys: bytes | str) -> None:
        os.write(self._master, keys.encode() if isinstance(keys, str) else keys)

    def escape(self, *, closes: str) -> None:
        """The escape key, then a wait until `closes` (text of what it closes) has left the screen.

        Textual reads an escape followed closely by a key as alt+key, so the next key may be sent
        only once this one has visibly done its work."""
        self.send(b"\x1b")
        self.wait_until_gone(closes)

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
        """Block until `condition()` holds, re-checking whenever output arrives; fail after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._reader.is_alive():
                    break
                self._changed.wait(remaining)
            else:
                return
            if condition():
                return
            raise AssertionError(f"{what}; exit {self.proc.poll()}; screen:\n"
                                 + "\n".join(self._screen.display) + f"\nlast output {bytes(self._buffer[-1500:])!r}")

    def wait_for(self, marker: bytes, timeout: float = TIMEOUT, after: int = 0) -> int:
        """Wait until `marker` appears in the output past offset `after`; its position."""
        self.wait(lambda: self._buffer.find(marker, after) >= 0, f"{marker!r} never appeared", timeout)
        return self._buffer.find(marker, after)

    def wait_for_screen(self, text: str, timeout: float = TIMEOUT) -> None:
        """Wait until the screen shows `text` (on one row)."""
        self.wait(lambda: any(text in row for row in self._screen.display), f"{text!r} never shown", timeout)

    def wait_until_gone(self, text: str, timeout: float = TIMEOUT) -> None:
        """Wait until no row of the screen shows `text`."""
        self.wait(lambda: not any(text in row for row in self._screen.display), f"{text!r} stayed", timeout)

    def wait_loaded(self, row: str, timeout: float = TIMEOUT) -> None:
        """Wait until the Secrets table shows `row` and has the keys (its footer says "r Refresh")."""
        self.wait_for_screen(row, timeout)
        self.wait_for_screen("r Refresh", timeout)

    def finish(self, timeout: float = TIMEOUT) -> int:
        """Wait for the child to exit and its output to drain; its exit status."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(timeout=5)
        os.close(self._master)
        return code

    def __enter__(self) -> "PtySession":
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        try:
            os.close(self._master)
        except OSError:
            pass
