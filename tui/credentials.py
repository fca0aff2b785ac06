"""Where `sitesecrets` finds its token, so it never has to be on a command line.

On a shared host every user can read every process's arguments, and a shell keeps its history,
so a token belongs in a file only its owner can read or in the environment. Precedence, first
found wins:

1. `--token-file PATH` or `--token TOKEN` (both at once is a usage error; `--token` warns),
2. the environment variable `SITESECRETS_TOKEN`,
3. the token `sitesecrets login` stored for the server URL in
   `$XDG_CONFIG_HOME/sitesecrets/credentials.json` (`~/.config/...` by default).

An explicit option wins over the environment as options always do; stored credentials come last
because they are the quiet default of an interactive user. A token file or the credentials file
readable by group or others is refused, not warned about: the token has already leaked to every
account that can read it, a warning scrolls by unseen in a cron job, and `chmod 600` is the fix
(the server refuses an exposed master key for the same reason).

Standard library only: `sitesecrets run` imports this before every start of a function.
"""

from __future__ import annotations

import json
import os
import sys

TOKEN_ENV = "SITESECRETS_TOKEN"
CREDENTIALS_FILE = "credentials.json"
TOKEN_ARGUMENT_WARNING = ("sitesecrets: warning: --token shows the token to every user of this host (ps) and "
                          "keeps it in shell history; use `sitesecrets login`, --token-file or SITESECRETS_TOKEN")


class CredentialsError(Exception):
    """No usable token, or a token store we refuse to use; one sentence for stderr."""


def config_dir(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """`$XDG_CONFIG_HOME/sitesecrets`, or `~/.config/sitesecrets`."""
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "sitesecrets")


def server_key(url: str) -> str:
    """The key credentials are stored under: the URL as given, without a trailing slash."""
    return url.rstrip("/")


def _read_private(path: str, what: str) -> str:
    """The text of `path`, refused if anyone but its owner may read it (checked on the open file)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as error:
        raise CredentialsError(f"cannot read {what} {path}: {error.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        if os.fstat(fd).st_mode & 0o077:
            raise CredentialsError(f"{what} {path} is readable by other users; "
                                   f"run `chmod 600 {path}` (and replace the token if others could read it)")
        data = file.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CredentialsError(f"{what} {path} is not UTF-8 text") from None


def read_token_file(path: str) -> str:
    token = _read_private(path, "token file").strip()
    if not token or any(c.isspace() for c in token):
        raise CredentialsError(f"token file {path} does not hold one token")
    return token


def load_credentials(directory: str) -> dict[str, str]:
    """Server URL -> token, from the credentials file in `directory` ({} when there is none)."""
    path = os.path.join(directory, CREDENTIALS_FILE)
    if not os.path.exists(path):
        return {}
    try:
        tokens = json.loads(_read_private(path, "credentials file")).get("tokens")
    except (ValueError, AttributeError):
        tokens = None
    if not isinstance(tokens, dict) or not all(isinstance(v, str) for v in tokens.values()):
        raise CredentialsError(f"credentials file {path} is damaged; remove it and run `sitesecrets login` again")
    return tokens


def _private_dir(directory: str) -> None:
    """Create `directory` and each missing parent 0700, whatever the umask (`os.makedirs` gives the
    parents 0777 less the umask: world-writable under `umask 000`); then make `directory` 0700.
    Parents that exist are not ours to change."""
    missing = []
    path = os.path.abspath(directory)
    while not os.path.exists(path):
        missing.append(path)
        path = os.path.dirname(path)
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue  # made meanwhile by someone else
        os.chmod(path, 0o700)
    os.chmod(directory, 0o700)


def _write_atomically(path: str, text: str) -> None:
    """Replace `path` with `text`: a new 0600 file (O_EXCL, so never someone else's) renamed over it."""
    tmp = f"{path}.{os.getpid()}.{os.urandom(6).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask may have taken bits off; 0600 exactly
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)


def _save(directory: str, tokens: dict[str, str]) -> str:
    _private_dir(directory)
    path = os.path.join(directory, CREDENTIALS_FILE)
    _write_atomically(path, json.dumps({"tokens": tokens}, indent=2, sort_keys=True) + "\n")
    return path


def store_token(directory: str, url: str, token: str) -> str:
    """Keep `token` for `url` beside any other server's; the file's path."""
    return _save(directory, load_credentials(directory) | {server_key(url): token})


def forget_token(directory: str, url: str) -> bool:
    """Drop the token stored for `url`; False if there was none."""
    tokens = load_credentials(directory)
    if tokens.pop(server_key(url), None) is None:
        return False
    _save(directory, tokens)
    return True


def resolve_token(url: str, *, token: str | None = None, token_file: str | None = None,
                  environ: dict[str, str] | os._Environ[str] = os.environ) -> str | None:
    """The token to use for `url` by the precedence above; None when there is none at all."""
    if token and token_file:
        raise CredentialsError("pass --token-file or --token, not both")
    if token_file:
        return read_token_file(token_file)
    if token:
        print(TOKEN_ARGUMENT_WARNING, file=sys.stderr)
        return token
    if environ.get(TOKEN_ENV):
        return environ[TOKEN_ENV]
    return load_credentials(config_dir(environ)).get(server_key(url))


NO_TOKEN = "no token; run `sitesecrets login`, pass --token-file PATH or set SITESECRETS_TOKEN"
