"""`sitesecrets run --service NAME -- CMD [ARGS...]`: start CMD with the service's secrets.

This runs before every start of a function, so it imports nothing it does not need: the standard
library's `http.client` instead of httpx, `json` instead of pydantic, and never Textual. It fetches
the environment once, refuses to start CMD unless it has all of it and `exec` can take it, records
the load (which clears the service's `restart_required`) only then, and replaces itself with CMD
(`os.execve`), so CMD's exit status, signals and standard streams are its own. Values travel
only in the environment, never on a command line; the token this process used is not passed on.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from urllib.parse import quote

from tui.credentials import NO_TOKEN, CredentialsError, resolve_token
from tui.envpolicy import refused
from tui.settings import default_site, default_url
from tui.startcheck import CannotStart, check_start, resolve_command
from tui.urls import check_url, warn_plain_loopback

TOKEN_VARS = ("SITESECRETS_TOKEN",)


class RunError(Exception):
    """Why CMD was not started; one sentence for stderr."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sitesecrets run", usage="sitesecrets run --service NAME [options] -- CMD [ARGS...]",
        description="Start CMD with the service's secrets in its environment.",
    )
    parser.add_argument("--service", required=True, help="the service whose bound secrets CMD receives")
    parser.add_argument("--site", default=default_site())
    parser.add_argument("--url", default=default_url())
    parser.add_argument("--token-file", metavar="PATH", help="read the service token from PATH (mode 0600)")
    parser.add_argument("--token", help="a service token; visible to every user of the host, prefer --token-file, "
                                        "SITESECRETS_TOKEN or `sitesecrets login`")
    parser.add_argument("--insecure", action="store_true", help="allow plain http to a host other than this one")
    parser.add_argument("--allow-env", action="append", default=[], metavar="NAME",
                        help="allow a secret to set NAME although it changes how programs load (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="say on stderr which inherited variables secrets override")
    return parser


def call(url: str, token: str, method: str, path: str, body: dict | None = None, timeout: float = 10.0) -> dict:
    """The JSON object the server answered with 200; raises RunError with the server's message otherwise."""
    import http.client

    from tui.stdconn import NoConnection, failure_reason, open_connection

    try:
        conn, prefix = open_connection(url, timeout)
    except NoConnection as error:
        raise RunError(f"cannot reach the server at {url}: {error}") from None
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, f"{prefix}{path}", headers=headers, body=None if body is None else json.dumps(body).encode())
        response = conn.getresponse()
        answer = response.read()
    except (OSError, http.client.HTTPException) as error:  # HTTPException: not an HTTP server answering
        raise RunError(f"cannot reach the server at {url} ({failure_reason(error)})") from None
    finally:
        conn.close()
    try:
        payload = json.loads(answer)
    except ValueError:
        raise RunError(f"the server answered HTTP {response.status} with no JSON") from None
    if not isinstance(payload, dict):
        raise RunError(f"the server answered HTTP {response.status} with no JSON object")
    if response.status != 200:
        error = payload.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        raise RunError(str(message) if message else f"the server answered HTTP {response.status}")
    return payload


def service_path(site: str, service: str) -> str:
    return f"/v1/sites/{quote(site, safe='')}/services/{quote(service, safe='')}"


def fetch_env(url: str, token: str, site: str, service: str) -> tuple[dict[str, str], list | None]:
    """(environment, versions to record) of the service, fetched without recording the load.

    The versions are None from a server older than `?record=false`: it ignored the parameter and
    recorded the load with the fetch, as every fetch did then.
    """
    payload = call(url, token, "GET", f"{service_path(site, service)}/env?record=false")
    env = payload.get("env")
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise RunError("the server's answer has no environment")
    # a binding whose secret does not exist yet: starting without it would be half the secrets
    absent = sorted({ref.get("name") for ref in payload.get("missing") or [] if isinstance(ref, dict)} - set(env))
    if absent:
        raise RunError(f"service {service} binds secrets that do not exist yet: {', '.join(map(str, absent))}")
    loaded = payload.get("loaded_versions")
    if loaded is not None and not isinstance(loaded, list):
        raise RunError("the server's answer has no versions to record")
    return env, loaded


def record_load(url: str, token: str, site: str, service: str, versions: list) -> None:
    """Tell the server the service is starting with `versions` (clears its `restart_required`)."""
    try:
        call(url, token, "POST", f"{service_path(site, service)}/loads", {"versions": versions})
    except RunError as error:
        raise RunError(f"cannot record the load ({error})") from None


def child_environment(inherited: dict[str, str], secrets: dict[str, str], verbose: bool) -> dict[str, str]:
    """The inherited environment without our token, with the secrets over it."""
    env = {k: v for k, v in inherited.items() if k not in TOKEN_VARS}
    for name in sorted(secrets):
        if verbose and name in env:
            print(f"sitesecrets run: secret {name} overrides an inherited variable", file=sys.stderr)
        env[name] = secrets[name]
    return env


def split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """(options, CMD) around the first `--`; a missing `--` or CMD is a usage error."""
    if "--" not in argv:
        raise RunError("put -- before the command, e.g. sitesecrets run --service api -- python app.py")
    index = argv.index("--")
    if index + 1 == len(argv):
        raise RunError("no command after --")
    return argv[:index], argv[index + 1:]


def main(argv: list[str]) -> int:
    options = argv[:argv.index("--")] if "--" in argv else argv
    if "-h" in options or "--help" in options:  # help needs no `--` and no command
        build_parser().print_help()
        return 0
    try:
        options, command = split_command(argv)
    except RunError as error:
        build_parser().print_usage(sys.stderr)
        print(f"sitesecrets run: {error}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(options)
    try:
        # before asking for any secret: a command that is not there needs none (and records no load)
        resolve_command(command[0], child_environment(dict(os.environ), {}, False))
        token = resolve_token(args.url, token=args.token, token_file=args.token_file)
        if not token:
            raise RunError(NO_TOKEN)
        url = check_url(args.url, insecure=args.insecure)
        warn_plain_loopback(url, "sitesecrets run")
        secrets, versions = fetch_env(url, token, args.site, args.service)
        blocked = refused(list(secrets), set(args.allow_env))
        if blocked:
            raise RunError(f"refusing to set {', '.join(blocked)}: they change how programs load; "
                           "name each with --allow-env if you mean it")
        env = child_environment(dict(os.environ), secrets, args.verbose)
        program = check_start(command, env)  # again, with the secrets: one may set PATH (--allow-env)
        if versions is not None:
            record_load(url, token, args.site, args.service, versions)
    except CannotStart as error:
        print(f"sitesecrets run: {error}", file=sys.stderr)
        return error.status
    except (RunError, CredentialsError, ValueError) as error:
        print(f"sitesecrets run: {error}; {command[0]} was not started", file=sys.stderr)
        return 1
    # The load is recorded and exec may still fail: the file replaced since the check, a format
    # only the kernel judges (ENOEXEC), a `noexec` mount or a busy text file. The window is that
    # of one system call, and the service is then recorded as loaded though it did not start; a
    # supervisor sees the status below and starts it again, which records the load again.
    try:
        os.execve(program, command, env)  # the file check_start found, not a second PATH search
    except OSError as error:
        print(f"sitesecrets run: cannot start {command[0]}: {error.strerror}", file=sys.stderr)
        return 127 if error.errno == errno.ENOENT else 126
    return 0  # not reached: exec replaced this process
