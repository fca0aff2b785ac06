"""`sitesecrets run --service NAME -- CMD [ARGS...]`: start CMD with the service's secrets.

This runs before every start of a function, so it imports nothing it does not need: the standard
library's `http.client` instead of httpx, `json` instead of pydantic, and never Textual. It fetches
the environment once, refuses to start CMD unless it has all of it and `exec` can take it, records
the load (which clears the service's `restart_required`) only then, and replaces itself with CMD
(`os.execve`), so CMD's exit status, signals and standard streams are its own. Values travel
only in the environment, never on a command line; the token this process used is not passed on.

With `--watch` it stays instead, as CMD's supervisor (tui/watch.py), and starts CMD again
whenever the environment changes; everything up to the first start is the same.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from tui.credentials import NO_TOKEN, CredentialsError, Resolved, resolve, token_source
from tui.envfetch import RunError, Server, Unavailable, child_environment, fetch_env, prepare, record_load, token_site
from tui.exitstatus import REFUSED, TEMPORARY, USAGE
from tui.nodump import forbid_dumping
from tui.plain import spelled_out
from tui.retry import Retrier, budget_from_environment
from tui.settings import DEFAULT_SITE, EMPTY_SITE, default_url, named_site, site_for_token
from tui.startcheck import CannotStart, failed_start_status, resolve_command
from tui.urls import check_url, warn_plain_loopback

DEFAULT_SIGNAL = signal.SIGTERM
DEFAULT_GRACE = 10.0
DEFAULT_SETTLE = 2.0
MAX_GRACE = 3600.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sitesecrets run", usage="sitesecrets run --service NAME [options] -- CMD [ARGS...]",
        description="Start CMD with the service's secrets in its environment.",
    )
    parser.add_argument("--service", required=True, help="the service whose bound secrets CMD receives")
    parser.add_argument("--site", help="the service's site (env SITESECRETS_SITE; default: the token's own site)")
    parser.add_argument("--url", default=default_url(), help="server URL (env SITESECRETS_URL)")
    parser.add_argument("--token-file", metavar="PATH", help="read the service token from PATH (mode 0600)")
    parser.add_argument("--token", help="a service token; visible to every user of the host, prefer --token-file, "
                                        "SITESECRETS_TOKEN or `sitesecrets login`")
    parser.add_argument("--insecure", action="store_true", help="allow plain http to a host other than this one")
    parser.add_argument("--allow-env", action="append", default=[], metavar="NAME",
                        help="allow a secret to set NAME although it changes how programs load (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="say on stderr which inherited variables secrets override")
    parser.add_argument("--watch", action="store_true",
                        help="stay as CMD's supervisor and restart it whenever its environment changes")
    parser.add_argument("--signal", type=signal_named, metavar="NAME",
                        help="with --watch: the signal that asks CMD to stop before a restart (default TERM)")
    parser.add_argument("--grace", type=seconds_option, metavar="SECONDS",
                        help=f"with --watch: seconds CMD has to stop before it is killed (default {DEFAULT_GRACE:g})")
    parser.add_argument("--settle", type=seconds_option, metavar="SECONDS",
                        help="with --watch: restart once the environment has not changed for SECONDS, so that "
                             f"secrets changed one after another make one restart (default {DEFAULT_SETTLE:g})")
    return parser


def signal_named(name: str) -> signal.Signals:
    """The signal `TERM`, `SIGTERM` or `term` names."""
    try:
        return signal.Signals["SIG" + name.upper().removeprefix("SIG")]
    except KeyError:
        raise argparse.ArgumentTypeError(f"no signal is named {name!r}; try TERM, INT, HUP, QUIT, USR1 or USR2") from None


def seconds_option(text: str) -> float:
    """--grace's or --settle's seconds: a number from 0 to MAX_GRACE."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_GRACE:  # also refuses nan
        raise argparse.ArgumentTypeError(f"not a number of seconds from 0 to {MAX_GRACE:g}: {text!r}")
    return seconds


def restore_default_signals() -> None:
    """Put back the defaults of the signals Python ignores for itself (SIGPIPE, SIGXFSZ). exec
    keeps a signal ignored, and a shell script cannot trap or reset one ignored on entry: in
    `run -- deploy.sh` every `producer | head -1` would fail with EPIPE instead of ending quietly,
    and a shell loop writing into a closed pipe would never end. subprocess's `restore_signals`
    does the same for the children of `run --watch`."""
    for name in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)


def split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """(options, CMD) around the first `--`; a missing `--` or CMD is a usage error."""
    if "--" not in argv:
        raise RunError("put -- before the command, e.g. sitesecrets run --service api -- python app.py")
    index = argv.index("--")
    if index + 1 == len(argv):
        raise RunError("no command after --")
    return argv[:index], argv[index + 1:]


class UsageProblem(RunError):
    """The URL or the token source is unusable as given: a usage error (exit 2), as it is for
    every other command."""


def token_and_url(args: argparse.Namespace) -> tuple[Resolved, str]:
    """The token (with its site, when login recorded it) and the checked server URL;
    UsageProblem when either is unusable."""
    try:
        found = resolve(args.url, token=args.token, token_file=args.token_file)
        url = check_url(args.url, insecure=args.insecure)
    except (CredentialsError, ValueError) as error:  # ValueError: InsecureTransportError included
        raise UsageProblem(str(error)) from None
    if not found.token:
        raise UsageProblem(NO_TOKEN)
    return found, url


def site_of(site: str | None, found: Resolved, url: str, retrier: Retrier) -> str:
    """The service's site: the one named, else the token's own (a service token is always bound
    to one), asking the server only when login did not record it (and then recording it)."""
    if site is not None:
        return site
    return site_for_token(found.token_site(lambda: token_site(url, found.token, retrier)))


def main(argv: list[str]) -> int:
    options = argv[:argv.index("--")] if "--" in argv else argv
    if "-h" in options or "--help" in options:  # help needs no `--` and no command
        build_parser().print_help()
        return 0
    try:
        options, command = split_command(argv)
    except RunError as error:
        build_parser().print_usage(sys.stderr)
        print(f"sitesecrets run: {spelled_out(error)}", file=sys.stderr)
        return USAGE
    parser = build_parser()
    args = parser.parse_args(options)
    if not args.watch and (args.signal is not None or args.grace is not None or args.settle is not None):
        parser.error("--signal, --grace and --settle apply only with --watch")
    args.site = named_site(args.site)
    if args.site == "":  # `--site "$UNSET"`: a mistake, not the default site
        parser.error(EMPTY_SITE)
    if not args.service:
        parser.error("the service name is empty (--service)")
    try:
        retry_seconds = budget_from_environment()
    except ValueError as error:
        parser.error(str(error))
    forbid_dumping()  # before the token is read; the command, once exec'd, is dumpable as its host allows
    inherited = dict(os.environ)
    try:
        # before asking for any secret: a command that is not there needs none (and records no load)
        resolve_command(command[0], child_environment(inherited, {}, False))
        found, url = token_and_url(args)
        warn_plain_loopback(url, "sitesecrets run")
        # a function starting while its server restarts waits for it, within the budget
        starting = Retrier(retry_seconds)
        site = site_of(args.site, found, url, starting)
        # the default site because nothing named one: the token is bound to no site (one bound to
        # 'default' itself never meets a 404 for it: deleting a site revokes its tokens)
        server = Server(url, found.token, site, args.service, unnamed_site=args.site is None and site == DEFAULT_SITE)
        answer = fetch_env(server, starting)
        if args.watch and not answer.etag:
            raise RunError("the server cannot say when the environment changes (no ETag): upgrade it to use --watch")
        first = prepare(command, inherited, answer.payload or {}, args.service, set(args.allow_env), args.verbose)
        if args.watch:
            from tui.watch import Watch, supervise

            return supervise(Watch(server, command, inherited, set(args.allow_env), args.verbose,
                                   args.signal or DEFAULT_SIGNAL, DEFAULT_GRACE if args.grace is None else args.grace,
                                   DEFAULT_SETTLE if args.settle is None else args.settle, retry_seconds,
                                   token_source(args.url, token=args.token, token_file=args.token_file)),
                             first, answer.etag)
        if first.versions is not None:
            record_load(server, first.versions, Retrier(retry_seconds))
    except CannotStart as error:
        print(f"sitesecrets run: {spelled_out(error)}", file=sys.stderr)
        return error.status
    except (RunError, ValueError) as error:
        print(f"sitesecrets run: {spelled_out(error)}; {spelled_out(command[0])} was not started", file=sys.stderr)
        return USAGE if isinstance(error, UsageProblem) else TEMPORARY if isinstance(error, Unavailable) else REFUSED
    # The load is recorded and exec may still fail: the file replaced since the check, a format
    # only the kernel judges (ENOEXEC), a `noexec` mount or a busy text file. The window is that
    # of one system call, and the service is then recorded as loaded though it did not start; a
    # supervisor sees the status below and starts it again, which records the load again.
    restore_default_signals()
    try:
        os.execve(first.program, command, first.env)  # the file check_start found, not a second PATH search
    except OSError as error:
        print(f"sitesecrets run: cannot start {spelled_out(command[0])}: {error.strerror}", file=sys.stderr)
        return failed_start_status(error)
    return 0  # not reached: exec replaced this process

