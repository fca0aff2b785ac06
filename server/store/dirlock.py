"""The lock that keeps `rotate-master-key` away from a serving SQLite data directory.

Every process that serves a data directory holds a shared `flock` on `DATA/server.lock` for its
life; a rotation takes it exclusively and without waiting, so it refuses while any server runs
(and a server refuses to start while a rotation runs). Shared for serving, because several
processes may legitimately serve one data directory at once (gunicorn workers, or replicas on
PostgreSQL that share the key's directory); exclusive for rotating, because a rotation changes
the key under every one of them.

`flock` rather than `fcntl` record locks: a record lock does not conflict with another lock of
the same process, so a server embedded in a process would not keep that process's own rotation
out. The kernel drops the lock when the holder dies, even by `kill -9`: no stale lock files.

`DATA/write.lock` (`WriteLock`) is the other lock here: serving SQLite stores take it exclusively
around each group commit, so the writers of several processes queue in the kernel instead of
polling in SQLite's busy handler.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from .base import LockHeld

LOCK_FILE = "server.lock"
WRITE_LOCK_FILE = "write.lock"


class DirLock:
    """A shared or exclusive lock on a directory's `server.lock`; `release()` (or exit) drops it."""

    def __init__(self, directory: Path, *, exclusive: bool) -> None:
        path = Path(directory) / LOCK_FILE
        self._fd = _open(path)
        try:
            fcntl.flock(self._fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except OSError as error:
            holders = _holders(self._fd)
            os.close(self._fd)
            if error.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise LockHeld(holders) from None
            raise

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = -1


class WriteLock:
    """The data directory's `write.lock`: held exclusively, waiting for it, around each commit of
    a serving SQLite store, so the writers of several processes (`serve --workers N`) take turns in
    the kernel's queue. Without it a writer that finds another process's write under way sleeps
    and retries in SQLite's busy handler, and a commit that could have followed at once waits a
    whole back-off step (a p99 of 836 ms with two processes on one data directory)."""

    def __init__(self, directory: Path) -> None:
        self._fd = _open(Path(directory) / WRITE_LOCK_FILE)

    def __enter__(self) -> "WriteLock":
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # blocks in the kernel (the GIL released), no polling
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _open(path: Path) -> int:
    # O_NOFOLLOW: a symlink planted in the data directory must not make us create or lock
    # another file; 0600 like everything else in the directory (the file holds nothing)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def _holders(fd: int) -> list[str]:
    """"pid N" for each process holding a flock on this file, as Linux lists them in /proc/locks
    (empty where there is no such file: the refusal then names no process)."""
    info = os.fstat(fd)
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open("/proc/locks") as table:
            lines = table.read().splitlines()
    except OSError:
        return []
    pids = []
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  READ 12409 fe:00:2146418 0 EOF" ("->" marks a waiter: not a holder)
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device and fields[4] not in pids:
            pids.append(fields[4])
    return [f"pid {pid}" for pid in pids]
