"""Online backup and restore of the database (the master key is never part of a backup).

`backup` uses SQLite's online backup API, so it copies a consistent snapshot while the server
keeps serving. A backup holds only ciphertexts and wrapped keys: it is useless without the
master key, which must be kept apart from it (that is the point). Both commands write only new
files, built privately and put in place once complete (see `server.files`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from . import files, keys
from .config import DB_FILE
from .datadir import KEY_CHECK, DataDirError, as_data_dir_error, refuse_exposed_database
from .store.sqlite import fold_wal, leftover_logs


def backup(data_dir: Path, target: Path) -> int:
    """Copy the live database to `target` (created 0600); returns the number of secrets copied."""
    source_path = Path(data_dir) / DB_FILE
    if not source_path.exists():
        # a replica's data directory holds only the master key: its database is PostgreSQL's to back up
        raise DataDirError(f"{data_dir} holds no SQLite database to back up; back up a PostgreSQL database with "
                           "pg_dump, or with sitesecrets-server copy --from postgresql://... --to sqlite:///FILE")
    refuse_exposed_database(source_path)  # as every command that opens it does
    target = Path(target)
    if (leftover := leftover_logs(target)) is not None:
        raise DataDirError(f"cannot back up to {target}: {leftover}")
    try:
        with files.new_file(target) as built:
            return _copy_file(source_path, built)
    except FileExistsError:
        raise DataDirError(f"{target} exists; choose a new file") from None


def _copy_file(source_path: Path | str, built: Path) -> int:
    """Copy the database at `source_path` into `built` as one self-contained file; the secrets in it."""
    source = sqlite3.connect(source_path, uri=True)
    destination = sqlite3.connect(built)
    try:
        source.backup(destination)
        fold_wal(destination)  # one self-contained file, no WAL beside it
        return destination.execute("SELECT count(*) FROM secrets").fetchone()[0]
    finally:
        destination.close()
        source.close()


def restore(backup_file: Path, data_dir: Path, environ: dict[str, str] | None = None) -> int:
    """Make `data_dir` serve the backup; its master key must already be there (or in the environment).

    Refuses a data directory that holds a database, a backup that fails `integrity_check`, and a
    backup the available master key does not open. Returns the number of secrets restored.
    """
    data_dir, backup_file = Path(data_dir), Path(backup_file)
    target = data_dir / DB_FILE
    if target.exists():
        raise DataDirError(f"{data_dir} already holds a database; restore into an empty data directory")
    if (leftover := leftover_logs(target)) is not None:
        raise DataDirError(f"cannot restore: {leftover}")
    if not backup_file.exists():
        raise DataDirError(f"cannot restore: no such file {backup_file}")
    if not backup_file.is_file():
        raise DataDirError(f"cannot restore: {backup_file} is not a file")
    read_only = f"{backup_file.resolve().as_uri()}?mode=ro"  # percent-encoded: any file name is a path
    try:
        check = sqlite3.connect(read_only, uri=True)
    except sqlite3.Error as error:
        raise DataDirError(f"cannot restore: cannot open {backup_file} ({error})") from None
    try:
        ok = check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        key_check = check.execute("SELECT value FROM meta WHERE key = ?", (KEY_CHECK,)).fetchone()
    except sqlite3.DatabaseError:
        raise DataDirError(f"{backup_file} is not a Site Secrets backup") from None
    finally:
        check.close()
    if not ok or key_check is None:
        raise DataDirError(f"{backup_file} is damaged or not a Site Secrets backup")
    try:
        keys.load_master_key(data_dir, key_check[0], environ)
    except keys.MasterKeyError as error:
        hint = " (a backup made before a rotation of the master key opens only with the key of its time)" \
            if isinstance(error, keys.WrongMasterKey) else ""
        raise as_data_dir_error(error, f"cannot restore: {error}{hint}") from None
    try:
        with files.new_file(target) as built:
            return _copy_file(read_only, built)
    except FileExistsError:
        raise DataDirError(f"{data_dir} already holds a database; restore into an empty data directory") from None
