"""What `sitesecrets run` asks the server and how it turns the answer into CMD's environment:
standard library only, for the one-shot `run` (which then `exec`s) and `run --watch` alike.

A fetch never records the load (`?record=false`); `record_load` does, once CMD is about to start.
`wait_for_change` is the same fetch made conditional (`If-None-Match` with the tag of the
environment CMD has, `Prefer: wait=N`): the server holds it until that environment changes.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Callable, TypeVar
from urllib.parse import quote

from tui.envpolicy import refusal, refused
from tui.exitstatus import TEMPORARY_HTTP
from tui.ownenv import users_environment
from tui.plain import spelled_out
from tui.retry import BUDGET_VAR, Retrier, seconds_after
from tui.settings import not_found_message
from tui.startcheck import check_start

T = TypeVar("T")
TOKEN_VARS = ("SITESECRETS_TOKEN",)
REPLY_MARGIN = 30.0
"""Seconds a waiting fetch's connection allows beyond the wait it asked for, before it counts
the server as gone."""


class RunError(Exception):
    """Why CMD was not started (or not restarted); one sentence for stderr."""


class Unavailable(RunError):
    """No answer, or one that says the server cannot serve just now (`tui.exitstatus`): the
    same request may succeed later. `retry_after` is the answer's `Retry-After`, in seconds."""

    def __init__(self, sentence: str, retry_after: float | None = None) -> None:
        super().__init__(sentence)
        self.retry_after = retry_after


class Refusal(RunError):
    """The server answered, and refused (401, 403, 404 ...): asking again the same way will not
    change that. `status` is the HTTP status."""

    def __init__(self, sentence: str, status: int) -> None:
        super().__init__(sentence)
        self.status = status


@dataclass(frozen=True)
class Answer:
    status: int
    etag: str | None
    payload: dict | None  # None for a 304


@dataclass(frozen=True)
class Server:
    """Where the service's environment comes from and the token that may fetch it."""

    url: str
    token: str
    site: str
    service: str
    unnamed_site: bool = False
    """Neither the command nor the token named the site (an operator's token): `site` is the
    default one, and a 404 for it says an operator must name one (`default_site_hint`)."""

    @property
    def path(self) -> str:
        return f"/v1/sites/{quote(self.site, safe='')}/services/{quote(self.service, safe='')}"


@dataclass(frozen=True)
class Prepared:
    """A start CMD can have: the program exec would run, its whole environment, and the versions
    to record as loaded when it starts (None from a server older than `?record=false`)."""

    program: str
    env: dict[str, str]
    secrets: dict[str, str]
    versions: list | None


def exchange(url: str, token: str, method: str, path: str, body: dict | None = None,
             headers: dict[str, str] | None = None, timeout: float = 10.0) -> Answer:
    """The server's answer: a JSON object (any status) or a 304; raises RunError when there is none."""
    import http.client

    from tui.stdconn import NoConnection, failure_reason, lasting_tls_failure, open_connection

    try:
        conn, prefix = open_connection(url, timeout)
    except NoConnection as error:
        failure = Unavailable if error.temporary else RunError
        raise failure(f"cannot reach the server at {url}: {error}") from None
    except ValueError as error:  # TrustError: what login stored for an https URL cannot be used (now)
        # a RunError like any other failure to connect, so `run --watch` says so and tries again
        # (the CA file may be in the middle of its renewal) instead of losing its watch
        raise RunError(str(error)) from None
    sent = {"Authorization": f"Bearer {token}", "Accept": "application/json", **(headers or {})}
    if body is not None:
        sent["Content-Type"] = "application/json"
    try:
        conn.request(method, f"{prefix}{path}", headers=sent, body=None if body is None else json.dumps(body).encode())
        response = conn.getresponse()
        answer = response.read()
    except (OSError, http.client.HTTPException) as error:  # HTTPException: not an HTTP server answering
        failure = RunError if lasting_tls_failure(error) or not_http(error) else Unavailable
        raise failure(f"cannot reach the server at {url} ({failure_reason(error)})") from None
    finally:
        conn.close()
    etag = response.getheader("ETag")
    if response.status == 304:
        return Answer(304, etag, None)
    if response.status in TEMPORARY_HTTP:  # whatever the body: a proxy's 502 has none of ours
        raise Unavailable(f"the server cannot serve just now ({server_message(answer) or f'HTTP {response.status}'})",
                          seconds_after(response.getheader("Retry-After")))
    try:
        payload = json.loads(answer)
    except (ValueError, RecursionError):  # RecursionError: nested past the parser's depth, which no reply of ours is
        raise RunError(f"the server answered HTTP {response.status} with no JSON") from None
    if not isinstance(payload, dict):
        raise RunError(f"the server answered HTTP {response.status} with no JSON object")
    return Answer(response.status, etag, payload)


def not_http(error: BaseException) -> bool:
    """Whether what answered does not speak HTTP (a wrong URL, which no retry mends), rather than
    a connection cut short (RemoteDisconnected is both, and a cut)."""
    import http.client

    return isinstance(error, http.client.HTTPException) and not isinstance(
        error, (ConnectionError, http.client.IncompleteRead))


def server_message(body: bytes) -> str | None:
    """The `error.message` of an error body, if it is one."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError, RecursionError):
        return None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else None


def ok_payload(answer: Answer, site: str = "", unnamed: bool = False) -> dict:
    """The JSON object of a 200; Refusal with the server's message otherwise (for `site`
    'default' not found, with how to name another: `default_site_hint`, told whether the site
    was `unnamed`)."""
    if answer.status == 200 and answer.payload is not None:
        return answer.payload
    error = (answer.payload or {}).get("error")
    message = error.get("message") if isinstance(error, dict) else None
    if not message:
        raise Refusal(f"the server answered HTTP {answer.status}", answer.status)
    if answer.status == 404:
        message = not_found_message(str(message), site, error.get("details"), unnamed)
    raise Refusal(str(message), answer.status)


def call(url: str, token: str, method: str, path: str, body: dict | None = None, timeout: float = 10.0) -> dict:
    """The JSON object the server answered with 200; raises RunError with the server's message otherwise."""
    return ok_payload(exchange(url, token, method, path, body, timeout=timeout))


def token_site(url: str, token: str, retrier: Retrier | None = None) -> str | None:
    """The site `token` is bound to (None: none), as whoami answers."""
    site = retrying(lambda: call(url, token, "GET", "/v1/whoami"), retrier).get("site")
    return site if isinstance(site, str) else None


def retrying(attempt: Callable[[], T], retrier: Retrier | None) -> T:
    """`attempt()`, tried again on Unavailable while `retrier` allows (None: once). Only for
    requests that may be repeated: the env fetch reads, and a load record sets the same versions
    again (one more `service.load` event, which is the truth: the start was recorded twice)."""
    told = False
    while True:
        try:
            return attempt()
        except Unavailable as error:
            if retrier is None or not retrier.wait(error.retry_after):
                raise
            if not told:
                told = True
                print(f"sitesecrets run: {spelled_out(error)}; trying again for up to {retrier.budget:g} s ({BUDGET_VAR})",
                      file=sys.stderr)


def fetch_env(server: Server, retrier: Retrier | None = None) -> Answer:
    """The service's environment answer (a 200), fetched without recording the load."""

    def attempt() -> Answer:
        answer = exchange(server.url, server.token, "GET", f"{server.path}/env?record=false")
        ok_payload(answer, server.site, server.unnamed_site)
        return answer

    return retrying(attempt, retrier)


def wait_for_change(server: Server, etag: str, wait_seconds: int) -> Answer:
    """The environment answer once it is no longer the one `etag` names (a 200), or a 304 when
    it still is after `wait_seconds` (0: at once); RunError when the server cannot be reached,
    Refusal when it refuses."""
    headers = {"If-None-Match": etag}
    if wait_seconds:
        headers["Prefer"] = f"wait={wait_seconds}"
    answer = exchange(server.url, server.token, "GET", f"{server.path}/env?record=false",
                      headers=headers, timeout=wait_seconds + REPLY_MARGIN)
    if answer.status != 304:
        ok_payload(answer)
    return answer


def read_env(payload: dict, service: str) -> tuple[dict[str, str], list | None]:
    """(environment, versions to record) of an env answer; RunError when it is incomplete.

    The versions are None from a server older than `?record=false`: it ignored the parameter and
    recorded the load with the fetch, as every fetch did then.
    """
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


def record_load(server: Server, versions: list, retrier: Retrier | None = None) -> None:
    """Tell the server the service is starting with `versions` (clears its `restart_required`)."""
    try:
        retrying(lambda: call(server.url, server.token, "POST", f"{server.path}/loads", {"versions": versions}),
                 retrier)
    except Unavailable as error:
        raise Unavailable(f"cannot record the load ({error})", error.retry_after) from None
    except RunError as error:
        raise RunError(f"cannot record the load ({error})") from None


def child_environment(inherited: dict[str, str], secrets: dict[str, str], verbose: bool) -> dict[str, str]:
    """The inherited environment as the user left it (`tui.ownenv`), without our token, with the
    secrets over it."""
    env = {k: v for k, v in users_environment(inherited).items() if k not in TOKEN_VARS}
    for name in sorted(secrets):
        if verbose and name in env:
            print(f"sitesecrets run: secret {spelled_out(name)} overrides an inherited variable", file=sys.stderr)
        env[name] = secrets[name]
    return env


def prepare(command: list[str], inherited: dict[str, str], payload: dict, service: str,
            allow_env: set[str], verbose: bool) -> Prepared:
    """The start an env answer's `payload` gives CMD; RunError when its environment is incomplete
    or sets a name that changes how programs load, CannotStart when exec could not take it."""
    secrets, versions = read_env(payload, service)
    blocked = refused(list(secrets), allow_env)
    if blocked:
        raise RunError(f"{refusal('set', blocked)}; name each with --allow-env if you mean it")
    env = child_environment(inherited, secrets, verbose)
    program = check_start(command, env)  # again, with the secrets: one may set PATH (--allow-env)
    return Prepared(program, env, secrets, versions)
