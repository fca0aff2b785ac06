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

Login also records the site the token is bound to ("" for an operator token, bound to none), so
a command that names no site works on the token's own site without asking the server whose
token it is (`tui.settings.site_for_token`). For a login made before login did that, the first
command that asks records the answer (`Resolved.token_site`).

For an https URL, login also stores what to trust for it: the server's certificate, pinned, or a
CA file (`tui.pins`); every later connection to that URL, whichever way its token came, uses it.

Standard library only: `sitesecrets run` imports this before every start of a function.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from tui.pins import Trust

TOKEN_ENV = "SITESECRETS_TOKEN"
TOKEN_PREFIX = "ss_"
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
        raise _unreadable(what, path, error) from None
    try:
        file = os.fdopen(fd, "rb")  # a directory opens, and is refused only here
    except OSError as error:
        os.close(fd)
        raise _unreadable(what, path, error) from None
    with file:
        if os.fstat(fd).st_mode & 0o077:
            raise CredentialsError(f"{what} {path} is readable by other users; "
                                   f"run `chmod 600 {path}` (and replace the token if others could read it)")
        try:
            data = file.read()
        except OSError as error:
            raise _unreadable(what, path, error) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CredentialsError(f"{what} {path} is not UTF-8 text") from None


def _unreadable(what: str, path: str, error: OSError) -> CredentialsError:
    return CredentialsError(f"cannot read {what} {path}: {error.strerror}")


def read_token_file(path: str) -> str:
    return one_token(_read_private(path, "token file"), f"token file {path}")


def one_token(text: str, where: str) -> str:
    """The token `text` holds, without the line ending or spaces around it (a file's last line,
    `kubectl create secret --from-file`, a CRLF env file); CredentialsError naming `where`, never
    the text, when it is not one token. A header cannot carry a line break, and the HTTP libraries
    say so by quoting the header: the token would be in the message."""
    token = text.strip()
    if not token or not all(c.isascii() and c.isprintable() and not c.isspace() for c in token):
        raise CredentialsError(f"{where} does not hold one token")
    return token


def _load(directory: str) -> dict:
    """The credentials file of `directory` as stored ({} when there is none)."""
    path = os.path.join(directory, CREDENTIALS_FILE)
    if not os.path.exists(path):
        return {}
    try:
        data = json.loads(_read_private(path, "credentials file"))
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise _damaged(path)
    return data


def _damaged(path: str) -> CredentialsError:
    return CredentialsError(f"credentials file {path} is damaged; remove it and run `sitesecrets login` again")


def load_credentials(directory: str) -> dict[str, str]:
    """Server URL -> token, from the credentials file in `directory` ({} when there is none)."""
    tokens = _load(directory).get("tokens", {})
    if not isinstance(tokens, dict) or not all(isinstance(v, str) for v in tokens.values()):
        raise _damaged(os.path.join(directory, CREDENTIALS_FILE))
    return tokens


def load_trust(directory: str) -> dict[str, Trust]:
    """Server URL -> what login decided to trust for it (https only; see `tui.pins`)."""
    stored = _load(directory).get("trust", {})
    try:
        return {url: Trust.from_json(value) for url, value in stored.items()}
    except (AttributeError, ValueError):
        raise _damaged(os.path.join(directory, CREDENTIALS_FILE)) from None


def load_sites(directory: str) -> dict[str, str]:
    """Server URL -> the site login found the stored token bound to ("": none); a URL missing
    here was logged in to before login recorded sites."""
    sites = _load(directory).get("sites", {})
    if not isinstance(sites, dict) or not all(isinstance(v, str) for v in sites.values()):
        raise _damaged(os.path.join(directory, CREDENTIALS_FILE))
    return sites


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


@contextmanager
def _changing(directory: str) -> Iterator[None]:
    """Hold the credentials file still while it is read, changed and written back: `flock` on the
    (0700) directory itself, so no lock file appears beside it. Without it, a command recording
    a token's site (`record_site`) could write back the file as it was before a `login` in
    another shell replaced it, and that login's token would be lost."""
    _private_dir(directory)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _save(directory: str, tokens: dict[str, str], trust: dict[str, Trust], sites: dict[str, str]) -> str:
    path = os.path.join(directory, CREDENTIALS_FILE)
    data = {"tokens": tokens, "trust": {url: value.to_json() for url, value in trust.items()}, "sites": sites}
    _write_atomically(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def store_token(directory: str, url: str, token: str, trust: Trust | None = None, site: str | None = None) -> str:
    """Keep `token` for `url` beside any other server's, with what login decided to trust for it
    (None: nothing, as for http or a unix socket) and the site it is bound to ("": none; None:
    not known); all replace what `url` had. The file's path."""
    key = server_key(url)
    with _changing(directory):
        trusted, sites = load_trust(directory), load_sites(directory)
        trusted.pop(key, None)
        sites.pop(key, None)
        if trust is not None:
            trusted[key] = trust
        if site is not None:
            sites[key] = site
        return _save(directory, load_credentials(directory) | {key: token}, trusted, sites)


def record_site(directory: str, url: str, token: str, site: str) -> None:
    """Record `site` ("": none) as the site of the token stored for `url`, as login does, for a
    token stored before login recorded sites. Nothing changes when `url` holds another token by
    now (a login since) or has its site recorded; every other entry of the file is kept as read."""
    key = server_key(url)
    with _changing(directory):
        if load_credentials(directory).get(key) != token or key in load_sites(directory):
            return
        data = _load(directory)
        data["sites"] = {**data.get("sites", {}), key: site}
        _write_atomically(os.path.join(directory, CREDENTIALS_FILE), json.dumps(data, indent=2, sort_keys=True) + "\n")


def forget_token(directory: str, url: str) -> bool:
    """Drop the token and the trust stored for `url`; False if there was no token."""
    if not os.path.exists(os.path.join(directory, CREDENTIALS_FILE)):
        return False  # and no directory made for it
    with _changing(directory):
        tokens, trusted, sites = load_credentials(directory), load_trust(directory), load_sites(directory)
        trusted.pop(server_key(url), None)
        sites.pop(server_key(url), None)
        if tokens.pop(server_key(url), None) is None:
            return False
        _save(directory, tokens, trusted, sites)
        return True


@dataclass(frozen=True)
class Resolved:
    """A token and the site it is bound to, when known without asking the server: `site` is
    what login recorded for a stored token ("": bound to none), None for any other token.
    `record`, for a stored token whose site login did not record, keeps the site once learnt."""

    token: str | None
    site: str | None = None
    record: Callable[[str], None] | None = None

    def token_site(self, ask: Callable[[], str | None]) -> str | None:
        """The site the token is bound to (None: none): what login recorded, else what `ask()`
        (whoami) answers, then recorded, so the next command with this stored token need not ask."""
        if self.site is not None:
            return self.site or None
        site = ask()
        self.learnt(site)
        return site

    def learnt(self, site: str | None) -> None:
        """Record `site` (whoami's answer; None: bound to none) for a stored token whose site login
        did not record; nothing for any other token. Never fails: a read-only or damaged file
        leaves the command (or the TUI) going on, and the next one asks again."""
        if self.site is not None or self.record is None:
            return
        try:
            self.record(site or "")
        except (OSError, CredentialsError):
            pass


def resolve_token(url: str, *, token: str | None = None, token_file: str | None = None,
                  environ: dict[str, str] | os._Environ[str] = os.environ) -> str | None:
    """The token to use for `url` by the precedence above; None when there is none at all.
    Raises CredentialsError for one that is not a token (`looks_like_token`)."""
    return resolve(url, token=token, token_file=token_file, environ=environ).token


def resolve(url: str, *, token: str | None = None, token_file: str | None = None,
            environ: dict[str, str] | os._Environ[str] = os.environ) -> Resolved:
    """`resolve_token`'s token, with the site login recorded for it when it is the stored one."""
    if token and token_file:
        raise CredentialsError("pass --token-file or --token, not both")
    if token_file:
        return Resolved(_a_token(read_token_file(token_file), f"token file {token_file}"))
    if token:
        print(TOKEN_ARGUMENT_WARNING, file=sys.stderr)
        return Resolved(_a_token(one_token(token, "--token"), "--token"))
    # a token from an option or the environment is stored nowhere, so neither is its site: each
    # command asks whoami again. Writing it would put a token the user chose not to store, or
    # its site, on disk, and it could be another token by the next command (`export` again).
    if environ.get(TOKEN_ENV):
        return Resolved(_a_token(one_token(environ[TOKEN_ENV], TOKEN_ENV), TOKEN_ENV))
    directory = config_dir(environ)
    stored = load_credentials(directory).get(server_key(url))
    if not stored:
        return Resolved(None)
    site = load_sites(directory).get(server_key(url))
    return Resolved(stored, site, None if site is not None else lambda learnt: record_site(directory, url, stored, learnt))


@dataclass(frozen=True)
class TokenSource:
    """Where `resolve_token` took a token from, for `run --watch`, which outlives it: after the
    server refuses the token, `read()` gives what that place holds now (a rotated token file, a
    new `sitesecrets login`), or `read` is None where it cannot change while this process runs
    (--token, the environment). `where` names it for a message, never showing the token."""

    where: str
    read: Callable[[], str | None] | None = None


def token_source(url: str, *, token: str | None = None, token_file: str | None = None,
                 environ: dict[str, str] | os._Environ[str] = os.environ) -> TokenSource:
    """The place `resolve_token` with the same arguments reads, by the same precedence."""
    if token_file:
        return TokenSource(f"the token file {token_file}", lambda: _a_token(read_token_file(token_file),
                                                                            f"token file {token_file}"))
    if token:
        return TokenSource("the --token option")
    if environ.get(TOKEN_ENV):
        return TokenSource(TOKEN_ENV)
    return TokenSource("the token `sitesecrets login` stored",
                       lambda: load_credentials(config_dir(environ)).get(server_key(url)))


def looks_like_token(text: str) -> bool:
    """Whether `text` can be a Site Secrets token: every one starts with `TOKEN_PREFIX`. What does
    not (the master key given as --token-file, a database password in SITESECRETS_TOKEN) is never
    sent as a bearer token: it would reach whatever answers at the URL, a wrong server included."""
    return text.startswith(TOKEN_PREFIX)


def _a_token(token: str, source: str) -> str:
    if not looks_like_token(token):
        raise CredentialsError(f"{source} does not hold a Site Secrets token (those start with {TOKEN_PREFIX}); "
                               "it was sent nowhere")
    return token


NO_TOKEN = "no token; run `sitesecrets login`, pass --token-file PATH or set SITESECRETS_TOKEN"
