"""A fork server for the command-line tests: `python -m tui.cli ARGS` as a real child process
without paying the interpreter's start and the imports each time.

`ForkServer.run(args, env, cwd, ...)` asks a `python` child of the test process (`zygote.py`),
which imported what the commands import (`WARM`) and then waits, to fork; the forked process takes
the request's stdin/stdout/stderr (passed as file descriptors), exactly the request's environment
(a variable absent from it is absent), its working directory and umask, and runs `tui.cli` as
`python -m` does, then exits with the status the interpreter would give. The caller reads real
pipes and gets the real exit status (`-N` for signal N, as subprocess reports it).

A fresh interpreter chooses its stdio encoding and more from the locale and `PYTHON*` variables,
so the zygote serves only requests whose such variables (`startup_key`) equal those it started
with; `run` returns None for any other, and the caller starts a real process.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

ZYGOTE = Path(__file__).with_name("zygote.py")
MODULE = "tui.cli"
WARM = ["tui.cli", "tui.run", "tui.watch", "tui.scripting", "tui.client", "tui.completion", "shared.models"]
"""What the commands import (`python -X importtime -m tui.cli ...`), imported once by the zygote;
not the TUI (Textual) nor `tui.crash` (rich), which the commands do not load."""

_STARTUP_NAMES = ("LANG", "LANGUAGE", "TZ")
_STARTUP_PREFIXES = ("LC_", "PYTHON", "OPENSSL_")


def startup_key(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The variables a fresh interpreter reads once as it starts (stdio encoding and errors, UTF-8
    mode, hash seed, warnings, buffering; the C library's time zone; OpenSSL's configuration, read
    as `ssl` is imported): a zygote child sees these as the zygote started, so the zygote serves
    only requests with the same ones."""
    return tuple(sorted((k, v) for k, v in env.items() if k in _STARTUP_NAMES or k.startswith(_STARTUP_PREFIXES)))


class ForkServerBroken(UserWarning):
    """The zygote failed; the tests go on with new interpreters, slower."""


class ForkServer:
    """One zygote, started on first use with the startup variables of that first request."""

    def __init__(self, cwd: Path, module: str = MODULE, warm: list[str] = WARM) -> None:
        self._cwd, self._module, self._warm = cwd, module, warm
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._ctl: socket.socket | None = None
        self._key: tuple | None = None
        self.broken: str | None = None
        """Why the zygote cannot serve (it failed to start or died): every call then returns None."""

    def run(self, args: list[str], env: dict[str, str], cwd: Path, input: bytes | None,
            timeout: float) -> subprocess.CompletedProcess | None:
        """`python -m MODULE ARGS` forked from the zygote: the CompletedProcess (bytes), or None
        when the zygote cannot take the request (other startup variables, zygote gone), nothing
        having been started; raises subprocess.TimeoutExpired after killing the child, and
        RuntimeError when the zygote goes away while the child runs."""
        ctl = self._ready(startup_key(env))
        if ctl is None:
            return None
        stdin_r, stdin_w = os.pipe() if input is not None else (os.open(os.devnull, os.O_RDONLY), None)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        reply, reply_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours = [fd for fd in (stdin_w, out_r, err_r) if fd is not None]
        request = json.dumps({"argv": args, "env": env, "cwd": str(cwd), "umask": _current_umask()}).encode()
        try:
            socket.send_fds(ctl, [request], [stdin_r, out_w, err_w, reply_theirs.fileno()])
            sent = True
        except OSError as error:
            self._break(f"the zygote took no request: {error!r}")
            sent = False
        for fd in (stdin_r, out_w, err_w):  # the child has its copies: EOF comes when it (and its children) exit
            os.close(fd)
        reply_theirs.close()
        with reply:
            try:
                pidfd = self._started(reply, cwd) if sent else None
            except BaseException:
                pidfd = None
                raise
            finally:
                if pidfd is None:
                    for fd in ours:
                        os.close(fd)
            if pidfd is None:
                return None
            try:
                return _communicate([sys.executable, "-m", self._module, *args], reply, pidfd, input, stdin_w,
                                    out_r, err_r, timeout)
            finally:
                os.close(pidfd)

    def _ready(self, key: tuple) -> socket.socket | None:
        with self._lock:
            if self.broken is None and self._proc is None:
                self._start(key)
            if self.broken is not None or key != self._key:
                return None
            if self._proc.poll() is not None:
                self._break(f"the zygote exited with status {self._proc.returncode}")
                return None
            return self._ctl

    def _start(self, key: tuple) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._errors = tempfile.TemporaryFile()
        argv = [sys.executable, str(ZYGOTE), str(theirs.fileno()), self._module, *self._warm]
        self._proc = subprocess.Popen(argv, cwd=self._cwd, env=dict(key),
                                      pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=self._errors)
        theirs.close()
        self._ctl, self._key = ours, key
        ours.settimeout(120)  # the imports, on a loaded machine
        try:
            ready = ours.recv(64)
        except OSError as error:
            ready = repr(error).encode()
        ours.settimeout(None)
        if ready != b"ready":
            self._errors.seek(0)
            self._break(f"the zygote did not start ({ready!r}): {self._errors.read().decode(errors='replace')}")

    def stop(self) -> None:
        """End the zygote (its end of the socket closes, and it exits) and wait for it."""
        with self._lock:
            if self._proc is not None:
                self._ctl.close()
                try:
                    self._proc.wait(30)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
                self._errors.close()
                self._proc = None
                self.broken = "stopped"

    def _started(self, reply: socket.socket, cwd: Path) -> int | None:
        """The child's pidfd, or None when the zygote answered nothing (then it is broken)."""
        try:
            message, fds, _, _ = socket.recv_fds(reply, 65536, 1)
        except OSError as error:
            message, fds = repr(error).encode(), []
        if message.startswith(b"pid ") and len(fds) == 1:
            return fds[0]
        for fd in fds:
            os.close(fd)
        if message.startswith(b"setup-failed "):  # raised, not retried: the child may have begun
            raise RuntimeError(f"the zygote's child could not take the request: {message.decode(errors='replace')}")
        if message.startswith(b"error FileNotFoundError"):
            raise FileNotFoundError(f"no such directory: {cwd}")  # as subprocess raises for a missing cwd
        self._break(f"the zygote answered {message!r} to a request")
        return None

    def _break(self, reason: str) -> None:
        """From now on every request goes to a new interpreter, and the run's summary says why."""
        self.broken = reason
        warnings.warn(ForkServerBroken(f"forkserver: {reason}; starting each child as a new interpreter"))


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _communicate(argv: list[str], reply: socket.socket, pidfd: int, input: bytes | None, stdin_w: int | None,
                 out_r: int, err_r: int, timeout: float) -> subprocess.CompletedProcess:
    """Feed stdin, read stdout and stderr as they come (so no pipe fills up) and wait for the exit
    status, as `subprocess.run(..., capture_output=True)` does; closes the three descriptors."""
    deadline = time.monotonic() + timeout
    received: dict[int, list[bytes]] = {out_r: [], err_r: []}
    reading = {out_r, err_r}
    pending = memoryview(input or b"")
    status: int | None = None
    selector = selectors.DefaultSelector()
    try:
        for fd in (out_r, err_r, reply):
            selector.register(fd, selectors.EVENT_READ)
        if stdin_w is not None and pending:
            selector.register(stdin_w, selectors.EVENT_WRITE)
        elif stdin_w is not None:
            os.close(stdin_w)
            stdin_w = None
        while reading or status is None:
            left = deadline - time.monotonic()
            if left <= 0:
                if status is None:
                    _kill(pidfd)
                    status = _status(reply, 30)  # reaped: its pid is free only now
                raise subprocess.TimeoutExpired(argv, timeout, b"".join(received[out_r]), b"".join(received[err_r]))
            for key, _ in selector.select(left):
                if key.fileobj is reply:
                    status = _status(reply, 0)
                    selector.unregister(reply)
                elif key.fd == stdin_w:
                    pending = _write_some(stdin_w, pending)
                    if not pending:
                        selector.unregister(stdin_w)
                        os.close(stdin_w)
                        stdin_w = None
                else:
                    data = os.read(key.fd, 65536)
                    received[key.fd].append(data)
                    if not data:
                        selector.unregister(key.fd)
                        reading.discard(key.fd)
    except BaseException:
        if status is None:  # the zygote gone, or the test interrupted: as subprocess.run, kill the child
            _kill(pidfd)
        raise
    finally:
        selector.close()
        for fd in (stdin_w, out_r, err_r):
            if fd is not None:
                os.close(fd)
    return subprocess.CompletedProcess(argv, status, b"".join(received[out_r]), b"".join(received[err_r]))


def _write_some(fd: int, pending: memoryview) -> memoryview:
    """What is left of `pending` once the pipe took what it could; nothing if the reader has gone
    (the child did not read it all: no error, as with subprocess)."""
    try:
        return pending[os.write(fd, pending[:65536]):]
    except BrokenPipeError:
        return pending[:0]


def _kill(pidfd: int) -> None:
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it has ended on its own


def _status(reply: socket.socket, timeout: float) -> int:
    """The child's exit status from the zygote's `status N`; RuntimeError if the zygote went away."""
    reply.settimeout(timeout or None)
    try:
        message = reply.recv(65536)
    finally:
        reply.settimeout(None)
    if message.startswith(b"setup-failed "):
        raise RuntimeError(f"the zygote's child could not take the request: {message.decode(errors='replace')}")
    if not message.startswith(b"status "):
        raise RuntimeError(f"the zygote went away while its child ran (it answered {message!r}); the "
                           "command's exit status is unknown")
    return int(message.split()[1])
