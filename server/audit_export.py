"""Getting the audit log out of the database: `audit export` (JSON lines, resumable by id) and the
file sink of `serve --audit-file PATH`.

Each line is one event exactly as the API's `AuditEvent` serialises it. An export is resumed by
passing the last id it wrote as `--since`.

The sink appends every committed event to a 0600 file for a log shipper. It follows the log rather
than hooking the commit: a thread reads each chain past the chain's mark (`exported_id`), appends,
syncs the file, and only then moves the mark. Within a chain ids are in commit order on both
backends (the chain's head is locked until commit), so following marks per chain misses nothing.
If the file cannot be written (disk full, permissions), the events stay in the database, the
server keeps serving and logs the failure, and the sink retries; retention removes nothing past
the mark, so nothing is lost. A crash between the append and the mark's move repeats those lines
at the next start: the file is at least once, and ids tell repeats apart. One process writes a
file at a time: it holds a `flock` on `PATH.lock` (a file that logrotate does not move, unlike the
log, so a worker that opens the new log first cannot write beside one still writing the old); a
logrotate that moves the file away, or SIGHUP, makes the sink open the path again.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from pathlib import Path
from typing import IO, Callable

from shared import models

from . import files
from .store import Store

log = logging.getLogger("sitesecrets.server")

EXPORT_PAGE = 2000
SINK_SECONDS = 0.5


def event_line(row: dict) -> str:
    return models.AuditEvent(**row).model_dump_json() + "\n"


def export_events(store: Store, out: IO[str], since_id: int, chain: str | None = None,
                  max_events: int | None = None) -> tuple[int, int]:
    """Write every event after `since_id` (of one chain, or all; at most about `max_events`) to
    `out` as JSON lines, oldest first; returns (events written, the last id written, or `since_id`)."""
    count, after = 0, since_id
    while max_events is None or count < max_events:
        page = store.read(lambda tx: tx.export_page(after, chain, EXPORT_PAGE))
        if not page:
            return count, after
        out.write("".join(event_line(row) for row in page))
        count += len(page)
        after = page[-1]["id"]
    return count, after


def check_audit_file(path: os.PathLike, data_dir: os.PathLike | None) -> None:
    """Refuse an --audit-file the sink must not append to: one of the data directory's own files
    (`DATA/master.key` would no longer read as a key, `DATA/secrets.db` would be written past its
    end), or an existing file that holds something other than audit events (`/etc/passwd`, made
    0600 too). A new file, an empty one (logrotate's) and one whose first line is an event are taken."""
    from .config import DB_FILE
    from .datadir import DataDirError
    from .keys import KEY_FILE, NEW_KEY_FILE
    from .store.dirlock import LOCK_FILE, WRITE_LOCK_FILE

    path = Path(path)
    if data_dir is not None:
        own = [KEY_FILE, NEW_KEY_FILE, DB_FILE, *(DB_FILE + end for end in ("-wal", "-shm", "-journal")),
               LOCK_FILE, WRITE_LOCK_FILE]
        for name in own:
            mine = Path(data_dir) / name
            if path.resolve() == mine.resolve() or (path.exists() and mine.exists() and path.samefile(mine)):
                raise DataDirError(f"--audit-file {path} is the data directory's {name}; choose a file of its own")
    try:
        with open(path, "rb") as existing:
            first = existing.readline(65536)
    except FileNotFoundError:
        return
    except OSError as error:
        raise DataDirError(f"cannot read --audit-file {path} ({error.strerror or error})") from None
    if not first:
        return
    try:
        event = json.loads(first)
    except ValueError:
        event = None
    if not (isinstance(event, dict) and "id" in event and "action" in event):
        raise DataDirError(f"--audit-file {path} holds something other than audit events; choose a new file")


class FileSink:
    """Appends committed events to `path`; `start()`, then `stop()` before the store closes.
    `reopen()` (SIGHUP) makes it open the path again before its next write; `wake()` writes now."""

    def __init__(self, store: Store, path: os.PathLike, interval: float = SINK_SECONDS) -> None:
        self._store = store
        self.path = path
        self._interval = interval
        self._fd: int | None = None
        self._lock: int | None = None
        self._reopen = False
        self._wake = threading.Event()
        self._stopping = False
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="audit-sink", daemon=True)
        self.rounds = 0
        """Finished rounds (so a test can wait for one)."""
        self.written = 0

    def start(self) -> "FileSink":
        self._thread.start()
        return self

    def reopen(self) -> None:
        self._reopen = True
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread.ident is not None:
            self._thread.join()
        self._close()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _run(self) -> None:
        while not self._stopping:
            self._round()
            self._wake.wait(self._interval)
            self._wake.clear()
        self._round()  # what was committed before the stop

    def _round(self) -> None:
        try:
            if self._open():
                self.written += self._drain()
            if self._failing:
                log.info("the audit file %s is being written again", self.path)
            self._failing = False
        except OSError as error:
            if not self._failing:  # once per failure, not once a round
                log.error("cannot write the audit file %s (%s); events stay in the database and are "
                          "written when it can be", self.path, error.strerror or error)
            self._failing = True
            self._close()
        except Exception as error:  # noqa: BLE001 - the database is down or a bug: try again next round
            log.error("the audit file sink failed (%s); retrying", type(error).__name__)
        self.rounds += 1

    def _open(self) -> bool:
        """Whether this process is the file's writer (it holds the lock), the file opened again if
        asked or moved."""
        if self._lock is None:
            lock = files.open_private_append(f"{os.fspath(self.path)}.lock")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another process (worker) writes it
                os.close(lock)
                return False
            self._lock = lock
        if self._fd is not None and (self._reopen or self._moved()):
            self._close()
        self._reopen = False
        if self._fd is None:
            self._fd = files.open_private_append(self.path)
        return True

    def _moved(self) -> bool:
        try:
            return os.stat(self.path).st_ino != os.fstat(self._fd).st_ino
        except FileNotFoundError:
            return True

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _drain(self) -> int:
        written = 0
        for chain, last_id, _, _, _, exported_id in self._store.read(lambda tx: tx.audit_chains()):
            while exported_id < last_id:
                page = self._store.read(lambda tx: tx.export_page(exported_id, chain, EXPORT_PAGE))
                if not page:
                    break
                _write_all(self._fd, "".join(event_line(row) for row in page).encode())
                os.fsync(self._fd)
                exported_id = page[-1]["id"]
                self._store.write(lambda tx: tx.set_exported(chain, exported_id))
                written += len(page)
        return written


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def on_sighup(sink: FileSink | None) -> Callable[[int, object], None]:
    return lambda signum, frame: sink.reopen() if sink else None
