"""Files the server writes are its own: `copy --to sqlite://`, `backup` and `restore` create new
0600 files whatever the umask, refuse a path that holds anything (another user's file, a symlink),
never touch a `-wal` or `-journal` someone planted beside the target, and leave nothing behind
when they fail. Directories it makes are 0700, parents included, and existing ones keep their mode.

The attacker is a second local user, made with `useradd` for the test (so these tests need root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import stat
import subprocess
import uuid
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from server import files
from server.backup import backup, restore
from server.datadir import DataDirError, init_data_dir
from server.store.copy import CopyError, copy_database
from tui.local import run_local_tui

SIDECARS = ("-wal", "-shm", "-journal")


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def other_user() -> Iterator[pwd.struct_passwd]:
    """A second local user, removed again after the test."""
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("needs root and useradd to make a second local user")
    name = f"ssx{uuid.uuid4().hex[:12]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=True, capture_output=True)


@pytest.fixture
def source(tmp_path) -> Path:
    """An initialised data directory to copy and back up."""
    data_dir = tmp_path / "data"
    init_data_dir(data_dir, environ={})
    return data_dir


@pytest.fixture
def shared(tmp_path) -> Path:
    """A directory every user may write to, as /tmp is."""
    path = tmp_path / "shared"
    path.mkdir()
    path.chmod(0o1777)
    return path


def plant(path: Path, owner: pwd.struct_passwd, content: bytes = b"") -> Path:
    """A world-writable file of `owner`'s at `path`."""
    path.write_bytes(content)
    os.chown(path, owner.pw_uid, owner.pw_gid)
    path.chmod(0o666)
    return path


def fingerprint(path: Path) -> tuple:
    info = path.lstat()
    return info.st_uid, info.st_mode, info.st_mtime_ns, path.read_bytes()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def secret_count(db: Path) -> int:
    with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro")) as conn:
        return conn.execute("SELECT count(*) FROM secrets").fetchone()[0]


def test_copy_refuses_another_users_world_writable_file_and_leaves_it_untouched(source, shared, other_user):
    planted = plant(shared / "copy.db", other_user)  # empty: a valid empty database the old copy filled
    before = fingerprint(planted)
    with pytest.raises(CopyError, match="exists"):
        copy_database(f"sqlite://{source}", f"sqlite://{planted}")
    assert fingerprint(planted) == before
    assert os.listdir(shared) == ["copy.db"]


def test_copy_refuses_a_symlink_at_the_target_and_does_not_follow_it(source, shared, other_user, tmp_path):
    victim = plant(tmp_path / "victim.db", other_user)
    before = fingerprint(victim)
    (shared / "copy.db").symlink_to(victim)
    (shared / "dangling.db").symlink_to(tmp_path / "nothing-here.db")
    for link in ("copy.db", "dangling.db"):
        with pytest.raises(CopyError, match="exists"):
            copy_database(f"sqlite://{source}", f"sqlite://{shared / link}")
    assert fingerprint(victim) == before
    assert not (tmp_path / "nothing-here.db").exists()
    assert sorted(os.listdir(shared)) == ["copy.db", "dangling.db"]


def test_copy_never_writes_into_a_wal_or_journal_planted_beside_the_target(source, shared, other_user):
    planted = [plant(shared / f"copy.db{suffix}", other_user) for suffix in SIDECARS]
    before = [fingerprint(p) for p in planted]
    with pytest.raises(CopyError, match="would be replayed"):  # into the copy, as soon as it is opened
        copy_database(f"sqlite://{source}", f"sqlite://{shared / 'copy.db'}")
    assert [fingerprint(p) for p in planted] == before
    assert not (shared / "copy.db").exists()
    (shared / "copy.db-wal").unlink()
    (shared / "copy.db-journal").unlink()
    copy_database(f"sqlite://{source}", f"sqlite://{shared / 'copy.db'}")  # a planted -shm alone replays nothing
    assert fingerprint(planted[1]) == before[1]
    target = (shared / "copy.db").lstat()
    assert (target.st_uid, stat.S_IMODE(target.st_mode)) == (os.geteuid(), 0o600)


@pytest.mark.parametrize("mask", [0o000, 0o277], ids=["umask000", "umask277"])
def test_copy_creates_its_target_0600_whatever_the_umask(source, tmp_path, mask):
    with umask(mask):
        counts = copy_database(f"sqlite://{source}", f"sqlite://{tmp_path / 'copy.db'}")
    assert mode(tmp_path / "copy.db") == 0o600
    assert counts["sites"] == 1 and secret_count(tmp_path / "copy.db") == 0


def test_a_copy_that_fails_leaves_nothing_at_the_target(source, tmp_path, monkeypatch):
    from server.store import copy

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(copy._Sqlite, "finish_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        copy_database(f"sqlite://{source}", f"sqlite://{tmp_path / 'copy.db'}")
    assert sorted(os.listdir(tmp_path)) == ["data"]


def test_backup_refuses_another_users_file_and_a_symlink(source, shared, other_user, tmp_path):
    planted = plant(shared / "backup.db", other_user)
    victim = plant(tmp_path / "victim.db", other_user)
    (shared / "link.db").symlink_to(victim)
    before = fingerprint(planted), fingerprint(victim)
    for target in ("backup.db", "link.db"):
        with pytest.raises(DataDirError, match="exists"):
            backup(source, shared / target)
    assert (fingerprint(planted), fingerprint(victim)) == before


def test_backup_never_writes_into_a_journal_planted_beside_it(source, shared, other_user):
    planted = [plant(shared / f"backup.db{suffix}", other_user) for suffix in SIDECARS]
    before = [fingerprint(p) for p in planted]
    with pytest.raises(DataDirError, match="would be replayed"):
        backup(source, shared / "backup.db")
    assert [fingerprint(p) for p in planted] == before
    assert not (shared / "backup.db").exists()


@pytest.mark.parametrize("mask", [0o000, 0o277], ids=["umask000", "umask277"])
def test_backup_and_restore_create_0600_files_whatever_the_umask(source, tmp_path, mask):
    restored = tmp_path / "restored"
    restored.mkdir(mode=0o700)
    shutil.copy2(source / "master.key", restored / "master.key")
    with umask(mask):
        backup(source, tmp_path / "backup.db")
        restore(tmp_path / "backup.db", restored, environ={})
    assert mode(tmp_path / "backup.db") == 0o600
    assert mode(restored / "secrets.db") == 0o600
    assert sorted(os.listdir(restored)) == ["master.key", "secrets.db"]


def test_a_restore_cut_short_leaves_no_database_and_can_be_run_again(source, tmp_path, monkeypatch):
    from server import backup as backup_module

    backup(source, tmp_path / "backup.db")
    restored = tmp_path / "restored"
    restored.mkdir(mode=0o700)
    shutil.copy2(source / "master.key", restored / "master.key")

    def interrupted(conn):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(backup_module, "fold_wal", interrupted)
        with pytest.raises(KeyboardInterrupt):
            restore(tmp_path / "backup.db", restored, environ={})
    assert os.listdir(restored) == ["master.key"]
    restore(tmp_path / "backup.db", restored, environ={})
    assert secret_count(restored / "secrets.db") == 0


def test_make_dirs_under_umask_000_creates_every_missing_parent_0700_and_leaves_existing_ones(tmp_path):
    existing = tmp_path / "home"
    existing.mkdir()
    existing.chmod(0o755)
    with umask(0o000):
        files.make_dirs(existing / "a" / "b" / "c")
    assert [mode(existing / p) for p in ("a", "a/b", "a/b/c")] == [0o700] * 3
    assert mode(existing) == 0o755


def test_local_under_umask_000_makes_its_data_directory_and_its_parents_private(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o751)
    data_dir = home / ".local" / "share" / "sitesecrets"
    with umask(0o000):
        assert run_local_tui(data_dir, lambda client, url, token_file: 0) == 0
    assert [mode(home / p) for p in (".local", ".local/share", ".local/share/sitesecrets")] == [0o700] * 3
    assert mode(home) == 0o751
    assert {mode(p) for p in data_dir.iterdir()} == {0o600}


def test_init_under_umask_000_creates_missing_parents_0700(tmp_path):
    with umask(0o000):
        init_data_dir(tmp_path / "srv" / "sitesecrets" / "data", environ={})
    assert [mode(tmp_path / p) for p in ("srv", "srv/sitesecrets", "srv/sitesecrets/data")] == [0o700] * 3
    assert {mode(p) for p in (tmp_path / "srv" / "sitesecrets" / "data").iterdir()} == {0o600}


def test_a_database_others_may_read_is_refused_as_an_exposed_master_key_is(source):
    """`cp backup.db data/secrets.db` under umask 022 makes it 0644: names, descriptions, the audit
    log and the wrapped keys readable by every user of a shared host, and the -wal/-shm SQLite
    makes beside it take the same mode. Nothing opens it until it is private again."""
    from server.config import Settings
    from server.datadir import open_state, open_store

    db = source / "secrets.db"
    os.chmod(db, 0o644)
    for opening in (lambda: open_store(source), lambda: open_state(Settings(data_dir=source), environ={})):
        with pytest.raises(DataDirError, match=f"accessible by group or others .* run: chmod 600 {db}$"):
            opening()
    assert stat.S_IMODE(db.stat().st_mode) == 0o644  # left as it is: the operator decides
    assert not (source / "secrets.db-wal").exists()
    os.chmod(db, 0o600)
    open_store(source).close()


def test_backup_migrate_and_copy_refuse_a_database_others_may_read_and_write_nothing(source, tmp_path):
    """The README's "refused by every command that opens it" holds for the commands that read the
    file without serving it too, so an exposed database is noticed before it is copied on or
    upgraded in place."""
    from server.store.copy import migrate_url

    db = source / "secrets.db"
    os.chmod(db, 0o644)
    before = db.read_bytes()
    refused = f"accessible by group or others .* run: chmod 600 {db}$"
    with pytest.raises(DataDirError, match=refused):
        backup(source, tmp_path / "backup.db")
    with pytest.raises(CopyError, match=refused):
        migrate_url(f"sqlite://{db}")
    with pytest.raises(CopyError, match=refused):
        copy_database(f"sqlite://{db}", f"sqlite://{tmp_path / 'copy.db'}")
    assert not (tmp_path / "backup.db").exists() and not (tmp_path / "copy.db").exists()
    assert db.read_bytes() == before and stat.S_IMODE(db.stat().st_mode) == 0o644
    assert not (source / "secrets.db-wal").exists()


@pytest.mark.parametrize("suffix", ["-wal", "-journal"])
def test_restore_backup_and_copy_refuse_a_wal_or_journal_left_by_an_earlier_database(source, tmp_path, suffix):
    """A server killed with commits still in its -wal, the damaged-looking secrets.db moved away,
    the backup restored: SQLite replayed the old WAL into the restored database, pages of another
    database mixed into it. The leftover may hold the old database's last commits: it is named,
    not deleted."""
    backup(source, tmp_path / "backup.db")
    restored = tmp_path / "restored"
    restored.mkdir(mode=0o700)
    shutil.copy2(source / "master.key", restored / "master.key")
    (restored / f"secrets.db{suffix}").write_bytes(b"the old database's last commits")
    with pytest.raises(DataDirError, match=f"secrets.db{suffix}"):
        restore(tmp_path / "backup.db", restored, environ={})
    assert sorted(os.listdir(restored)) == sorted(["master.key", f"secrets.db{suffix}"])
    (tmp_path / f"copy.db{suffix}").write_bytes(b"old")
    with pytest.raises(CopyError, match=f"copy.db{suffix}"):
        copy_database(f"sqlite://{source}", f"sqlite://{tmp_path / 'copy.db'}")
    assert not (tmp_path / "copy.db").exists()
    (tmp_path / f"again.db{suffix}").write_bytes(b"old")
    with pytest.raises(DataDirError, match=f"again.db{suffix}"):
        backup(source, tmp_path / "again.db")
    assert not (tmp_path / "again.db").exists()
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / f"secrets.db{suffix}").write_bytes(b"old")
    with pytest.raises(DataDirError, match=f"secrets.db{suffix}"):
        init_data_dir(fresh, environ={})
    assert os.listdir(fresh) == [f"secrets.db{suffix}"]


@pytest.mark.parametrize("command", [["copy", "--from", "sqlite://{source}", "--to", "sqlite://{target}"],
                                     ["backup", "--data-dir", "{source}", "--to", "{target}"]], ids=lambda c: c[0])
def test_copy_and_backup_into_a_directory_that_does_not_exist_say_so(source, tmp_path, command, monkeypatch, capsys):
    # the README's `copy --to sqlite:///srv/backup/secrets.db` on a host without /srv/backup
    from server import cli

    missing = tmp_path / "backup"
    argv = [part.format(source=source, target=missing / "secrets.db") for part in command]
    monkeypatch.setattr(cli, "forbid_core_dumps", lambda: None)  # leave the test process as it is
    assert cli.main(argv) == 1
    assert capsys.readouterr().err == f"sitesecrets-server: no such directory ({missing})\n"
    assert not missing.exists()


_OPENING_COMMANDS = {
    "serve": ["serve", "--data-dir", "{data}", "--port", "0", "--workers", "1"],
    "token create": ["token", "create", "--data-dir", "{data}", "--name", "t", "--role", "admin"],
    "rotate-master-key": ["rotate-master-key", "--data-dir", "{data}"],
    "backup": ["backup", "--data-dir", "{data}", "--to", "{tmp}/backup.db"],
    "restore": ["restore", "--data-dir", "{data}", "--from", "{tmp}/backup.db"],
    "migrate": ["migrate", "--data-dir", "{data}"],
    "copy": ["copy", "--from", "sqlite://{data}", "--to", "sqlite://{tmp}/copy.db"],
    "audit verify": ["audit", "verify", "--data-dir", "{data}"],
    "audit export": ["audit", "export", "--data-dir", "{data}", "--since", "0", "--to", "{tmp}/events.jsonl"],
}
# restore reads no database of the data directory's (it makes one); the others never read the key
_READS = {"database": [c for c in _OPENING_COMMANDS if c != "restore"],
          "key": ["serve", "token create", "rotate-master-key", "restore", "audit verify"]}


def _contents(data_dir: Path) -> tuple[list[str], bytes]:
    """The data directory's files, but the locks a command takes and the WAL its database may be
    opened in before the key is read, and the master key's bytes."""
    names = sorted(p.name for p in data_dir.iterdir() if not p.name.endswith((".lock", "-wal", "-shm")))
    return names, (data_dir / "master.key").read_bytes()


@pytest.mark.parametrize("exposed, command", [(what, command) for what, commands in _READS.items() for command in commands],
                         ids=lambda v: v.replace(" ", "-"))
def test_an_exposed_key_or_database_is_a_refused_set_up_exit_2_in_one_sentence(source, tmp_path, exposed, command,
                                                                               monkeypatch, capsys):
    """A master key or database group or others may read is the operator's set-up to change, not
    a failure of the command: every command that opens it exits 2 (a usage error, as a
    --database-url-file others may read is), says the `chmod 600` to run, and changes nothing."""
    from server import cli

    monkeypatch.setattr(cli, "forbid_core_dumps", lambda: None)  # leave the test process as it is
    if command == "restore":
        backup(source, tmp_path / "backup.db")
        (source / "secrets.db").unlink()  # restore wants a data directory with a key and no database
    path = source / ("master.key" if exposed == "key" else "secrets.db")
    os.chmod(path, 0o640)
    before = _contents(source)
    argv = [part.format(data=source, tmp=tmp_path) for part in _OPENING_COMMANDS[command]]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"chmod 600 {path}" in err and "Traceback" not in err, err
    assert _contents(source) == before and mode(path) == 0o640
    assert not {"copy.db", "events.jsonl"} & set(os.listdir(tmp_path))
