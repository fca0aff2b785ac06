"""The real `sitesecrets` process under a pseudo-terminal: keys in, every byte it writes out.

A pilot test sees what Textual meant to draw; this sees what reached the terminal, alternate-screen
exit and post-exit output included, which is what an attacker's escape sequence would have to
survive. `tests/tui/pty_app.py` is the child: `tui.cli.main`, optionally with a fault injected.
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

CHILD = Path(__file__).with_name("pty_app.py")
ROOT = Path(__file__).resolve().parents[2]

ALT_SCREEN_OFF = b"\x1b[?1049l"


class PtySession:
    """One child on a pty of `columns` x `rows`; `output` is everything it wrote so far."""

    def __init__(self, args: list[str], *, mode: str = "plain", columns: int = 100, rows: int = 30):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = {key: value for key, value in os.environ.items() if not key.startswith(("TEXTUAL", "SITESECRETS"))}
        env.update(TERM="xterm-256color", COLORTERM="truecolor", PYTHONPATH=str(ROOT), LANG="C.UTF-8")
        env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen([sys.executable, str(CHILD), mode, *args], stdin=slave, stdout=slave,
                                     stderr=slave, env=env, cwd=ROOT, start_new_session=True, close_fds=True)
        os.close(slave)
        self._master = master
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO: the child closed its side
                return
            if not chunk:
                return
            with self._lock:
                self._buffer += chunk

    @property
    def output(self) -> bytes:
        with self._lock:
            return bytes(self._buffer)

    def send(self, keys: bytes | str) -> None:
        os.write(self._master, keys.encode() if isinstance(keys, str) else keys)

    def escape(self) -> None:
        """The escape key: alone, then a pause, so the next key is not read as alt+key."""
        self.send(b"\x1b")
        time.sleep(0.3)

    def wait_for(self, marker: bytes, timeout: float = 20.0, after: int = 0) -> int:
        """Wait until `marker` appears in the output past offset `after`; its position."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.output.find(marker, after)
            if found >= 0:
                return found
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        tail = self.output[-1500:]
        raise AssertionError(f"{marker!r} never appeared; exit {self.proc.poll()}; last output {tail!r}")

    def finish(self, timeout: float = 15.0) -> int:
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
