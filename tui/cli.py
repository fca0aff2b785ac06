"""`sitesecrets`: the console entry point.

With no subcommand it opens the TUI on a server; `sitesecrets local` opens it on an embedded one.
Subcommands are registered in `build_parser` so the scripting commands can join later. Start-up
is kept light on purpose: Textual and the server are imported only when they are needed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable

from tui.settings import Settings, default_site_hint, default_url, named_site, not_found_message, opening_site
from tui.siteoption import BEFORE, SiteOptionError, place_site_before_command
from tui.uioptions import add_ui_options, place_ui_options_before_command
from tui.urls import proxy_option


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/sitesecrets`, or `~/.local/share/sitesecrets`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sitesecrets"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sitesecrets", description="Site Secrets terminal UI.",
                                     allow_abbrev=False)  # else `rollback --to` reads as an abbreviated --token
    parser.add_argument("--url", default=default_url(),
                        help="server URL (env SITESECRETS_URL, default %(default)s)")
    parser.add_argument("--token-file", metavar="PATH", help="read the API token from PATH (mode 0600)")
    parser.add_argument("--token", help="API token; visible to every user of the host, prefer `sitesecrets login`, "
                                        "--token-file or SITESECRETS_TOKEN")
    parser.add_argument("--insecure", action="store_true",
                        help="allow sending the token over plain http to another host")
    parser.add_argument("--proxy", type=proxy_option, metavar="URL",
                        help="send requests through this proxy (env SITESECRETS_PROXY); "
                             "HTTP_PROXY and the like are ignored")
    add_ui_options(parser, before_command=True, site_dest=BEFORE)  # also `local`'s (`tui.uioptions`)
    parser.set_defaults(handler=run_remote)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    local = commands.add_parser("local", help="open the TUI on an embedded server (initialised on first use)")
    local.add_argument("--data-dir", type=Path, default=default_data_dir(), help="default %(default)s")
    add_ui_options(local, before_command=False)
    local.set_defaults(handler=run_local, site_dest="site")
    commands.add_parser("run", help="start a command with a service's secrets: run --service NAME -- CMD",
                        add_help=False)  # parsed by tui.run before this parser sees it
    from tui.scripting import dispatch, register

    register(commands)
    for name, sub in commands.choices.items():
        if name not in ("local", "run"):
            sub.set_defaults(handler=dispatch)
    from tui import completion

    completion.add_parser(commands, build_parser)
    return parser


def settings_from(args: argparse.Namespace, url: str, local_token_file: str | None = None) -> Settings:
    return Settings(url=url, site=named_site(getattr(args, "site", None)), read_only=args.read_only, insecure=args.insecure,
                    reveal_seconds=args.reveal_seconds, clipboard_seconds=args.clipboard_seconds,
                    refresh_seconds=max(0.0, args.refresh_seconds),
                    local_token_file=local_token_file)


class CannotOpen(Exception):
    """The TUI cannot open: the token, the site or the server is not there. The message is one
    sentence; `status` the exit status, every command's for the same failure (`tui.exitstatus`)."""

    def __init__(self, sentence: str, status: int) -> None:
        super().__init__(sentence)
        self.status = status


def connect(client, settings: Settings, learnt: Callable[[str | None], None] | None = None):
    """Who the token is and the site to open (`opening_site`), or CannotOpen with one clear
    sentence instead of a traceback. `learnt` is given whoami's site, to record for a stored
    token (`Resolved.learnt`). A server out of reach, or one that cannot serve just now, is 75, so
    a script or a unit that opens the TUI knows to try again later; a refusal is 1, a site named
    empty 2."""
    from tui.client import ApiError, ServerUnreachable
    from tui.exitstatus import REFUSED, TEMPORARY, USAGE, for_http_status

    site, identity = settings.site, None
    try:
        identity = client.whoami()
        if learnt is not None:
            learnt(identity.site)
        if identity.role.value == "service":  # it may fetch its service's environment, nothing a tab shows
            raise CannotOpen(f"this is the service token of service {identity.service!r}, which only gives that "
                             f"service its secrets (`sitesecrets run --service {identity.service} -- CMD`); "
                             "open the TUI with an admin, editor or viewer token.", REFUSED)
        site = opening_site(settings.site, identity.site)
        client.get_site(site)
        return identity, site
    except ValueError as error:
        raise CannotOpen(f"{error}.", USAGE if not settings.site else REFUSED) from None
    except ServerUnreachable as error:
        raise CannotOpen(str(error), TEMPORARY if error.temporary else REFUSED) from None
    except ApiError as error:
        if error.code == "unauthorized":
            raise CannotOpen("the server rejected the token.", REFUSED) from None
        if error.code == "not_found":
            unnamed = settings.site is None and identity is not None and not identity.site
            if default_site_hint(site, error.details, unnamed):  # site 'default': as every command says it
                raise CannotOpen(not_found_message(error.message, site, error.details, unnamed), REFUSED) from None
            raise CannotOpen(f"there is no site {site!r} for this token; pick one with --site.", REFUSED) from None
        raise CannotOpen(error.message, for_http_status(error.status)) from None


def build_app(client, settings: Settings, learnt: Callable[[str | None], None] | None = None):
    """The TUI's App on `client`, once the token and site are checked (`connect`). The check,
    then the Secrets tab's first load, run in threads while Textual is imported and the App built,
    so the server's answers overlap the import instead of following it."""
    from tui.sitedata import fetch_site_data, in_thread

    def first_calls():
        identity, site = connect(client, settings, learnt)
        return identity, in_thread(lambda: fetch_site_data(client, site))

    started = in_thread(first_calls)
    from tui.ui.app import SiteSecretsApp  # Textual only now: keeps `--help` fast

    identity, first_load = started.result()  # connect's CannotOpen, if any, is raised here
    return SiteSecretsApp(client, settings, identity, first_load)


def run_tui(client, settings: Settings, learnt: Callable[[str | None], None] | None = None) -> int:
    """Open the TUI on `client` and block until the user quits; the exit status. `learnt`: as
    `connect`'s."""
    from tui.crash import disable_core_dumps

    disable_core_dumps()
    try:
        app = build_app(client, settings, learnt)
    except CannotOpen as error:
        from tui.display import safe_str

        print(f"sitesecrets: {safe_str(str(error))}", file=sys.stderr)  # as every command says why (`report`)
        return error.status
    app.run()
    return app.return_code or 0


def run_remote(args: argparse.Namespace) -> int:
    from tui.client import SiteSecretsClient
    from tui.credentials import NO_TOKEN, CredentialsError, resolve

    try:
        found = resolve(args.url, token=args.token, token_file=args.token_file)
    except CredentialsError as error:
        raise SystemExit(f"sitesecrets: {error}") from None
    token = found.token
    if not token:
        raise SystemExit(f"sitesecrets: {NO_TOKEN}.")
    try:
        client = SiteSecretsClient(args.url, token, insecure=args.insecure, proxy=args.proxy or os.environ.get("SITESECRETS_PROXY"))
    except ValueError as error:  # includes InsecureTransportError
        raise SystemExit(f"sitesecrets: {error}") from None
    try:
        return run_tui(client, settings_from(args, client.url), found.learnt)  # whoami's site kept, as commands do
    finally:
        client.close()


def run_local(args: argparse.Namespace) -> int:
    from tui.local import run_local_tui

    return run_local_tui(args.data_dir,
                         lambda client, url, token_file: run_tui(client, settings_from(args, url, token_file)))


_VALUED = {"--url", "--token", "--token-file", "--site", "--proxy"}


def _run_position(argv: list[str]) -> int | None:
    """Where the `run` subcommand stands, after any connection options (`sitesecrets --url U run ...`)."""
    i = 0
    while i < len(argv) and argv[i].startswith("--") and argv[i] != "--":
        i += 2 if argv[i] in _VALUED else 1
    return i if i < len(argv) and argv[i] == "run" else None


INTERRUPTED = 130
"""Exit status after ctrl+c: 128 + SIGINT, what a shell reports for a command it stopped."""


def interrupted() -> int:
    """ctrl+c at a prompt or while starting: one line, not a traceback."""
    if sys.stderr.isatty():
        sys.stderr.write("\n")  # a hidden prompt leaves the cursor after its text
    print("sitesecrets: interrupted", file=sys.stderr)
    return INTERRUPTED


PIPE_CLOSED = 141
"""Exit status once stdout's reader has gone: 128 + SIGPIPE, what a shell reports for `yes | head -1`."""


def main(argv: list[str] | None = None) -> int:
    from tui.nodump import forbid_dumping

    # every command may hold a token or a value (a value half read from stdin, an export); a core
    # file of it (ctrl+\ is SIGQUIT, whose default is a dump) would hold them. `execve` undoes
    # this, so the program `run` starts dumps as its host allows
    forbid_dumping()
    try:
        status = run_argv(sys.argv[1:] if argv is None else argv)
        if sys.stdout is not None:
            sys.stdout.flush()  # a write to a gone reader fails here, not in the interpreter's exit
        return status
    except KeyboardInterrupt:
        return interrupted()
    except BrokenPipeError:  # stdout's reader went away (`sitesecrets export | head -1`): end quietly, as `yes` does
        from tui.scripting.common import stdout_gone

        stdout_gone()
        return PIPE_CLOSED


def run_argv(argv: list[str]) -> int:
    """Run the subcommand `argv` names (`run` before argparse, the rest through it)."""
    at = _run_position(argv)
    if at is not None:  # before argparse: everything after `--` belongs to CMD, untouched
        from tui.run import main as run_main

        return run_main(argv[:at] + argv[at + 1:])
    try:
        args = parse_args(argv)
    except SiteOptionError as error:
        from tui.display import safe_str
        from tui.exitstatus import USAGE

        print(f"sitesecrets: {safe_str(str(error))}", file=sys.stderr)
        return USAGE
    return args.handler(args)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """`argv` parsed, a --site before the subcommand moved to the subcommand's site
    (`tui.siteoption`) and the TUI's options to `local`'s (`tui.uioptions`); argparse's
    SystemExit, or SiteOptionError."""
    args = build_parser().parse_args(argv)
    place_site_before_command(args)
    place_ui_options_before_command(args)
    return args


if __name__ == "__main__":
    sys.exit(main())
