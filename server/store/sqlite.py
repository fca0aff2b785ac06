"""The SQLite backend: WAL, `synchronous=FULL`, and one writer thread that commits in groups.

Every write runs on one writer thread. It takes the queued writes, runs each in its own SAVEPOINT
inside one `BEGIN IMMEDIATE` transaction, and commits them together: one fsync carries a whole
group of requests (an audited read is a write, so this is what lets reads scale), a write that
fails is rolled back alone, and no caller hears "done" before the commit carrying its change is
durable. One writer also means limits are checked and applied with no other writer in between.
Reads use a small pool of connections, each read in its own snapshot.

Several processes may serve one data directory (`serve --workers N`), each with its own writer
thread. A store on a data directory (`take_turns`) takes `DATA/write.lock` exclusively around each group, from
`BEGIN IMMEDIATE` to `COMMIT`, so the writers take turns, waiting in the kernel: SQLite's busy
handler, which sleeps and retries, never runs between them, and "no other writer in between"
holds across processes as it does across threads. A writer waiting for its turn keeps collecting
its process's writes, so the group it then commits is larger, not later.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, TypeVar

from .audit_key import AuditKey
from .audit_tx import seal_group
from .base import Conflict, StorageFull, StoreError
from .dirlock import DirLock, WriteLock
from .grouping import Job, submit, take_group
from .migrations import MIGRATIONS, refuse_newer
from .sqlite_tx import SqliteTx

T = TypeVar("T")
_MAX_IDLE_READERS = 16


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")  # an acknowledged write survives a power cut
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")  # a deleted ciphertext is overwritten, not left in free pages
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


class SqliteReader:
    """Reads alone, on one connection opened read-only: for a process that only reads the data
    directory's database beside the server (a verify walk, `audit_walker`), with no writer thread,
    migration or write lock of its own."""

    def __init__(self, path: Path) -> None:
        try:
            self._conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=30)
        except sqlite3.Error as error:
            raise translate(error) from None

    def read(self, fn: Callable[[SqliteTx], T]) -> T:
        try:
            self._conn.execute("BEGIN")
            try:
                return fn(SqliteTx(self._conn))
            finally:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error as error:
            raise translate(error) from None

    def close(self) -> None:
        self._conn.close()


def leftover_logs(path: Path) -> str | None:
    """A sentence naming the -wal or -journal an earlier database left at `path`, or None. SQLite
    replays such a file into whatever database next appears at `path` (a restored backup, a copy):
    pages of another database mixed into it. It may hold that database's last commits, so it is
    for the operator to move away, never for us to delete."""
    found = [str(path) + end for end in ("-wal", "-journal") if os.path.lexists(str(path) + end)]
    if not found:
        return None
    return (f"{' and '.join(found)} {'is' if len(found) == 1 else 'are'} left from an earlier database and would be "
            f"replayed into the new one: move {'it' if len(found) == 1 else 'them'} away first")


def fold_wal(conn: sqlite3.Connection) -> None:
    """Checkpoint the WAL into the database file and stop using one, so the file alone is the whole
    database: what a file built elsewhere must be before it is linked into place."""
    if conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] != "delete":
        raise StoreError("the database is busy; its WAL could not be folded into it")


def translate(error: sqlite3.Error) -> StoreError:
    """Our own exception for a database failure; the message holds no row data."""
    if isinstance(error, sqlite3.IntegrityError) and "UNIQUE" in str(error):
        return Conflict("a row with that name exists")
    code = getattr(error, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL:
        return StorageFull("the database is full")
    return StoreError(f"database error ({type(error).__name__})")


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration this database lacks; returns the schema version."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    refuse_newer(applied)
    for migration in MIGRATIONS:
        if migration.version in applied:
            continue
        conn.executescript(
            f"BEGIN IMMEDIATE; {migration.sqlite}; "
            f"INSERT INTO schema_migrations VALUES ({migration.version}, '{migration.name}', strftime('%Y-%m-%dT%H:%M:%SZ')); COMMIT;"
        )
    return MIGRATIONS[-1].version


class SqliteStore:
    """A `Store` on one SQLite file. Call `close()` to stop the writer thread."""

    def __init__(self, path: Path, *, take_turns: bool = False) -> None:
        """`take_turns`: commit only while holding the directory's `write.lock` (see above); for
        the data directory's database, which other processes may be writing."""
        self.path = Path(path)
        self.audit_key: AuditKey | None = None
        """The audit key every write is given (see `Store.audit_key`)."""
        self._write_conn = connect(self.path)
        migrate(self._write_conn)
        self._idle: list[sqlite3.Connection] = []
        self._idle_lock = threading.Lock()
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._closed = False
        self._lock: DirLock | None = None
        self._write_lock = WriteLock(self.path.parent) if take_turns else None
        self._writer = threading.Thread(target=self._write_loop, name="sqlite-writer", daemon=True)
        self._writer.start()

    # ------------------------------------------------------------ reads

    def read(self, fn: Callable[[SqliteTx], T]) -> T:
        conn = self._acquire()
        try:
            conn.execute("BEGIN")
            try:
                return fn(SqliteTx(conn))
            finally:
                conn.execute("ROLLBACK")
        except sqlite3.Error as error:
            raise translate(error) from None
        finally:
            self._release(conn)

    def lookup(self, fn: Callable[[SqliteTx], T]) -> T:
        conn = self._acquire()  # in autocommit: the statement is its own read transaction
        try:
            return fn(SqliteTx(conn))
        except sqlite3.Error as error:
            raise translate(error) from None
        finally:
            self._release(conn)

    def read_env(self, fn: Callable[[SqliteTx], T]) -> T:
        return self.read(fn)  # `env_snapshot`'s two queries: fewer instructions in-process than one doing both

    def _acquire(self) -> sqlite3.Connection:
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
        return connect(self.path)

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._idle_lock:
            if len(self._idle) < _MAX_IDLE_READERS and not self._closed:
                self._idle.append(conn)
                return
        conn.close()

    # ------------------------------------------------------------ writes

    def write(self, fn: Callable[[SqliteTx], T]) -> T:
        if self._closed:
            raise StoreError("the store is closed")
        return submit(self._queue, fn)  # settled by the writer thread with the commit that carries it

    record = write  # every write here already shares its commit with the others queued

    def _write_loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            # the turn first, then the group: what queued while another process committed joins it
            with self._write_lock or nullcontext():
                self._commit_group(take_group(self._queue, job))

    def _commit_group(self, group: list[Job]) -> None:
        conn = self._write_conn
        wants_wipe = [False]
        try:
            conn.execute("BEGIN IMMEDIATE")
            if not self._run_all(conn, group, wants_wipe, self.audit_key):
                # one write refused: start over, each write in a savepoint so it fails alone
                if conn.in_transaction:  # (some errors, such as a full disk, already rolled back)
                    conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
                for job in group:
                    self._run_job(conn, job, wants_wipe, self.audit_key)
            conn.execute("COMMIT")
            if wants_wipe[0]:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failure = translate(error)
            for job in group:
                if job.error is None:
                    job.error = failure
                    job.result = None
        finally:
            for job in group:
                job.done.release()

    @staticmethod
    def _run_all(conn: sqlite3.Connection, group: list[Job], wants_wipe: list[bool], audit_key: AuditKey | None) -> bool:
        """The fast path: run the group's writes back to back, with no savepoint statements, their
        audit events held back and then written together (`seal_group`: each chain's head read and
        written once for the group, its events inserted by one statement).

        Returns False at the first write that raises, having run nothing after it, or if the
        events cannot be written; the caller then rolls back and replays the group one savepoint
        per write, each write's events written in its own savepoint, so the write whose event the
        log refuses fails alone, as `audit_unavailable`. The writes are functions of the database
        alone, so replaying them gives the same outcome, and the refusals that make this path fail
        (a limit, a conflict, a name taken) are rare next to plain writes.
        """
        txs = []
        together = len(group) > 1  # (one write's events gain nothing from being held back)
        for job in group:
            tx = SqliteTx(conn, wants_wipe)
            tx.audit_key, tx.defer_audit = audit_key, together
            try:
                job.result = job.fn(tx)
            except BaseException:
                job.result = None
                return False
            txs.append(tx)
        try:
            if together:
                seal_group(txs)
        except BaseException:
            for job in group:
                job.result = None
            return False
        return True

    @staticmethod
    def _run_job(conn: sqlite3.Connection, job: Job, wants_wipe: list[bool], audit_key: AuditKey | None) -> None:
        conn.execute("SAVEPOINT job")
        tx = SqliteTx(conn, wants_wipe)
        tx.audit_key = audit_key
        try:
            job.result = job.fn(tx)
        except sqlite3.Error as error:
            job.error = translate(error)
        except BaseException as error:  # the caller's own refusal: undo its writes, keep the group's
            job.error = error
        if job.error is None:
            conn.execute("RELEASE job")
        else:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")

    # ------------------------------------------------------------ life cycle

    def hold_lock(self, *, exclusive: bool, pid: int | None = None) -> None:
        """The data directory's `server.lock` (see `dirlock.py`), held until `close()`; its holders
        are named by the kernel, so `pid` names no one here."""
        self._lock = DirLock(self.path.parent, exclusive=exclusive)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._writer.join()
        self._write_conn.close()
        if self._write_lock is not None:
            self._write_lock.close()
        with self._idle_lock:
            for conn in self._idle:
                conn.close()
            self._idle.clear()
        if self._lock is not None:  # last: the database is closed before a rotation may start
            self._lock.release()

    def raw_connection(self) -> sqlite3.Connection:
        """A fresh connection for offline tools (rotation, backup); the caller closes it."""
        return connect(self.path)
