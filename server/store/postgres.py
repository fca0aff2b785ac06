"""The PostgreSQL backend: several server replicas share one database, and every rule holds across them.

Writes run at READ COMMITTED, each `write(fn)` in its own transaction (with its audit event),
acknowledged only once PostgreSQL has committed it durably (`synchronous_commit` as the server sets
it, except `off`, which each connection turns back `on`: see `_configure`). Reads run in a REPEATABLE READ, READ ONLY snapshot, like SQLite's readers.

How the single-writer rules hold with several writers
-----------------------------------------------------
On SQLite one writer thread runs every write, so "count, then insert" or "check the version, then
update" never has another writer in between. Here many transactions on many replicas write at
once, so every write that touches a site's contents first locks that site's row: in a write
transaction, `get_site` is `SELECT ... FOR UPDATE` (see `postgres_tx.py`), and every handler that
changes a site's secrets, types, apps, services or bindings starts by loading the site. Writes to
one site therefore run one at a time, as they do on SQLite, while writes to different sites run in
parallel. Because the isolation is READ COMMITTED, each statement after the lock sees everything
committed before the lock was granted, so:

- limits: a create counts the site's secrets while holding the lock; no other create of that site
  can commit in between, so a site never passes its limit, whichever replicas the creates reach;
- check-and-set: an update compares `expected_version` under the lock, so two updates of one
  version cannot both succeed;
- bindings versus deletes: deleting a secret checks its bindings, and changing a service's
  bindings happens, under the same site lock, so a delete never leaves a binding it did not see;
- uniqueness (two creates of one name) is the unique index's job: the loser gets `Conflict`;
- the audit event is written in the same transaction as the change, so both commit or neither.

We chose the lock over SERIALIZABLE because the conflicts are all per site and known in advance:
a lock makes the loser wait a moment instead of failing and retrying, which under a burst of
creates at one site (the case the limit is for) would retry most of them several times. The one
failure the lock cannot rule out, a deadlock (or a serialization failure, should an administrator
raise the default isolation), is retried here, with the whole `fn` run again.

Audited reads: one commit for many
-----------------------------------
An environment fetch is a read that writes: its audit event and its load record. On its own
transaction each costs a BEGIN, a COMMIT and a WAL flush, and a replica spends more of its time on
those round trips than on the fetch. So `record` (what `Store.record` is for: writes that take no
lock and refuse nothing) queues the write for one thread that runs every queued record in one
transaction and one commit, as SQLite's writer does for all writes; no caller hears "done" before
that commit. If one of them fails, the group is rolled back and each is run again in a transaction
of its own (`write`), so one failure stays its caller's; if the COMMIT itself fails, every caller
of the group gets `StoreError`, as `write` gives one. The group's audit events are held until its
records have run and then written together (`audit_tx.seal_group`), each chain's head locked once and in
sorted order, so two replicas' groups never wait on each other in a cycle (see `audit_tx.py`), in
two statements for the whole group (`PostgresTx.seal_audit`). Writes that lock a site stay on `write`, one
transaction each, so that writes to different sites still run side by side.

PostgreSQL's own commit grouping (one WAL flush for every commit waiting at that moment) cannot
stand in for this: a site's audit events take its chain's head row lock, held until COMMIT, so one
transaction per fetch makes every fetch of a site wait for the previous one's WAL flush, and there
is never a second commit waiting to share it. Measured (env c=16, one replica on this 2-core
machine, in the same rounds): one transaction per fetch, 154 req/s; grouped, 707 req/s, at about
one WAL flush for every four fetches.

Tokens are read from the database on every request (there is no token cache), so a token revoked
through one replica is refused by every replica at its next request. The bad-token rate limit is
per replica (see `server/ratelimit.py`).
"""

from __future__ import annotations

import os
import queue
import random
import select
import socket
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool, PoolTimeout

from ..dburl import redact
from .audit_key import AuditKey
from .audit_tx import seal_group
from .base import Conflict, LockHeld, StorageFull, StoreError, Unavailable
from .grouping import Job, submit, take_group
from .keptlock import KeptLock
from .migrations import MIGRATIONS, refuse_newer
from .postgres_tx import PostgresTx

T = TypeVar("T")

POOL_SIZE = 16
"""Connections per replica; requests beyond this wait for one (for up to `POOL_TIMEOUT` s)."""
POOL_TIMEOUT = 30.0
OUTAGE_TIMEOUT = 2.0
"""How long a request waits for a connection while the database is known to be away, and the
slices it waits in otherwise (see `PostgresStore._connection`): long enough for a reconnection to a
database that is back, short enough that a request is answered 503 promptly rather than after
`POOL_TIMEOUT`."""
RECONNECT_TIMEOUT = 5.0
"""How long the pool retries a lost connection (after 1, 2, 4 ... s) before it gives up, and the
next request starts a new attempt at once. psycopg_pool's default, five minutes, let the delay
between attempts double to a minute and more, so a replica served again that long after its
database came back."""
_RETRIES = 5
_MIGRATE_LOCK = 0x5173_5EC7  # the advisory lock `migrate` holds; any constant all replicas share
_SERVER_LOCK = 0x5173_5EC8
"""The first half of the server lock's advisory key; the second is the oid of this schema's `meta`
table (which holds the key check value), so databases in other schemas of one PostgreSQL
database (the tests', for one) have locks of their own."""
_APP_NAME = "sitesecrets-server"
_RETRYABLE = (errors.DeadlockDetected, errors.SerializationFailure)


def _configure(conn: psycopg.Connection) -> None:
    """Each pooled connection's session, set once when it opens (a URL's own `options`, such as a
    `search_path`, stay as they are)."""
    # every statement here is an indexed lookup of a few rows, which JIT compilation only slows:
    # where the planner's estimate crosses `jit_above_cost` (a small table never analyzed is guessed
    # at 520 rows) it compiled for 52 ms to answer a 7 ms audit page
    conn.execute("SET jit = off")
    # a commit is acknowledged to the client only once it is durable: `off` (a speed setting of the
    # server, the database or the role) acknowledges before the WAL is flushed, and a crash of
    # PostgreSQL then lost acknowledged writes (2 of 779 creates); every other level flushes locally
    # first, and a stronger one (`remote_apply`) is kept
    if conn.execute("SHOW synchronous_commit").fetchone()[0] == "off":
        conn.execute("SET synchronous_commit = on")


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and url.split(":", 1)[0] in ("postgresql", "postgres")


def translate(error: BaseException) -> StoreError:
    """Our own exception for a database failure; the message holds no row data."""
    if isinstance(error, errors.UniqueViolation):
        return Conflict("a row with that name exists")
    if isinstance(error, (errors.DiskFull, errors.OutOfMemory)):
        return StorageFull("the database is full")
    if isinstance(error, PoolTimeout):
        return Unavailable("no database connection became free in time")
    if connection_lost(error):
        return Unavailable(f"the database connection failed ({type(error).__name__})")
    return StoreError(f"database error ({type(error).__name__})")


def connection_lost(error: BaseException) -> bool:
    """Whether `error` says the database is away rather than refusing a statement: libpq's own
    failures carry no SQLSTATE (refused, "server closed the connection unexpectedly"); class 08 is
    a connection exception; 57P01-57P03 a server shutting down, crashed or still starting."""
    if not isinstance(error, psycopg.OperationalError):
        return False
    state = error.sqlstate
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def migrate(conn: psycopg.Connection) -> int:
    """Apply every migration this database lacks, in one transaction; returns the schema version.

    Safe to run from several replicas at once: the first takes an advisory lock and migrates, the
    others wait for it and then find nothing left to do.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        refuse_newer(applied)
        for migration in MIGRATIONS:
            if migration.version in applied:
                continue
            conn.execute(migration.postgresql)  # type: ignore[arg-type]  # our own constant text
            conn.execute(
                "INSERT INTO schema_migrations VALUES (%s, %s, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))",
                (migration.version, migration.name),
            )
    return MIGRATIONS[-1].version


def check_idle(conn: psycopg.Connection) -> None:
    """The pool's check of a connection it is about to hand out, with no round trip while the
    connection is sound: one back in the pool is idle, so the server has nothing to send it; if its
    socket is readable all the same, the server has spoken (the notice and close of a restart or of
    a terminated session), and only then is it asked an empty query, which fails on a dead
    connection so that the pool replaces it and hands out another. The empty query on every
    checkout (psycopg_pool's `check_connection`) was two of the ten or so round trips of an env
    fetch, and as much CPU in PostgreSQL and in the server as any query."""
    if conn.closed or conn.pgconn.status != psycopg.pq.ConnStatus.OK or _readable(conn.pgconn.socket):
        ConnectionPool.check_connection(conn)


def _readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def connect(url: str) -> psycopg.Connection:
    """One connection for offline tools (migrate, copy); the caller closes it."""
    return connect_as(url, None)


def connect_as(url: str, application_name: str | None) -> psycopg.Connection:
    extra = {"application_name": application_name} if application_name else {}
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10, **extra)
    except psycopg.Error as error:
        raise StoreError(f"cannot connect to the database: {_reason(error, url)}") from None


def take_server_lock(url: str, *, exclusive: bool, pid: int | None = None) -> psycopg.Connection:
    """The server lock (see `PostgresStore.hold_lock`) on a new connection of its own, which holds
    it until closed; raises `LockHeld` naming the holders when it is taken the other way. `pid`:
    the process a refusal names, the one to stop (this one unless said otherwise)."""
    name = f"{_APP_NAME} pid {pid or os.getpid()} on {socket.gethostname()}"[:63]  # PostgreSQL's limit
    conn = connect_as(url, name)
    try:
        take = "pg_try_advisory_lock" if exclusive else "pg_try_advisory_lock_shared"
        granted = conn.execute(f"SELECT {take}(%s, 'meta'::regclass::oid::int)", (_SERVER_LOCK,)).fetchone()[0]
        if not granted:
            raise LockHeld(_lock_holders(conn))
    except psycopg.Error as error:
        conn.close()
        raise translate(error) from None
    except LockHeld:
        conn.close()
        raise
    return conn


def _lock_holders(conn: psycopg.Connection) -> list[str]:
    """Who holds the server lock: "pid N on HOST" for our own processes (their connection's
    application name says so), else the database session's id."""
    rows = conn.execute(
        "SELECT l.pid, a.application_name FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = 'meta'::regclass::oid "
        "AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "ORDER BY l.pid",
        (_SERVER_LOCK,),
    ).fetchall()
    prefix = _APP_NAME + " "
    named = [name.removeprefix(prefix) if name and name.startswith(prefix) else f"database session {pid}" for pid, name in rows]
    return list(dict.fromkeys(named))  # a `serve --workers` parent's and its workers' sessions all name the parent


def alive(conn: psycopg.Connection) -> bool:
    """Whether an idle connection of ours is still a session of the database (see `check_idle`)."""
    try:
        check_idle(conn)
    except psycopg.Error:
        return False
    return True


def _reason(error: psycopg.Error, url: str) -> str:
    # libpq's message names the host and the problem ("connection refused", "database does not
    # exist"); it never holds row data, but it quotes the part of a URL it cannot parse, which may
    # be the password (`unexpected spaces found in "..."`), so that is taken out
    text = " ".join(line.strip() for line in redact(str(error), url).splitlines() if line.strip())
    return text or type(error).__name__


class PostgresStore:
    """A `Store` on a PostgreSQL database, through a pool of connections. Call `close()` to end it."""

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE, migrate_schema: bool = True) -> None:
        conn = connect(url)  # fails fast, in libpq's words, when the database cannot be reached
        try:
            if migrate_schema:
                migrate(conn)
        except psycopg.Error as error:
            raise translate(error) from None
        finally:
            conn.close()
        self._pool = ConnectionPool(
            url, min_size=1, max_size=pool_size, timeout=POOL_TIMEOUT, open=False,
            kwargs={"autocommit": True, "connect_timeout": 10}, check=self._check, configure=_configure,
            name="sitesecrets", reconnect_timeout=RECONNECT_TIMEOUT, reconnect_failed=self._lost,
        )
        self._away = False
        """Whether the database seems away: set by a lost connection (in a request, or found dead
        at checkout) or a reconnection the pool gave up, cleared by the next request that succeeds.
        Meanwhile a request waits `OUTAGE_TIMEOUT` for a connection, not `POOL_TIMEOUT`, only to be
        refused; one set wrongly (a single session ended) costs little, as the next success clears it."""
        self._pool.open(wait=True, timeout=POOL_TIMEOUT)
        self.audit_key: AuditKey | None = None
        """The audit key every write is given (see `Store.audit_key`)."""
        self._url = url
        self._lock: psycopg.Connection | KeptLock | None = None
        self._closed = False
        self._records: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._recorder: threading.Thread | None = None  # started by the first `record`
        self._recorder_lock = threading.Lock()

    def _lost(self, _pool: object = None) -> None:
        """The database is away (a connection lost, or the pool gave up reconnecting): requests
        wait for a connection only briefly until one succeeds."""
        self._away = True

    def _check(self, conn: psycopg.Connection) -> None:
        try:
            check_idle(conn)
        except Exception:
            self._lost()
            raise

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection, as `ConnectionPool.connection` hands it out, but waited for in slices
        of `OUTAGE_TIMEOUT` up to `POOL_TIMEOUT`, and no longer once the database seems away: a
        request that meets an outage first (its connection found dead at checkout, the pool failing
        to reconnect) is answered within a slice too, not after the whole `POOL_TIMEOUT`."""
        deadline = time.monotonic() + POOL_TIMEOUT
        while True:
            try:
                conn = self._pool.getconn(min(OUTAGE_TIMEOUT, max(deadline - time.monotonic(), 0.001)))
                break
            except PoolTimeout:
                if self._away or time.monotonic() >= deadline:
                    raise
        try:
            with conn:
                yield conn
        finally:
            self._pool.putconn(conn)

    def _failed(self, error: BaseException) -> StoreError:
        failure = translate(error)
        if isinstance(failure, Unavailable) and not isinstance(error, PoolTimeout):
            self._lost()
        return failure

    @property
    def url(self) -> str:
        """The database's URL, for a process of our own that reads beside this one (`audit_walker`);
        it may hold a password, so it goes only through a pipe, never a log or a command line."""
        return self._url

    # ------------------------------------------------------------ reads

    def read(self, fn: Callable[[PostgresTx], T]) -> T:
        try:
            with self._connection() as conn:
                tx = PostgresTx(conn, writing=False)  # BEGIN and ROLLBACK on its cursor too: one cursor in all
                tx._run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try:
                    result = fn(tx)
                finally:
                    if not conn.broken:
                        tx._run("ROLLBACK")
            self._away = False
            return result
        except (psycopg.Error, PoolTimeout) as error:
            raise self._failed(error) from None

    def lookup(self, fn: Callable[[PostgresTx], T]) -> T:
        try:
            with self._connection() as conn:  # in autocommit: the statement is its own transaction
                result = fn(PostgresTx(conn, writing=False))
            self._away = False
            return result
        except (psycopg.Error, PoolTimeout) as error:
            raise self._failed(error) from None

    def read_env(self, fn: Callable[[PostgresTx], T]) -> T:
        return self.lookup(fn)  # `PostgresTx.env_snapshot` is one statement: one snapshot, one round trip

    # ------------------------------------------------------------ writes

    def write(self, fn: Callable[[PostgresTx], T]) -> T:
        """Run `fn` in its own transaction and return once PostgreSQL has committed it.

        A deadlock is retried with `fn` run again. If the connection breaks during COMMIT, the
        caller gets `StoreError` and cannot know whether the change was kept (no database can
        say, then); it was not acknowledged, so a client retries or re-reads.
        """
        if self._closed:
            raise StoreError("the store is closed")
        for attempt in range(_RETRIES):
            try:
                return self._write_once(fn)
            except _RETRYABLE as error:
                if attempt == _RETRIES - 1:
                    raise translate(error) from None
                time.sleep(random.uniform(0.001, 0.01) * (attempt + 1))
            except (psycopg.Error, PoolTimeout) as error:
                raise self._failed(error) from None
        raise AssertionError("unreachable")

    def _write_once(self, fn: Callable[[PostgresTx], T]) -> T:
        with self._connection() as conn:
            tx = PostgresTx(conn, writing=True)
            tx.audit_key = self.audit_key
            tx._run("BEGIN")
            try:
                result = fn(tx)
            except BaseException:  # the caller's refusal or a failed statement: keep nothing
                if not conn.broken:
                    tx._run("ROLLBACK")
                raise
            tx._run("COMMIT")
        self._away = False
        return result

    # ------------------------------------------------------------ records (audited reads)

    def record(self, fn: Callable[[PostgresTx], T]) -> T:
        """Run `fn` in a transaction shared with the other queued records; return once it committed."""
        if self._closed:
            raise StoreError("the store is closed")
        if self._recorder is None:
            self._start_recorder()
        return submit(self._records, fn)

    def _start_recorder(self) -> None:
        with self._recorder_lock:
            if self._recorder is None:
                self._recorder = threading.Thread(target=self._record_loop, name="postgres-recorder", daemon=True)
                self._recorder.start()

    def _record_loop(self) -> None:
        while True:
            job = self._records.get()
            if job is None:
                return
            taken = take_group(self._records, job)
            try:
                self._commit_records(taken)
            finally:
                for job in taken:
                    job.done.release()

    def _commit_records(self, group: list[Job]) -> None:
        try:
            with self._connection() as conn:
                txs = [PostgresTx(conn, writing=True, defer_audit=True) for _ in group]
                for tx in txs:
                    tx.audit_key = self.audit_key
                txs[0]._run("BEGIN")
                try:
                    for job, tx in zip(group, txs):
                        job.result = job.fn(tx)
                    seal_group(txs)
                except BaseException:
                    if not conn.broken:
                        txs[0]._run("ROLLBACK")
                    raise
                try:
                    txs[0]._run("COMMIT")
                except (psycopg.Error, PoolTimeout) as error:
                    failure = translate(error)  # kept or not, no one can say: none is acknowledged
                    for job in group:
                        job.error = failure
            return
        except BaseException:  # noqa: BLE001 - before the commit: each again, alone, so one failure stays its own
            pass
        for job in group:
            try:
                job.result, job.error = self.write(job.fn), None
            except BaseException as error:  # noqa: BLE001 - handed to that job's caller
                job.result, job.error = None, error

    # ------------------------------------------------------------ life cycle

    def hold_lock(self, *, exclusive: bool, pid: int | None = None) -> None:
        """The server lock as a session-level advisory lock on a connection of its own, held until
        `close()`: shared by every serving replica, whatever its data directory, and exclusive for
        a rotation. A server's is taken again whenever its session ends (the database restarted:
        see `keptlock.py`); meanwhile the key check in `datadir.py` and `keyring.py` is what keeps
        a stale key from writing. `pid`: the process a rotation's refusal names (see
        `take_server_lock`)."""
        if exclusive:  # a rotation: one transaction, which a lost session fails anyway
            self._lock = take_server_lock(self._url, exclusive=True)
        else:
            self._lock = KeptLock(lambda: take_server_lock(self._url, exclusive=False, pid=pid), alive)

    def close(self) -> None:
        if self._closed:
            return
        if self._recorder is not None:  # first: its fallback path writes through the pool
            self._records.put(None)
            self._recorder.join()
        self._closed = True
        self._pool.close()
        if self._lock is not None:  # last: ending the session drops its advisory lock
            self._lock.close()

    def schema_version(self) -> int:
        return self.read(lambda tx: tx._one("SELECT max(version) FROM schema_migrations")[0])  # type: ignore[attr-defined]
