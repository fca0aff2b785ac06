"""The master key: where it comes from, how it is checked, and how a rotation is made crash-safe.

The key lives in `DATA_DIR/master.key` (base64, mode 0600) or in the environment variable
`SITESECRETS_MASTER_KEY`. It never enters the database; the database holds only a key check
value (see `crypto.key_check_value`) so a wrong key is refused at start-up instead of failing
at the first reveal.

A rotation writes the new key to `master.key.new` before the database changes, and renames it
over `master.key` after the database committed. If the process dies in between, `load_master_key`
finishes the job from whichever file matches the database's check value.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from . import crypto, files

ENV_VAR = "SITESECRETS_MASTER_KEY"
KEY_FILE = "master.key"
NEW_KEY_FILE = "master.key.new"


class MasterKeyError(Exception):
    """The master key is missing, malformed, exposed or wrong; the message says which, in one sentence."""


class ExposedKeyFile(files.Exposed, MasterKeyError):
    """A key file group or others may read (exit 2: see `files.Exposed`)."""


class WrongMasterKey(MasterKeyError):
    """A well-formed key that is not the one this database's key check value was made with."""


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode()


def decode_key(text: str, origin: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"{origin} is not valid base64") from None
    if len(key) != crypto.KEY_BYTES:
        raise MasterKeyError(f"{origin} holds {len(key)} bytes; a master key is {crypto.KEY_BYTES} bytes")
    return key


def read_key_file(path: Path) -> bytes:
    """Read a key file, refusing one that others may read (as ssh does for a private key)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise MasterKeyError(f"no master key: {path} does not exist and {ENV_VAR} is not set") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ExposedKeyFile(f"{path} is accessible by group or others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}")
    text = path.read_text(errors="replace")
    if not text.strip():
        raise MasterKeyError(f"{path} is empty")
    return decode_key(text, str(path))


def _read_pending_key(path: Path) -> bytes | None:
    """The new key of a rotation, or None if the rotation died while writing it (empty or cut
    short): such a rotation never reached the database, which it changes only once this file is
    whole and synced. A file others may read is still refused, whatever it holds."""
    try:
        return read_key_file(path)
    except MasterKeyError:
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise
        return None


def load_master_key(data_dir: Path, check_value: str, environ: dict[str, str] | None = None) -> bytes:
    """The master key that opens this database, finishing an interrupted rotation if there was one."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV_VAR):
        key = decode_key(environ[ENV_VAR], ENV_VAR)
        if not crypto.key_matches(key, check_value):
            raise WrongMasterKey(f"{ENV_VAR} is not the master key of this database")
        return key
    current, pending = data_dir / KEY_FILE, data_dir / NEW_KEY_FILE
    if pending.exists():
        new_key = _read_pending_key(pending)
        if new_key is not None and crypto.key_matches(new_key, check_value):
            os.replace(pending, current)  # the database committed the rotation; make the file say so
            files.sync_dir(data_dir)
            return new_key
        pending.unlink()  # the rotation never committed; the current key still rules
        files.sync_dir(data_dir)
    key = read_key_file(current)
    if not crypto.key_matches(key, check_value):
        raise WrongMasterKey(f"{current} is not the master key of this database")
    return key
