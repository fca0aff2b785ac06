"""Files and directories the server creates: always new, always ours, private whatever the umask.

A path an operator names (`backup --to`, `copy --to sqlite:///...`) may sit in a directory other
users can write, such as /tmp. Another user may have put a file there first, world-writable, or a
symlink to a file of theirs; opening such a path with O_CREAT alone writes our ciphertexts and
token hashes into a file they read and can change. So every output is created with
O_EXCL|O_NOFOLLOW and mode 0600, and an existing path is refused. A database is built in a fresh
0700 directory beside its target, where nobody else can plant its `-wal` or `-journal` file, and
linked into place only once complete: a link, unlike a rename, never replaces what appeared at the
target meanwhile, and a failed or interrupted build leaves no half-made file at the target.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def create_private_file(path: Path) -> int:
    """Create `path` as a new file, mode 0600 exactly, and return its descriptor open for writing.

    Raises FileExistsError if anything (a file, a directory, a symlink, even a dangling one) is
    there already: the file we write to is always one we made.
    """
    fd = os.open(path, _NEW, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)  # a umask such as 0277 would leave even us without write access
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_private_append(path: Path) -> int:
    """Open `path` for appending, created 0600 if missing; returns the descriptor.

    An existing file must be a regular file of ours (not a symlink: O_NOFOLLOW), and is made 0600
    if it is not (logrotate's `create` may give the new file another mode); anyone else's is refused.
    """
    try:
        fd = os.open(path, _NEW | os.O_APPEND, PRIVATE_FILE)
    except FileExistsError:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            raise PermissionError(errno.EPERM, "not a regular file of this user", str(path))
        os.fchmod(fd, PRIVATE_FILE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private_file(path: Path, content: str) -> None:
    """Create `path` (new, 0600) holding `content`, durably: on disk, and named in its directory."""
    fd = create_private_file(path)
    try:
        os.write(fd, content.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    sync_dir(Path(path).parent)


def sync_dir(directory: Path) -> None:
    """Make the names created in `directory` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def refuse_existing(path: Path) -> None:
    """Raise FileExistsError if anything, a dangling symlink included, is at `path`."""
    if os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))


class Exposed(Exception):
    """Mixed into a refusal of a file the server keeps private (the master key, the database) that
    group or others may read: the operator's set-up to change, not a failure of the command. So it
    is a usage error, exit 2, as a --database-url-file others may read is: the same command fails
    again until the `chmod 600` the message names is run."""

    exit_status = 2


def exposed_database(db: Path) -> str | None:
    """Why a database file (or its -wal, -shm) that group or others may read or write must not be
    opened, or None when all of them are private. It holds the wrapped data keys, the keyed token
    hashes, every name and description and the audit log; `cp` under umask 022 makes it 0644, and
    SQLite gives its -wal and -shm the database's mode."""
    exposed = []
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            continue
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            exposed.append((path, stat.S_IMODE(mode)))
    if not exposed:
        return None
    modes = ", ".join(f"{path} mode {mode:o}" for path, mode in exposed)
    return (f"the database is accessible by group or others ({modes}); "
            f"run: chmod 600 {' '.join(str(path) for path, _ in exposed)}")


def make_dirs(path: Path, mode: int = PRIVATE_DIR) -> None:
    """Create `path` and each missing parent with exactly `mode`, whatever the umask.

    `Path.mkdir(parents=True, mode=...)` gives the mode to the last component only, and the
    parents 0777 less the umask: world-writable under `umask 000`. A directory that exists
    already, ours or not, is left as it is.
    """
    path = Path(os.path.abspath(path))
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:
            continue  # made meanwhile by someone else: not ours to chmod
        os.chmod(directory, mode)


@contextmanager
def new_file(target: Path) -> Iterator[Path]:
    """Build a file that becomes `target` only when complete; `target` must not exist.

    Yields the path of a new, empty 0600 file in a fresh private directory beside `target`. When
    the block ends normally the file is linked at `target` (FileExistsError if something got there
    first); whatever happens, the private directory and anything else in it are removed.
    """
    target = Path(target)
    refuse_existing(target)
    if not target.parent.is_dir():  # else the error names the private directory, a path never typed
        raise FileNotFoundError(errno.ENOENT, "no such directory", str(target.parent))
    workdir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".new", dir=target.parent))
    try:
        os.chmod(workdir, PRIVATE_DIR)
        built = workdir / target.name
        os.close(create_private_file(built))
        yield built
        os.link(built, target, follow_symlinks=False)
        sync_dir(target.parent)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
