"""Database URLs, which may hold a password: where the commands take them from, and how a message
that might quote one loses the password.

Every user of the machine can read a process's command line (`ps`, /proc/PID/cmdline), so a URL
holding a password never comes from one: `--database-url` and `copy --from/--to` refuse it. It
comes from the environment instead (readable only by the process's own user and root), from a file
only its owner may read (`--database-url-file`, as ssh treats a private key), or not at all:
libpq reads the password from ~/.pgpass or PGPASSWORD when the URL holds none.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping
from urllib.parse import unquote

from .config import DATABASE_URL_ENV, DATABASE_URL_FILE_ENV

_MAX_FILE_BYTES = 64 * 1024


class DatabaseUrlError(Exception):
    """The URL cannot be taken as given; the message is one sentence and never holds a password.

    Always a usage error (exit 2, as argparse's own): the URL's source as given (an option, a file
    others may read, a file that is not one URL, the environment) is what must change, and the
    same command fails again until it does, as `sitesecrets` treats a token file others may read."""

    exit_status = 2


def passwords(url: str) -> list[str]:
    """Every form the URL's password takes in text (as written and percent-decoded), longest first;
    [] when it holds none. Parsed as libpq parses a URI: the user information ends at the first
    '/' or '?', the password may also be a `password=` query parameter."""
    found: list[str] = []
    rest = url.split("://", 1)[1] if "://" in url else ""
    userinfo, at, _ = re.split(r"[/?]", rest, maxsplit=1)[0].rpartition("@")
    if at and ":" in userinfo:
        found.append(userinfo.split(":", 1)[1])
    for pair in url.partition("?")[2].split("&"):
        name, _, value = pair.partition("=")
        if unquote(name) == "password":
            found.append(value)
    forms = {form for raw in found for form in (raw, unquote(raw)) if form}
    return sorted(forms, key=len, reverse=True)


def has_password(url: str) -> bool:
    return bool(passwords(url))


def redact(text: str, url: str) -> str:
    """`text` (a driver's error message, say) with every form of `url`'s password replaced by ***:
    libpq quotes parts of a URL it cannot parse, the password among them."""
    for secret in passwords(url):
        text = text.replace(secret, "***")
    return text


def read_url_file(path: Path, option: str) -> str:
    """The one URL in the file at `path`. A file holding a password is refused when anyone but its
    owner may read it (checked on the open file); one without a password is no secret."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as error:
        raise DatabaseUrlError(f"cannot read {option} {path}: {error.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(fd).st_mode
        data = file.read(_MAX_FILE_BYTES + 1)
    try:
        url = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise DatabaseUrlError(f"{option} {path} is not UTF-8 text") from None
    if not url or len(data) > _MAX_FILE_BYTES or any(c.isspace() for c in url):
        raise DatabaseUrlError(f"{option} {path} does not hold one database URL")
    if has_password(url) and mode & 0o077:
        raise DatabaseUrlError(f"{option} {path} holds a password and is accessible by group or others "
                               f"(mode {mode & 0o777:o}); run: chmod 600 {path}")
    return url


def as_url(text: str) -> str:
    """`text` as a database URL: a bare path (no `scheme://`) is a SQLite file or a data directory."""
    return text if "://" in text else f"sqlite://{Path(text).absolute()}"


def resolve(given: str | None, file: Path | None, option: str, file_option: str,
            env_name: str, environ: Mapping[str, str], file_env_name: str | None = None) -> str | None:
    """The URL from the command line (only without a password), else from the file, else from the
    environment; None when none of them names one."""
    if given is not None:
        if has_password(given):
            raise DatabaseUrlError(
                f"{option} holds a password, which every user of this machine can read in the process list; "
                f"give the URL in ${env_name} or in a file only you can read ({file_option} FILE), "
                f"or leave the password out and keep it in ~/.pgpass or PGPASSWORD")
        return given
    if file is not None:
        return read_url_file(file, file_option)
    if environ.get(env_name):
        return environ[env_name]
    if file_env_name and environ.get(file_env_name):
        return read_url_file(Path(environ[file_env_name]), f"${file_env_name}")
    return None


def database_url_from_environment(environ: Mapping[str, str]) -> str | None:
    """The database URL of `SITESECRETS_DATABASE_URL` or the file `SITESECRETS_DATABASE_URL_FILE` names."""
    return resolve(None, None, "", "", DATABASE_URL_ENV, environ, DATABASE_URL_FILE_ENV)
