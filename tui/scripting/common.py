"""What every scripting command shares: options, the client, output, and exit statuses.

Exit status 0 is success, 1 a refused request (the server's message on stderr), 2 a usage error,
75 a server out of reach or unable to serve just now (`tui.exitstatus`).
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from tui.exitstatus import OK as EXIT_OK, REFUSED as EXIT_REFUSED, TEMPORARY as EXIT_TEMPORARY, USAGE as EXIT_USAGE
from tui.exitstatus import for_http_status
from tui.retry import BUDGET_VAR, budget_from_environment
from tui.settings import not_found_message
from tui.urls import proxy_option


class UsageError(Exception):
    """The command line asks for something that cannot be done as asked (exit 2)."""


class Refused(Exception):
    """The request was refused or could not be made (exit 1)."""


def connection_options(*, site: bool = True) -> argparse.ArgumentParser:
    """--url/--token-file/--token/--insecure/--proxy/--site on every subcommand; SUPPRESS keeps a value given before it.
    Without `site`, no --site: for commands whose --site means something of their own (`token`)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--url", default=argparse.SUPPRESS, help="server URL (env SITESECRETS_URL)")
    parent.add_argument("--token-file", default=argparse.SUPPRESS, metavar="PATH",
                        help="read the API token from PATH (mode 0600)")
    parent.add_argument("--token", default=argparse.SUPPRESS,
                        help="API token; visible to every user of the host, prefer `sitesecrets login`")
    parent.add_argument("--insecure", action="store_true", default=argparse.SUPPRESS,
                        help="allow the token over plain http to another host")
    parent.add_argument("--proxy", default=argparse.SUPPRESS, type=proxy_option, metavar="URL",
                        help="send requests through this proxy (env SITESECRETS_PROXY); HTTP_PROXY is ignored")
    if site:
        parent.set_defaults(site_dest="site")  # where a --site before the command goes (`tui.siteoption`)
        parent.add_argument("--site", default=argparse.SUPPRESS,
                            help="site (env SITESECRETS_SITE; default: the token's own site, or 'default' "
                                 "for a token bound to none)")
    return parent


def version_number(text: str) -> int:
    """An argparse type for a version: a whole number from 1 (else a usage error, exit 2)."""
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a version number (1, 2, ...)")
    return int(text)


def site_of(args: argparse.Namespace) -> str:
    """--site, else $SITESECRETS_SITE, else the token's own site (`token_site`); UsageError when
    it is empty. `--site "$CUSTOMER"` with CUSTOMER unset is a mistake, never a request for the
    default site. The site found is kept in `args`, so it is looked for once per command."""
    from tui.settings import EMPTY_SITE, named_site

    from tui.settings import site_for_token

    site = named_site(getattr(args, "site", None))
    if site is None:
        own = token_site(args)
        site = args.site = site_for_token(own)
        args.operator_default = own is None  # asked for no site and has none: a 404 says to name one
    if not site:
        raise UsageError(f"{EMPTY_SITE}; nothing was done")
    args.asked_site = site  # for a 404's `default_site_hint`
    return site


def token_site(args: argparse.Namespace) -> str | None:
    """The site the token is bound to (None: none): what `sitesecrets login` recorded for a
    stored token, else whoami's answer (then recorded for a stored token), on the connection the
    command goes on to use: one request, made only by commands that need a site."""
    with client_for(args) as client:
        return args.connection_found.token_site(lambda: client.whoami().site)


def url_of(args: argparse.Namespace) -> str:
    """--url, else the default (tui.settings); an empty one stays empty, and is refused as no URL."""
    from tui.settings import default_url

    url = getattr(args, "url", None)
    return default_url() if url is None else url


@contextmanager
def client_for(args: argparse.Namespace) -> Iterator[Any]:
    """The command's client, opened on first use and kept in `args` for the rest of the command
    (`run_command` closes it), so finding the site and doing the work share one connection."""
    client = getattr(args, "connection", None)
    if client is None:
        client = args.connection = open_client(args)
    yield client


def open_client(args: argparse.Namespace) -> Any:
    """A client for --url with the token found for it (`tui.credentials`); the site login
    recorded for that token, if any, in `args.connection_found` (`tui.credentials.Resolved`)."""
    from tui.client import SiteSecretsClient
    from tui.credentials import NO_TOKEN, CredentialsError, resolve
    from tui.urls import warn_plain_loopback

    url = url_of(args)
    try:
        found = resolve(url, token=getattr(args, "token", None), token_file=getattr(args, "token_file", None))
    except CredentialsError as error:
        raise UsageError(str(error)) from None
    if not found.token:
        raise UsageError(NO_TOKEN)
    proxy = getattr(args, "proxy", None) or os.environ.get("SITESECRETS_PROXY")
    try:
        retry_seconds = budget_from_environment()
        client = SiteSecretsClient(url, found.token, insecure=bool(getattr(args, "insecure", False)), proxy=proxy,
                                   retry_seconds=retry_seconds, on_retry=RetryNotice(retry_seconds))
    except ValueError as error:
        raise UsageError(str(error)) from None
    warn_plain_loopback(client.url)
    args.connection_found = found
    return client


class RetryNotice:
    """Tells stderr, once per command, that a request is being tried again and for how long, so
    a cron job's log shows why it took those seconds."""

    def __init__(self, budget: float) -> None:
        self.budget, self.told = budget, False

    def __call__(self, why: str) -> None:
        if not self.told:
            self.told = True
            from tui.display import safe_str

            print(f"sitesecrets: {safe_str(why.rstrip('.'))}; trying again for up to {self.budget:g} s "
                  f"({BUDGET_VAR})", file=sys.stderr)


def refuse_empty_names(args: argparse.Namespace) -> None:
    """UsageError for an --app or --service given empty (`--app "$APP"` with APP unset): a mistake,
    which reached the server as an empty path segment and came back as a bare 'no such path'."""
    for option in ("app", "service"):
        if getattr(args, option, None) == "":
            raise UsageError(f"the {option} name is empty (--{option}); nothing was done")


def run_command(handler: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run one command, turning refusals and usage errors into a sentence on stderr and a status."""
    from tui.client import ApiError, ServerUnreachable

    if sys.stderr is None:  # closed (2>&-): print() would fall back to stdout and mix messages into the output
        sys.stderr = open(os.devnull, "w", encoding="utf-8")
    if sys.stdout is None:  # closed (>&-): a value or a token shown once would go nowhere
        print("sitesecrets: standard output is closed (>&-); nothing was done", file=sys.stderr)
        return EXIT_USAGE
    try:
        refuse_empty_names(args)
        return handler(args) or EXIT_OK
    except UsageError as error:
        return report(args, EXIT_USAGE, "usage_error", str(error))
    except Refused as error:
        return report(args, EXIT_REFUSED, "refused", str(error))
    except ServerUnreachable as error:
        return report(args, EXIT_TEMPORARY if error.temporary else EXIT_REFUSED, "unreachable", str(error))
    except ApiError as error:
        message = error.message if error.code != "not_found" else not_found_message(
            error.message, getattr(args, "asked_site", ""), error.details, getattr(args, "operator_default", False))
        return report(args, for_http_status(error.status), error.code, message,
                      status=error.status, details=error.details, field_errors=error.field_errors())
    finally:
        if (client := getattr(args, "connection", None)) is not None:
            client.close()


def report(args: argparse.Namespace, exit_status: int, code: str, message: str, *, status: int = 0,
           details: dict | None = None, field_errors: list[tuple[str, str]] = ()) -> int:
    """Say why the command failed on stderr and return `exit_status`. With `--json`, as one line
    of JSON in the API's error shape (`code` is the server's, or `usage_error`, `refused`,
    `unreachable` for what was decided here; `status` the HTTP status, when there was one) with
    the exit status beside it, so a script reads the reason without parsing a sentence; stdout
    stays empty either way. Otherwise one sentence, and a line per refused field."""
    from tui.display import json_text, safe_str
    from tui.sitelimits import raise_command

    if getattr(args, "json", False):
        error: dict = {"code": code, "message": message, "details": details or {}}
        if status:
            error["status"] = status
        print(json_text({"error": error, "exit_status": exit_status}, indent=None), file=sys.stderr)
        return exit_status
    if code == "limit_exceeded" and (advice := raise_command((details or {}).get("setting"))):
        message = f"{message.rstrip('.')}. {advice}"
    print(f"sitesecrets: {safe_str(message)}", file=sys.stderr)
    for path, why in field_errors:
        print(f"  {safe_str(path or '/')}: {safe_str(why)}", file=sys.stderr)
    return exit_status


def say_services_to_restart(client, site: str, secret) -> None:
    """After a new value of `secret`: name on stderr the services now flagged for restart because
    of it (its name and scope in their `stale`). The change is made already, so a failure to list
    them only says where to look."""
    from tui.client import ApiError, ServerUnreachable
    from tui.display import safe_str

    try:
        services = client.list_services(site).items
    except (ApiError, ServerUnreachable):
        print("sitesecrets: see `sitesecrets services ls` for the services to restart", file=sys.stderr)
        return
    names = [s.name for s in services if s.restart_required
             and any(ref.name == secret.name and ref.app == secret.app for ref in s.stale)]
    if names:
        print(f"services to restart: {safe_str(', '.join(names))}", file=sys.stderr)


def print_json(data: Any) -> None:
    """`data` as indented JSON: readable Unicode, but C1 controls, bidi and other format characters
    written as `\\uXXXX` (as the C0 ones always are), so even piped JSON that ends up on a
    terminal drives nothing, and it still reads back to the very same strings."""
    from tui.display import json_text

    print(json_text(data))


def write_values(text: str, raw: bool) -> None:
    """Write `text`, which holds secret values, to stdout: exactly when piped or with --raw; on a
    terminal, with control and format characters spelled out (ESC as `\\x1b`), so a value can't
    write the clipboard, clear the screen or retitle the window. Newlines and tabs stay."""
    from tui.display import safe_str

    if raw or not sys.stdout.isatty():
        _write_bytes(text.encode("utf-8"))
        return
    shown = safe_str(text, multiline=True)
    encoding = sys.stdout.encoding or "utf-8"
    data = shown.encode(encoding, "backslashreplace")  # what the terminal's encoding cannot show, as \u20ac
    _write_bytes(data)
    if shown != text or data.decode(encoding) != shown:
        sys.stdout.flush()  # the note must come after the value, not in the middle of it
        print("sitesecrets: control characters are shown escaped; pass --raw for the exact value", file=sys.stderr)


def _write_bytes(data: bytes) -> None:
    """`data` to stdout after whatever text is already buffered for it. Values go out as bytes:
    piped, as the UTF-8 they are stored in (and `set` reads), whatever the locale's encoding says;
    written as text, a character that encoding lacks ended the command in a traceback naming that
    character and where it stands in the value."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)


def stdout_gone() -> None:
    """stdout's reader went away (`| head -1`): point stdout at /dev/null, so what is still
    buffered for it is dropped instead of failing again, with a traceback, at the interpreter's exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def refuse_open_stdout(what: str) -> None:
    """UsageError when stdout is a file every user of the host may read, before `what` (a token,
    values) is asked of the server: `> FILE` under the usual umask 022 makes one 0644, and on a
    shared host the other users are other tenants. Its group may read it (a web server's group
    reading a .env file); a pipe or a terminal is no file anyone else opens."""
    try:
        found = os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file behind stdout
        return
    if not stat.S_ISREG(found.st_mode) or not found.st_mode & stat.S_IRWXO:
        return
    try:
        name = os.readlink(f"/proc/self/fd/{sys.stdout.fileno()}")
    except OSError:
        name = "a file"
    raise UsageError(f"standard output is {name}, a file every user of this host may read (mode "
                     f"{stat.S_IMODE(found.st_mode):o}), and {what} would be written there: chmod 600 it first, or "
                     "write it under umask 077, as in (umask 077; sitesecrets ... > FILE); nothing was done")


def print_once(text: str, lost: str) -> None:
    """Print `text`, which is shown this once (a generated value, a new token), and flush it; when
    stdout's reader has gone, Refused with `lost`: what was made and how to get it back or undo it."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        stdout_gone()
        raise Refused(f"{lost} (standard output was closed before it could be written)") from None


def wants_json(args: argparse.Namespace) -> bool:
    """`--json`, or any output that is not a terminal: scripts get JSON, people get tables."""
    return bool(getattr(args, "json", False)) or not sys.stdout.isatty()


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    from rich.cells import cell_len

    from tui.display import safe_str

    cells = [[safe_str(c if c is not None else "-") for c in row] for row in rows]
    # padded to terminal cells, not characters: a CJK name takes two cells a character
    widths = [max([cell_len(h)] + [cell_len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    for row in [headers] + cells:
        print("  ".join(c + " " * (w - cell_len(c)) for c, w in zip(row, widths)).rstrip())


def stdin_is_terminal() -> bool:
    """Whether stdin is a terminal; False too when the shell closed it (`<&-`)."""
    return sys.stdin is not None and sys.stdin.isatty()


def confirm(question: str) -> bool:
    if not stdin_is_terminal():
        raise UsageError(f"{question} needs confirmation: pass --yes when not at a terminal")
    from tui.display import safe_str
    from tui.prompt import ask

    try:  # the question may hold a name typed or stored by someone else: nothing in it drives the terminal
        return ask(f"{safe_str(question)} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:  # ctrl+d: no answer is no
        return False
