"""The data directory: creating it, opening it, and the offline operations on it.

`DATA_DIR` holds `secrets.db` (with its WAL) and, unless the key comes from the environment,
`master.key`. The directory is 0700 and the key 0600. With a `postgresql://` database URL the
database lives there instead and the data directory holds only the key: the key never goes into
the database, which keeps only the key's check value (in `meta`), as `secrets.db` does.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Callable

from pydantic import ValidationError

from shared import models
from shared.models import Role

from . import crypto, files, fingerprints, keys, tokenkey
from .auth import issue_token
from .config import DB_FILE, Settings
from .context import State, utc_now
from .keyring import CHECK_META_KEY, Keyring
from .store import AuditRecord, Conflict, LockHeld, SqliteStore, Store, StoreError, Transaction
from .store.dirlock import DirLock
from .store.sqlite import fold_wal, leftover_logs

KEY_CHECK = CHECK_META_KEY
DEFAULT_SITE = "default"


class DataDirError(Exception):
    """The data directory cannot be used as asked; the message is one sentence for the user."""


class ExposedFile(files.Exposed, DataDirError):
    """The master key or the database is readable by group or others (exit 2: see `files.Exposed`)."""


def as_data_dir_error(error: Exception, sentence: str | None = None) -> DataDirError:
    """`error` (or `sentence` about it) as a DataDirError, still an `ExposedFile` if it was one, so
    the command's exit status stays that of a refused set-up."""
    return (ExposedFile if isinstance(error, files.Exposed) else DataDirError)(sentence or str(error))


def init_data_dir(data_dir: Path, environ: dict[str, str] | None = None, database_url: str | None = None) -> str:
    """Create a data directory with a key, a database and the site `default`; returns an admin token.

    Refuses, touching nothing, when the directory (or the database at `database_url`) already
    holds a database. All or nothing: the key is written first as `master.key.new`, the database
    is complete before it appears (the commit point), and only then is the key renamed to
    `master.key`. Interrupted before the commit, a second init takes up the pending key; after
    it, the next start finishes the rename as it does for an interrupted rotation.
    """
    environ = os.environ if environ is None else environ
    data_dir = Path(data_dir)
    if database_url is not None:
        _refuse_initialised(database_url)
    elif (data_dir / DB_FILE).exists():
        raise DataDirError(f"{data_dir} already holds a database; refusing to touch it")
    elif (leftover := leftover_logs(data_dir / DB_FILE)) is not None:
        raise DataDirError(leftover)
    files.make_dirs(data_dir)
    os.chmod(data_dir, 0o700)
    if environ.get(keys.ENV_VAR):
        master, pending = keys.decode_key(environ[keys.ENV_VAR], keys.ENV_VAR), None
    elif (data_dir / keys.KEY_FILE).exists():
        raise DataDirError(f"{data_dir / keys.KEY_FILE} exists without a database; move it away first")
    else:
        pending = data_dir / keys.NEW_KEY_FILE
        master = _pending_key(pending)
    token = _create_database(data_dir, database_url, master)
    if pending is not None:
        os.replace(pending, data_dir / keys.KEY_FILE)
        files.sync_dir(data_dir)
    return token


def _pending_key(pending: Path) -> bytes:
    """The key an interrupted init left at `pending`, or a new one written there.

    With no `master.key` and no database, a pending key belongs to no database yet: one that is
    whole is taken up (never thrown away), one cut short by the interruption is replaced.
    """
    if pending.exists():
        try:
            return keys.read_key_file(pending)
        except keys.MasterKeyError:
            pending.unlink()
    master = crypto.new_key()
    files.write_private_file(pending, keys.encode_key(master) + "\n")
    return master


def _create_database(data_dir: Path, database_url: str | None, master: bytes) -> str:
    """Create and seed the database; returns the admin token. A SQLite file is built aside and
    appears in `data_dir` only complete."""
    if database_url is not None:
        try:
            return _seed(open_store(None, database_url), master)
        except Conflict:  # another init (another host's) seeded it since `_refuse_initialised` looked
            raise DataDirError(_INITIALISED) from None
    try:
        with files.new_file(data_dir / DB_FILE) as built:
            token = _seed(SqliteStore(built), master)
            with closing(sqlite3.connect(built)) as conn:
                fold_wal(conn)
            return token
    except FileExistsError:
        raise DataDirError(f"{data_dir} already holds a database; refusing to touch it") from None


def _seed(store: Store, master: bytes) -> str:
    """Write the key check value, the site `default` and an admin token; returns the token."""
    try:
        keyring = Keyring(master)
        body = models.TokenCreate(name="admin", role=Role.admin)

        def write(tx: Transaction) -> str:
            tx.set_meta(KEY_CHECK, crypto.key_check_value(master))
            hasher = tokenkey.new_token_key(tx, master)
            tx.insert_site(DEFAULT_SITE, keyring.new_wrapped_data_key(tx, DEFAULT_SITE), utc_now())
            tx.insert_audit(offline_event("site.create", DEFAULT_SITE, f"site:{DEFAULT_SITE}", {}))
            row, token = issue_token(tx, hasher, body, None, utc_now())
            tx.insert_audit(offline_event("token.create", None, f"token:{row.id}", {"name": row.name, "role": row.role}))
            return token

        return store.write(write)
    finally:
        store.close()


def offline_event(action: str, site: str | None, target: str | None, details: dict) -> AuditRecord:
    """An audit event for work done from the server's command line rather than over HTTP."""
    return AuditRecord.of(action, details=details, at=utc_now(), outcome="ok", site=site, target=target,
                          actor="sitesecrets-server", source="cli")


_INITIALISED = "that database is already initialised; refusing to touch it"


def _refuse_initialised(database_url: str) -> None:
    store = open_store(None, database_url)
    try:
        if store.read(lambda tx: tx.get_meta(KEY_CHECK)) is not None:
            raise DataDirError(_INITIALISED)
    finally:
        store.close()


def open_store(data_dir: Path | None, database_url: str | None = None) -> Store:
    """The store of `data_dir`'s `secrets.db`, or of the PostgreSQL database at `database_url`
    (migrated to the current schema either way)."""
    if database_url is not None:
        try:
            from .store.postgres import PostgresStore, is_postgres_url
        except ImportError:
            raise DataDirError("PostgreSQL needs psycopg; install it with: pip install 'sitesecrets[postgres]'") from None
        if not is_postgres_url(database_url):
            raise DataDirError("the database URL must start with postgresql:// (the default is the SQLite file in the data directory)")
        try:
            return PostgresStore(database_url)
        except StoreError as error:
            raise DataDirError(str(error)) from None
    if not (Path(data_dir) / DB_FILE).exists():
        raise DataDirError(f"{data_dir} holds no database; run: sitesecrets-server init --data-dir {data_dir}")
    refuse_exposed_database(Path(data_dir) / DB_FILE)
    return SqliteStore(Path(data_dir) / DB_FILE, take_turns=True)


def refuse_exposed_database(db: Path) -> None:
    """Refuse a database file (or its -wal, -shm) that group or others may read or write, as
    `keys.read_key_file` refuses such a master key (`files.exposed_database` says why). init,
    restore and copy make it 0600; `cp` under umask 022 does not."""
    if (problem := files.exposed_database(db)) is not None:
        raise ExposedFile(problem)


def open_state(settings: Settings, environ: dict[str, str] | None = None, *, lock: bool = True,
               holder: int | None = None) -> State:
    """Open the store and the master key, refusing a wrong or missing key before serving anything.

    The store holds the server lock (shared) until it is closed, so no rotation of the master key
    can start under it; it is taken before the key is read, so none can slip in between either.
    `lock=False` for a worker whose parent holds that lock for all its workers (`hold_server_lock`);
    `holder`: the process a rotation's refusal names instead of this one (a worker's parent).
    """
    store = open_store(settings.data_dir, settings.database_url)
    try:
        if lock:
            _hold_lock(store, exclusive=False, database=settings.database_url is not None, pid=holder)
        check = store.read(lambda tx: tx.get_meta(KEY_CHECK))
        if check is None:
            where = "the database" if settings.database_url else str(settings.db_path)
            raise DataDirError(f"{where} has no master key check value; it was not made by init")
        master = keys.load_master_key(settings.data_dir, check, environ)
        hasher = tokenkey.open_token_key(store, master)
    except (keys.MasterKeyError, tokenkey.TokenKeyError, DataDirError, StoreError) as error:
        store.close()
        raise as_data_dir_error(error) from None
    keyring = Keyring(master, lambda: store.read(lambda tx: tx.get_meta(KEY_CHECK)))
    try:
        fingerprints.fill_missing(store, keyring)
    except BaseException:
        store.close()
        raise
    return State(settings=settings, store=store, keyring=keyring, tokens=hasher)


def hold_server_lock(settings: Settings) -> Callable[[], None]:
    """The server lock (shared), taken once by a process that serves through forked workers, for
    all of them and before any starts; returns its release. It opens no store, whose threads and
    connections must not cross a fork: only the lock file, or one PostgreSQL connection (the
    database migrated first, as a store would), which the workers inherit and never touch. So a
    rotation names this process, the one to stop, and refuses until every worker has gone."""
    database = settings.database_url
    try:
        if database is None:
            if not settings.db_path.exists():
                raise DataDirError(f"{settings.data_dir} holds no database; run: sitesecrets-server init --data-dir {settings.data_dir}")
            refuse_exposed_database(settings.db_path)
            return DirLock(settings.data_dir, exclusive=False).release
        from .store import postgres

        conn = postgres.connect(database)
        try:
            postgres.migrate(conn)
        except postgres.psycopg.Error as error:
            raise postgres.translate(error) from None
        finally:
            conn.close()
        return postgres.take_server_lock(database, exclusive=False).close
    except LockHeld:
        raise _lock_refusal(exclusive=False, database=database is not None, holders=[]) from None


def _hold_lock(store: Store, *, exclusive: bool, database: bool, pid: int | None = None) -> None:
    """Take the server lock (see `Store.hold_lock`), or refuse in one sentence saying who holds it."""
    try:
        store.hold_lock(exclusive=exclusive, pid=pid)
    except LockHeld as held:
        raise _lock_refusal(exclusive=exclusive, database=database, holders=held.holders) from None


def _lock_refusal(*, exclusive: bool, database: bool, holders: list[str]) -> DataDirError:
    where = "this database" if database else "this data directory"
    if not exclusive:
        return DataDirError(f"the master key of {where} is being rotated; start the server once that has finished")
    who = f" ({', '.join(holders)})" if holders else ""
    servers = "every server using it" if database else "it"
    return DataDirError(f"a server is running on {where}{who}; stop {servers} before rotating the master key")


def create_token_offline(data_dir: Path, name: str, role: Role, site: str | None, service: str | None = None,
                         database_url: str | None = None, environ: dict[str, str] | None = None) -> str:
    """Recovery path: mint a token straight into the database (needs no running server, but the
    master key: the token's hash is keyed by the token key it wraps). It takes only the tokens
    `POST /v1/tokens` takes: a service token names its site and an existing service of it (bound
    to no site, it would fetch that service's environment in every site), no other names one."""
    if role is Role.service and (site is None or service is None):
        raise DataDirError("a service token needs both --site and --service")
    if role is not Role.service and service is not None:
        raise DataDirError("only a service token names a --service")
    try:
        body = models.TokenCreate(name=name, role=role, site=site, service=service)
    except ValidationError as error:  # as POST /v1/tokens refuses it: one sentence naming the option
        first = error.errors()[0]
        raise DataDirError(f"--{'-'.join(map(str, first['loc']))} {first['msg'][0].lower()}{first['msg'][1:]}") from None
    store = open_store(data_dir, database_url)
    try:
        master = keys.load_master_key(Path(data_dir), store.read(lambda tx: tx.get_meta(KEY_CHECK)) or "", environ)
        hasher = tokenkey.open_token_key(store, master)

        def write(tx: Transaction) -> str:
            site_row = tx.get_site(site) if site is not None else None
            if site is not None and site_row is None:
                raise DataDirError(f"site {site!r} does not exist")
            if service is not None and tx.get_service(site_row.id, service) is None:
                raise DataDirError(f"service {service!r} does not exist in site {site!r}")
            row, token = issue_token(tx, hasher, body, site, utc_now())
            tx.insert_audit(offline_event("token.create", site, f"token:{row.id}", {"name": name, "role": role.value}))
            return token

        return store.write(write)
    except (keys.MasterKeyError, tokenkey.TokenKeyError) as error:
        raise as_data_dir_error(error) from None
    finally:
        store.close()


def rotate_master_key(data_dir: Path, environ: dict[str, str] | None = None, database_url: str | None = None) -> None:
    """Replace the master key: re-wrap every site's data key in one transaction; values are untouched.

    The new key is on disk (as `master.key.new`) before the database changes, and replaces
    `master.key` only after the database committed; `keys.load_master_key` completes a rotation
    that a crash interrupted between the two. With several replicas on one database, stop them
    all first and give each the new key file before starting them again.

    Refuses, changing nothing, while any server holds the server lock: a server keeps the key it
    started with, so a rotation under it would leave it revealing nothing and wrapping the data
    keys of new sites under the discarded key.
    """
    environ = os.environ if environ is None else environ
    if environ.get(keys.ENV_VAR):
        raise DataDirError(f"the master key comes from {keys.ENV_VAR}; rotate it by unsetting that and using a key file")
    data_dir = Path(data_dir)
    if database_url is not None and (data_dir / DB_FILE).exists():
        # often the way back after `copy` to PostgreSQL: the new key would not open it
        raise DataDirError(f"{data_dir / DB_FILE} is beside the master key and would no longer open after the rotation: "
                           f"move it out of the data directory, with a copy of the current {keys.KEY_FILE}, first")
    store = open_store(data_dir, database_url)
    pending = data_dir / keys.NEW_KEY_FILE
    try:
        _hold_lock(store, exclusive=True, database=database_url is not None)
        check = store.read(lambda tx: tx.get_meta(KEY_CHECK))
        old = keys.load_master_key(data_dir, check or "", environ)
        new = crypto.new_key()
        files.write_private_file(pending, keys.encode_key(new) + "\n")
        try:
            store.write(lambda tx: _rewrap_every_site(tx, old, new))
        except DataDirError:
            pending.unlink()  # refused inside the transaction, so nothing committed: the old key rules
            raise
    except keys.MasterKeyError as error:
        raise as_data_dir_error(error) from None
    finally:
        store.close()
    os.replace(pending, data_dir / keys.KEY_FILE)
    files.sync_dir(data_dir)


def _rewrap_every_site(tx: Transaction, old: bytes, new: bytes) -> None:
    # the key check row first, exclusively: a site created concurrently (a server the lock did not
    # stop) either commits before this lists the sites, or waits and then sees the new key check
    # value and refuses (`Keyring.new_wrapped_data_key`); no site is left wrapped under `old`
    if not crypto.key_matches(old, tx.get_meta_locked(KEY_CHECK, exclusive=True) or ""):
        raise DataDirError("the master key check value changed as the rotation began; nothing was rotated")
    sites = tx.list_sites()
    for site in sites:
        try:
            data_key = crypto.unwrap_data_key(old, site.name, site.wrapped_key)
        except crypto.IntegrityError:
            raise DataDirError(f"the data key of site {site.name!r} does not open with the current master key "
                               "(damaged, or wrapped by a server holding another key); nothing was rotated") from None
        tx.update_site_key(site.id, crypto.wrap_data_key(new, site.name, data_key))
    try:
        tokenkey.rewrap_token_key(tx, old, new)
    except tokenkey.TokenKeyError as error:
        raise DataDirError(f"{error}; nothing was rotated") from None
    tx.set_meta(KEY_CHECK, crypto.key_check_value(new))
    tx.insert_audit(offline_event("master_key.rotate", None, None, {"sites": len(sites)}))
