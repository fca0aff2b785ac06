"""A real `sitesecrets` command on a pseudo-terminal that is its controlling terminal, as at a shell.

`getpass` reads from `/dev/tty` with echo off, and ctrl+c there is the terminal's SIGINT to the
foreground process group: both need the pty to be the child's controlling terminal (TIOCSCTTY in
a new session), which a plain pipe or an inherited pty cannot give.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import termios
import threading
import time

from ptyread import start_reader

CEILING = 60.0
"""Seconds to wait for anything the child must do; generous for a busy 2-core machine."""


def _take_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # stdin is the pty's slave side; we are a session leader
    # as a shell starts a foreground command: a test run started in the background (`make test &`)
    # ignores SIGINT, the child would inherit that, and Python then installs no ctrl+c handler
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class PtyProcess:
    def __init__(self, argv: list[str], env: dict[str, str], cwd: str) -> None:
        master, slave = os.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                                     start_new_session=True, preexec_fn=_take_terminal, close_fds=True)
        os.close(slave)
        self._master = master
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._reader = start_reader(master, self._take)

    def _take(self, chunk: bytes) -> None:
        with self._lock:
            self._buffer += chunk

    @property
    def output(self) -> str:
        with self._lock:
            return self._buffer.decode("utf-8", errors="replace")

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + CEILING
        while text not in self.output:
            ended = self.proc.poll() is not None
            if ended:
                self._reader.join(timeout=CEILING)  # all it wrote is read once the reader stops
            if (ended or time.monotonic() > deadline) and text not in self.output:
                raise AssertionError(f"never saw {text!r}; the terminal shows {self.output!r}")
            time.sleep(0.02)

    def type(self, text: str) -> None:
        os.write(self._master, text.encode("utf-8"))

    def ctrl_c(self) -> None:
        self.type("\x03")  # the terminal turns it into SIGINT for the foreground process group

    def finish(self) -> int:
        """The exit status, once the child has ended and everything it wrote has been read."""
        status = self.proc.wait(timeout=CEILING)
        self._reader.join(timeout=CEILING)
        os.close(self._master)
        return status

    def after(self, text: str) -> str:
        """What the terminal showed after the first `text`."""
        output = self.output
        return output[output.index(text) + len(text):]
