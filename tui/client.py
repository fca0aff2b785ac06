"""A synchronous client for the Site Secrets v1 HTTP API (docs/API.md), without Textual.

Each call names the `shared.models` model its answer must match, so a reply is validated on the
client as the request was on the server. Failures are typed: `ApiError` carries the server's
error body, `ServerUnreachable` means no answer at all, `InsecureTransportError` means the
client refused to send the token. No exception message ever holds a secret value.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, TypeVar
from urllib.parse import quote

from tui.ownenv import set_for_this_process


def _import_httpx():
    """httpx without its command-line tool.

    `import httpx` also imports `httpx._main` whenever click is installed, and with it click,
    pygments and rich.progress: ~30 ms and a few MiB of the TUI's start for a tool we never run.
    Hiding click for the length of the import makes httpx fall back to its stub `main`.
    """
    if "httpx" in sys.modules or "click" in sys.modules:
        import httpx
        return httpx
    sys.modules["click"] = None  # type: ignore[assignment]  # `import click` raises ImportError
    try:
        import httpx
    finally:
        if sys.modules.get("click", True) is None:
            del sys.modules["click"]
    return httpx


httpx = _import_httpx()

# No pydantic plugin sees the client's models: one observes every validation, revealed values
# included. It also spares each start pydantic's scan of every installed package's entry points.
# For this process alone: a child gets the user's setting (`tui.ownenv`).
set_for_this_process("PYDANTIC_DISABLE_PLUGINS", "__all__")

from pydantic import BaseModel, ValidationError  # noqa: E402

from shared.fielderrors import field_errors  # noqa: E402
from shared.models import (  # noqa: E402
    App,
    AppCreate,
    AppList,
    AppUpdate,
    AuditPage,
    AuditVerification,
    CreatedToken,
    ErrorBody,
    Health,
    RevealedValue,
    RevealRequest,
    Rollback,
    Secret,
    SecretCreate,
    SecretList,
    SecretType,
    SecretTypeCreate,
    SecretTypeList,
    SecretTypeUpdate,
    SecretUpdate,
    SecretVersion,
    SecretVersionList,
    Service,
    ServiceCreate,
    ServiceEnv,
    ServiceList,
    ServiceUpdate,
    Site,
    SiteCreate,
    SiteList,
    SiteUpdate,
    Token,
    TokenCreate,
    TokenList,
    TrashedSecret,
    TrashList,
    WhoAmI,
)
from tui.exitstatus import TEMPORARY_HTTP  # noqa: E402
from tui.pins import STORED  # noqa: E402
from tui.retry import Retrier, safe_to_repeat, seconds_after  # noqa: E402
from tui.transport import client_options, lasting_failure, unreachable_reason  # noqa: E402
from tui.urls import InsecureTransportError, check_url, is_loopback, socket_problem, unix_socket_path  # noqa: E402

__all__ = ["ApiError", "InsecureTransportError", "ServerUnreachable", "SiteSecretsClient", "build", "check_url",
           "is_loopback", "scope_path"]

NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures before a request's first byte left: no connection was made."""

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


class ApiError(Exception):
    """The server answered with docs/API.md's error shape."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None, status: int = 0):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status

    def field_errors(self) -> list[tuple[str, str]]:
        """`(json_pointer, message)` pairs from a `validation_error`'s `details.errors`."""
        found = []
        for item in self.details.get("errors") or []:
            if isinstance(item, dict):
                found.append((str(item.get("path", "")), str(item.get("message", ""))))
        return found


def build(model: type[R], **fields: Any) -> R:
    """The request body `model(**fields)`, judged by the very model the server parses it with.

    Raises the `ApiError` the server would answer (`validation_error`, status 422, one JSON
    Pointer and message per refused field), so a form or a command shows a refusal made here
    exactly as one made there, and nothing is sent. The refused input is never repeated.
    """
    try:
        return model(**fields)
    except ValidationError as error:
        raise ApiError("validation_error", "the request is not valid", {"errors": field_errors(error)},
                       status=422) from None


def _json(body: BaseModel) -> dict[str, Any]:
    """What goes on the wire for `body`: the fields the caller set and no others, by their wire
    names. A PATCH changes only what it carries, so a default must not be sent as if chosen; an
    explicit null (`SecretUpdate(type=None)` removes the type) is sent."""
    return body.model_dump(mode="json", by_alias=True, exclude_unset=True)


class ServerUnreachable(ConnectionError):
    """No HTTP answer: refused, timed out, name not found, connection dropped, certificate refused.

    `reason` says why in words when we know it ("the server's TLS certificate was refused: ...",
    "there is no server socket at ..."), else None; the message then names the error's type.
    `temporary` is False when trying again cannot help without someone changing something: a
    refused certificate, a socket path this user may not open or that is no socket.
    """

    def __init__(self, url: str, reason: str | None, kind: str = "ConnectError", *, temporary: bool = True,
                 sent: bool = True):
        super().__init__(f"Cannot reach the server at {url} ({reason or kind}).")
        self.reason = reason
        self.temporary = temporary
        self.sent = sent  # False when the request provably never left: no connection was made


def _seg(name: str) -> str:
    """`name` as one path segment. Dots are encoded too: httpx removes a `.` or `..` segment from a
    URL (RFC 3986), so `rm ..` would send `DELETE /v1/sites/S`, the site itself; `%2E%2E` is
    left alone and the server reads it as the name `..`, which does not exist."""
    return quote(name, safe="").replace(".", "%2E")


def scope_path(site: str, app: str | None) -> str:
    """`{scope}` of docs/API.md: the site, or one app of it."""
    base = f"/v1/sites/{_seg(site)}"
    return base if app is None else f"{base}/apps/{_seg(app)}"


def _service_path(site: str, name: str) -> str:
    return f"{scope_path(site, None)}/services/{_seg(name)}"


VERIFY_SECONDS = 600.0
"""How long an audit verify may take to answer. The server walks the site's whole log, about 5 µs
an event on a 2-core machine (1,000,000 events in 5 s; a site whose functions fetch their
environment every second writes 34 million in 400 days): the usual 10 s would end the walk of a
busy site's log as "cannot reach the server"."""


class SiteSecretsClient:
    """One server, one token. Thread-safe: the TUI calls it from worker threads."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        insecure: bool = False,
        proxy: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        trust: object = STORED,
        retry_seconds: float = 0.0,
        on_retry: Callable[[str], None] | None = None,
    ):
        """`url` is https://, http:// or unix:///path/to/socket; `proxy` is used only when given
        (proxy variables of the environment never are); an https server is trusted as login
        decided for `url` unless `trust` says otherwise (`tui.pins`). Raises ValueError (TrustError
        included), InsecureTransportError. `retry_seconds` (0: none) is the budget of retries
        (`tui.retry`), told to `on_retry` with the reason before each."""
        self.url = check_url(url, insecure=insecure)
        self._retry_seconds, self._on_retry = retry_seconds, on_retry
        self._socket_path = unix_socket_path(self.url)
        headers = {"Accept": "application/json", "User-Agent": "sitesecrets-tui"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        options = client_options(self.url, proxy=proxy, insecure=insecure, transport=transport, trust=trust)
        self._http = httpx.Client(headers=headers, timeout=timeout, **options)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, model: type[M] | None, *, repeatable: bool = False,
                **kwargs: Any) -> M | None:
        """Send one request; return the answer parsed as `model` (None for 204 or no model).

        With a retry budget, a failure that says "not now" is tried again where that is safe
        (`tui.retry`; `repeatable`: a POST that changes nothing, as a GET). Raises ApiError,
        ServerUnreachable.
        """
        verb = "GET" if repeatable else method  # what the retry rules judge it as
        retrier = Retrier(self._retry_seconds) if self._retry_seconds > 0 else None
        while True:
            try:
                response = self._send(method, path, **kwargs)
            except ServerUnreachable as error:
                if not (error.temporary and retrier and safe_to_repeat(verb, sent=error.sent) and retrier.wait()):
                    raise
                self._retrying(str(error))
                continue
            if response.status_code < 400:
                break
            error = self._error(response)
            if not (error.status in TEMPORARY_HTTP and retrier and safe_to_repeat(verb, sent=True, code=error.code)
                    and retrier.wait(seconds_after(response.headers.get("Retry-After")))):
                raise error
            self._retrying(error.message)
        if model is None or response.status_code == 204:
            return None
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            # The reply may hold a value, so neither the body nor pydantic's text is repeated.
            raise ApiError("bad_response", f"The server sent an unexpected {model.__name__} reply.",
                           status=response.status_code) from None

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One try: the answer, whatever its status; ServerUnreachable when there is none."""
        if self._socket_path is not None:  # say "no socket there" rather than a bare ConnectError
            problem = socket_problem(self._socket_path)
            if problem:  # gone while a server restarts; there but unusable until someone acts
                raise ServerUnreachable(self.url, problem, temporary=not os.path.lexists(self._socket_path), sent=False)
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise ServerUnreachable(self.url, unreachable_reason(error, self._socket_path), type(error).__name__,
                                    temporary=not lasting_failure(error),
                                    sent=not isinstance(error, NOT_SENT)) from None

    def _retrying(self, why: str) -> None:
        if self._on_retry is not None:
            self._on_retry(why)

    @staticmethod
    def _error(response: httpx.Response) -> ApiError:
        try:
            body = ErrorBody.model_validate_json(response.content).error
        except ValidationError:
            return ApiError("http_error", f"The server answered HTTP {response.status_code}.",
                            status=response.status_code)
        return ApiError(str(body.code), body.message, body.details, response.status_code)

    # ------------------------------------------------------------ identity and sites

    def health(self) -> Health:
        return self.request("GET", "/v1/health", Health)

    def whoami(self) -> WhoAmI:
        return self.request("GET", "/v1/whoami", WhoAmI)

    def list_sites(self) -> list[Site]:
        return self.request("GET", "/v1/sites", SiteList).items

    def get_site(self, site: str) -> Site:
        return self.request("GET", scope_path(site, None), Site)

    def create_site(self, body: SiteCreate) -> Site:
        """A new, empty site (the operator only)."""
        return self.request("POST", "/v1/sites", Site, json=_json(body))

    def update_site(self, site: str, body: SiteUpdate) -> Site:
        """Change the site's limits (the operator only): only those `body.limits` sets; a limit set
        to None goes back to the server's default."""
        return self.request("PATCH", scope_path(site, None), Site, json=_json(body))

    def delete_site(self, site: str, *, cascade: bool = False) -> None:
        """Delete an empty site, or with `cascade` one with everything in it (the operator only)."""
        params = {"cascade": "true"} if cascade else {}
        self.request("DELETE", scope_path(site, None), None, params=params)

    def list_apps(self, site: str) -> list[App]:
        return self.request("GET", f"{scope_path(site, None)}/apps", AppList).items

    # ------------------------------------------------------------ secrets

    def list_secrets(self, site: str, *, due_within_days: int | None = None) -> list[Secret]:
        """Every secret of the site, site-level and app-level (with `due_within_days`, as `list_scope`)."""
        path = f"{scope_path(site, None)}/secrets"
        params: dict[str, Any] = {"scope": "all"}
        if due_within_days is not None:
            params["due_within_days"] = due_within_days
        return self.request("GET", path, SecretList, params=params).items

    def list_scope(self, site: str, app: str | None, *, due_within_days: int | None = None) -> list[Secret]:
        """The secrets of one scope: the site's own (`app` None), or one app's; with
        `due_within_days`, only those whose rotation falls due within that many days (0: overdue)."""
        params = {} if due_within_days is None else {"due_within_days": due_within_days}
        return self.request("GET", f"{scope_path(site, app)}/secrets", SecretList, params=params).items

    def get_secret(self, site: str, app: str | None, name: str) -> Secret:
        return self.request("GET", f"{scope_path(site, app)}/secrets/{_seg(name)}", Secret)

    def create_secret(self, site: str, app: str | None, body: SecretCreate) -> Secret:
        return self.request("POST", f"{scope_path(site, app)}/secrets", Secret, json=_json(body))

    def update_secret(self, site: str, app: str | None, name: str, body: SecretUpdate) -> Secret:
        path = f"{scope_path(site, app)}/secrets/{_seg(name)}"
        return self.request("PATCH", path, Secret, json=_json(body))

    def delete_secret(self, site: str, app: str | None, name: str) -> None:
        self.request("DELETE", f"{scope_path(site, app)}/secrets/{_seg(name)}", None)

    def reveal(self, site: str, app: str | None, name: str, version: int | None = None) -> RevealedValue:
        """The value (or kept `version`'s), audited by the server as a reveal. Repeatable: a reveal
        changes nothing, and one refused for now revealed nothing and recorded nothing."""
        path = f"{scope_path(site, app)}/secrets/{_seg(name)}/reveal"
        if version is None:
            return self.request("POST", path, RevealedValue, repeatable=True)
        return self.request("POST", path, RevealedValue, repeatable=True, json=_json(RevealRequest(version=version)))

    # ------------------------------------------------------------ history and trash

    def list_versions(self, site: str, app: str | None, name: str) -> list[SecretVersion]:
        """The secret's kept versions, newest first (no values)."""
        path = f"{scope_path(site, app)}/secrets/{_seg(name)}/versions"
        return self.request("GET", path, SecretVersionList).items

    def rollback(self, site: str, app: str | None, name: str, body: Rollback) -> Secret:
        """A new version holding kept version `body.version`'s value."""
        path = f"{scope_path(site, app)}/secrets/{_seg(name)}/rollback"
        return self.request("POST", path, Secret, json=_json(body))

    def list_trash(self, site: str) -> list[TrashedSecret]:
        """The site's trashed secrets, site-level and app-level."""
        return self.request("GET", f"{scope_path(site, None)}/trash", TrashList).items

    def restore_secret(self, site: str, app: str | None, name: str) -> Secret:
        return self.request("POST", f"{scope_path(site, app)}/trash/{_seg(name)}/restore", Secret)

    def purge_secret(self, site: str, app: str | None, name: str) -> None:
        """Wipe a trashed secret now (admins)."""
        self.request("DELETE", f"{scope_path(site, app)}/trash/{_seg(name)}", None)

    # ------------------------------------------------------------ secret types

    def list_types(self, site: str) -> list[SecretType]:
        return self.request("GET", f"{scope_path(site, None)}/secret-types", SecretTypeList).items

    def create_type(self, site: str, body: SecretTypeCreate) -> SecretType:
        return self.request("POST", f"{scope_path(site, None)}/secret-types", SecretType, json=_json(body))

    def update_type(self, site: str, key: str, body: SecretTypeUpdate) -> SecretType:
        path = f"{scope_path(site, None)}/secret-types/{_seg(key)}"
        return self.request("PATCH", path, SecretType, json=_json(body))

    def delete_type(self, site: str, key: str) -> None:
        self.request("DELETE", f"{scope_path(site, None)}/secret-types/{_seg(key)}", None)

    # ------------------------------------------------------------ apps and services

    def create_app(self, site: str, body: AppCreate) -> App:
        return self.request("POST", f"{scope_path(site, None)}/apps", App, json=_json(body))

    def update_app(self, site: str, app: str, body: AppUpdate) -> App:
        return self.request("PATCH", scope_path(site, app), App, json=_json(body))

    def list_services(self, site: str) -> ServiceList:
        return self.request("GET", f"{scope_path(site, None)}/services", ServiceList)

    def get_service(self, site: str, name: str) -> Service:
        return self.request("GET", _service_path(site, name), Service)

    def create_service(self, site: str, body: ServiceCreate) -> Service:
        return self.request("POST", f"{scope_path(site, None)}/services", Service, json=_json(body))

    def update_service(self, site: str, name: str, body: ServiceUpdate) -> Service:
        """Replace the service's bindings with `body.secrets`."""
        return self.request("PATCH", _service_path(site, name), Service, json=_json(body))

    def service_env(self, site: str, name: str) -> ServiceEnv:
        """The service's environment, read without recording a load: only `run` starts the
        service, so only `run` may clear its restart flag."""
        return self.request("GET", f"{_service_path(site, name)}/env", ServiceEnv, params={"record": "false"})

    def delete_service(self, site: str, name: str) -> None:
        self.request("DELETE", _service_path(site, name), None)

    # ------------------------------------------------------------ tokens and audit

    def list_tokens(self, site: str | None = None) -> list[Token]:
        """The tokens the caller may see (admins), or only those bound to `site`; never the
        tokens themselves."""
        params = {"site": site} if site is not None else {}
        return self.request("GET", "/v1/tokens", TokenList, params=params).items

    def create_token(self, body: TokenCreate) -> CreatedToken:
        """A new token; the answer holds it this once."""
        return self.request("POST", "/v1/tokens", CreatedToken, json=_json(body))

    def revoke_token(self, token_id: str) -> None:
        self.request("DELETE", f"/v1/tokens/{_seg(token_id)}", None)

    def audit(self, site: str | None, *, limit: int = 50, before: str | None = None, **filters: str) -> AuditPage:
        """One page of the site's audit log, newest first; `filters` are action, actor, target.
        `site` None: the operator's whole log, every site's events (deleted sites' included) and
        those of no site."""
        params: dict[str, Any] = {"limit": limit}
        if before:
            params["before"] = before
        params.update({key: value for key, value in filters.items() if value})
        path = "/v1/audit" if site is None else f"{scope_path(site, None)}/audit"
        return self.request("GET", path, AuditPage, params=params)

    def verify_audit(self, site: str) -> AuditVerification:
        """Have the server walk the site's audit hash chain (reads the whole log: on demand only).
        The answer may take as long as the walk (`VERIFY_SECONDS`), not the client's timeout."""
        usual = self._http.timeout
        patient = httpx.Timeout(connect=usual.connect, read=VERIFY_SECONDS, write=usual.write, pool=usual.pool)
        return self.request("GET", f"{scope_path(site, None)}/audit/verify", AuditVerification, timeout=patient)
