"""`sitesecrets login | logout`: keep a server's token in a file only its owner can read.

`login` asks for the token without echoing it (or reads one line from a pipe), checks it with
`whoami` and stores it under the server URL with the site the token is bound to, the site of every
command that names none (see `tui.credentials` for the file and precedence),
so no token ever has to be typed on a command line. For an https URL it first decides what to
trust the server by (`servercert`: its certificate pinned, or a CA file) and stores that with the
token, before the token is asked for: a token is never typed for a server not yet trusted.
"""

from __future__ import annotations

import argparse
import os
import sys

from .common import Refused, UsageError, stdin_is_terminal, url_of


def add_parsers(commands) -> None:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--url", default=argparse.SUPPRESS, help="server URL (env SITESECRETS_URL)")
    login = commands.add_parser("login", parents=[parent], help="check a token and store it for the server URL")
    login.add_argument("--insecure", action="store_true", default=argparse.SUPPRESS,
                       help="allow the token over plain http to another host")
    login.add_argument("--fingerprint", metavar="SHA256:...",
                       help="pin the https server's certificate if it has this SHA-256 fingerprint (no question asked)")
    login.add_argument("--ca-file", metavar="PATH",
                       help="trust the https server's certificate if this CA issued it, instead of pinning it")
    login.set_defaults(run=cmd_login)
    logout = commands.add_parser("logout", parents=[parent], help="forget the token (and pinned certificate or CA file) stored for the server URL")
    logout.set_defaults(run=cmd_logout)


def read_token(url: str) -> str:
    """The token from a hidden prompt on a terminal, or the first line of piped stdin."""
    if stdin_is_terminal():
        from tui.prompt import ask

        try:
            token = ask(f"token for {url}: ", echo=False)
        except EOFError:
            token = ""
    else:
        line = sys.stdin.buffer.readline() if sys.stdin is not None else b""  # closed (<&-): no token
        try:  # as bytes: a UTF-8 locale's text stdin raised on bytes no token holds
            token = line.decode("utf-8")
        except UnicodeDecodeError:
            token = ""
    from tui.credentials import looks_like_token

    token = token.strip()
    if not looks_like_token(token) or any(c.isspace() for c in token):  # checked before it is sent anywhere
        raise UsageError("that is not a token (ss_...); nothing was stored")
    return token


def describe(identity) -> str:
    where = "".join(f", {label} {value}" for label, value in (("site", identity.site), ("service", identity.service))
                    if value)
    return f"{identity.name} ({identity.role.value}{where})"


def cmd_login(args: argparse.Namespace) -> None:
    from tui.client import ApiError, SiteSecretsClient
    from tui.credentials import CredentialsError, config_dir, store_token
    from tui.urls import check_url, warn_plain_loopback

    from .servercert import decide_trust

    insecure = bool(getattr(args, "insecure", False))
    try:
        url = check_url(url_of(args), insecure=insecure)  # before asking: a token typed for nothing is wasted
    except ValueError as error:
        raise UsageError(str(error)) from None
    warn_plain_loopback(url)  # as every command does, and before the token is asked for
    proxy = getattr(args, "proxy", None) or os.environ.get("SITESECRETS_PROXY")
    trust = decide_trust(url, fingerprint=args.fingerprint, ca_file=args.ca_file, proxy=proxy, insecure=insecure)
    token = read_token(url)
    try:
        client = SiteSecretsClient(url, token, insecure=insecure, proxy=proxy, trust=trust)
    except ValueError as error:  # a proxy the rules refuse
        raise UsageError(str(error)) from None
    try:
        identity = client.whoami()
    except ApiError as error:
        if error.code == "unauthorized":
            raise Refused("the server rejected the token; nothing was stored") from None
        raise
    finally:
        client.close()
    try:
        path = store_token(config_dir(), url, token, trust, site=identity.site or "")  # commands default to it
    except CredentialsError as error:
        raise Refused(str(error)) from None
    except OSError as error:
        raise Refused(f"cannot store the token in {config_dir()}: {error.strerror}") from None
    print(f"logged in to {url} as {describe(identity)}; token stored in {path}{trusting(trust)}", file=sys.stderr)


def trusting(trust) -> str:
    if trust is None:
        return ""
    if trust.ca_file is not None:
        return f" with the CA file {trust.ca_file}"
    return f" with the server's certificate pinned ({trust.fingerprint})"


def cmd_logout(args: argparse.Namespace) -> None:
    from tui.credentials import CredentialsError, config_dir, forget_token

    url = url_of(args)
    try:
        forgotten = forget_token(config_dir(), url)
    except CredentialsError as error:
        raise Refused(str(error)) from None
    print(f"{'forgot the token' if forgotten else 'no token was stored'} for {url}", file=sys.stderr)

