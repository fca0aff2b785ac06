"""The WSGI application: authenticate, authorise against the routing table, run the handler, and
turn every failure into docs/API.md's error shape.

Anything unexpected becomes a 500 whose traceback goes only to the server log, and even there
without the exception's message, which could quote request data.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any, Callable, Iterable, NoReturn

from shared.limits import has_control_character
from shared.models import ErrorCode, Role

from . import audit
from .admission import Busy
from .auth import Permission, Principal, bearer_token, expired, hashes_match
from .context import Call, State, utc_now
from .denialbudget import DenialBudget, Throttled
from .denials import DenialLog
from .http import ApiError, Request, Response, bounded, error_response, pointer, quoted, too_long, validation_error, BASE_HEADERS
from .keyring import MasterKeyChanged
from .ratelimit import FailureLimiter
from .routing import Route, Router
from .store import StorageFull, StoreError, TokenRow, Unavailable

log = logging.getLogger("sitesecrets.server")

class Application:
    """The WSGI callable. `routes` is the whole table; see `server.handlers.ROUTES`."""

    def __init__(self, state: State, routes: list[Route], limiter: FailureLimiter | None = None,
                 denials: DenialLog | None = None, denial_budget: DenialBudget | None = None) -> None:
        self.state = state
        self.router = Router(routes)
        # `is None`, not `or`: a limiter that remembers nothing yet has a length of 0, so is falsy
        self.limiter = limiter if limiter is not None else FailureLimiter()
        self.denials = denials if denials is not None else DenialLog(state.store)
        """Where refused attempts are audited, their repeats counted rather than written one by one."""
        self.denial_budget = denial_budget if denial_budget is not None else DenialBudget()
        """Denials written per token and per site: past either budget, a new kind of denial is 429."""
        # ids of token rows refused as tampered with, logged once each: a row is only reached with
        # the token whose keyed hash it holds, so this grows with real tokens, not with guesses
        self._tampered: set[str] = set()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        response = self.handle(Request(environ))
        status, body = response.status, response.body
        start_response(_STATUS_LINES.get(status) or f"{status} Unknown",
                       [*BASE_HEADERS, *response.headers, ("Content-Length", str(len(body)))])
        return [body]

    def handle(self, request: Request) -> Response:
        try:
            if self.state.keyring.changed:
                raise MasterKeyChanged()
            return self.dispatch(request)
        except ApiError as error:
            return error_response(error)
        except MasterKeyChanged:
            # the key this process holds is no longer the database's: it serves nothing, so that
            # it never writes with (nor fails every reveal under) a stale key; see keyring.py
            return error_response(ApiError(ErrorCode.master_key_changed, _KEY_CHANGED))
        except StorageFull:
            return error_response(ApiError(ErrorCode.insufficient_storage, "the server's storage is full; nothing was written"))
        except Unavailable as error:
            log.error("database unavailable on %s %s: %r", quoted(request.method), quoted(request.path), str(error))
            return error_response(ApiError(ErrorCode.database_unavailable, "the server cannot reach its database just now; try again shortly",
                                           headers=[("Retry-After", "1")]))
        except StoreError as error:
            log.error("storage failure on %s %s: %r", quoted(request.method), quoted(request.path), str(error))
            return error_response(ApiError(ErrorCode.internal_error, "the server could not complete the request"))
        except Exception as error:  # noqa: BLE001 - the one catch-all, by design
            frames = "".join(traceback.format_tb(error.__traceback__))
            log.error("unexpected %s on %s %s\n%s", type(error).__name__, quoted(request.method), quoted(request.path), frames)
            return error_response(ApiError(ErrorCode.internal_error, "the server failed unexpectedly; the details are in its log"))

    def dispatch(self, request: Request) -> Response:
        if has_control_character(request.path):
            # no name, key or id holds one, and PostgreSQL cannot even compare a NUL: refused
            # before any routing, token lookup, audit or log line, on every backend alike
            raise ApiError(ErrorCode.not_found, "no path holds control characters; nothing by that name exists",
                           {"reason": "control_character"})
        route, params, allowed = self.router.match(request.method, request.path)
        if route is None:
            if allowed:
                raise ApiError(ErrorCode.method_not_allowed, f"{_method_named(request.method)} is not allowed here",
                               {"allowed": allowed}, headers=[("Allow", ", ".join(allowed))])
            raise ApiError(ErrorCode.not_found, "no such path")
        oversized = route.oversized(params)
        if oversized is not None:
            # refused before any token lookup, audit or log line: no name is this long, and a
            # hostile one must not cost a row (or a log line) its size
            raise too_long(oversized, route.max_length(oversized))
        _refuse_control_characters_in_query(request, route)
        call = Call(request, None, self.state, route, utc_now(), self.router.routes)
        if route.permission is not Permission.public:
            call.principal = self.authenticate(call)
            self.authorize(call, params)
            result = self._handle_in_turn(call, params)
        else:
            result = route.handler(call, **params)
        if request.method != "GET":  # it may have changed an environment: end the waits it ends now
            self.state.changes.poke()
        if isinstance(result, Response):
            return result
        if result is None:
            return Response.empty()
        return Response.json(result, route.status)

    def _handle_in_turn(self, call: Call, params: dict[str, str]) -> Any:
        """Run the handler once the request's site has its turn at the process's gate
        (`admission.py`); 429 when the site has more waiting than its share allows."""
        gate = self.state.gate
        try:
            gate.enter(call.principal.site)  # type: ignore[union-attr]
        except Busy as busy:
            wait = busy.retry_after
            raise ApiError(ErrorCode.rate_limited, f"this site's requests are more than its share of the server; try again in {wait} s",
                           {"retry_after": wait, "reason": "site_share"}, headers=[("Retry-After", str(wait))]) from None
        try:
            return call.route.handler(call, **params)
        finally:
            gate.leave()

    def stop_waiting(self) -> None:
        """End every waiting request now (each answers as if its wait had run out): the server
        calls this when it starts to shut down, so that no wait holds the shutdown up."""
        self.state.changes.close()

    def close(self) -> None:
        """Write what this process holds for the audit log in memory (the counts of repeated
        denials): the server calls it once no request is left, before the store closes."""
        self.denials.close()

    def authenticate(self, call: Call) -> Principal:
        """The caller of a valid token; a bad one is 401, or 429 while its address is throttled.

        The token is looked up before the throttle is consulted: every tenant of a shared host
        connects from the same address, so a throttle that refused valid tokens would let one
        tenant's bad tokens lock all the others out. Guessing gains nothing from it, since a
        256-bit token cannot be guessed in any number of tries; the throttle only bounds the
        noise (and the 401 work) a guesser causes.
        """
        request = call.request
        if "token" in request.query or "access_token" in request.query:
            raise ApiError(ErrorCode.unauthorized, "send the token in the Authorization header, never in the URL",
                           headers=[("WWW-Authenticate", "Bearer")])
        token = bearer_token(request.header("Authorization"))
        digest = self.state.tokens.hash(token) if token else ""
        row = self.state.store.lookup(lambda tx: tx.get_token_by_hash(digest)) if token else None
        now = call.now
        if row is None or not hashes_match(row.hash, digest) or not self._intact(row) or expired(row.expires_at, now):
            self._refuse_bad_token(call)
        if _stale(row.last_used_at, self.state.settings.token_touch_seconds):
            self.state.store.write(lambda tx: tx.touch_token(row.id, now))
        return Principal(row.id, row.name, Role(row.role), row.site, row.service, row.site_uid)

    def _intact(self, row: TokenRow) -> bool:
        """Whether the token's row is as the server wrote it; one that was edited in the database
        is an unknown token, and logged (by id, never hash nor token) the first time it is seen."""
        if self.state.tokens.intact(row):
            return True
        if row.id not in self._tampered:
            self._tampered.add(row.id)
            log.error("token %s was refused: its row was changed in the database since the server wrote it "
                      "(its MAC does not match)", quoted(row.id))
        return False

    def _refuse_bad_token(self, call: Call) -> NoReturn:
        # checked and counted in one step: bad tokens sent at once must not all find the same room
        wait, last = self.limiter.take(call.request.remote_addr)
        if wait is not None:
            raise ApiError(ErrorCode.rate_limited, f"too many bad tokens from this address; try again in {wait} s",
                           {"retry_after": wait, "reason": "bad_tokens"}, headers=[("Retry-After", str(wait))])
        if last:
            self._audit_bad_tokens(call)
        raise ApiError(ErrorCode.unauthorized, "a valid bearer token is required", headers=[("WWW-Authenticate", "Bearer")])

    def _audit_bad_tokens(self, call: Call) -> None:
        """Audit the bad token that starts a wait: once, not every refused try."""
        event = call.event("auth.rate_limited", site=None, outcome="denied",
                           details={"threshold": self.limiter.threshold, "window_seconds": self.limiter.window})
        self.state.store.write(lambda tx: audit.record(tx, event))

    def authorize(self, call: Call, params: dict[str, str]) -> None:
        principal, route = call.principal, call.route
        assert principal is not None
        site = params.get("site")
        if site is not None and not principal.sees_site(site):
            raise ApiError(ErrorCode.not_found, "site does not exist")
        allowed = principal.may(route.permission)
        if principal.role is Role.service and route.permission is not Permission.any:
            # a service token fetches its own environment and nothing else (besides asking who it is)
            allowed = allowed and params.get("name") == principal.service and route.permission is Permission.env
        if not allowed:
            self._deny(call, site, params)

    def _deny(self, call: Call, site: str | None, params: dict[str, str]) -> NoReturn:
        """403 for a request its token may not make, audited (repeats counted: `denials.py`); 429
        instead while the token, or its site, has written too many denials of new kinds
        (`denialbudget.py`), audited as one `auth.rate_limited` of the token (or of the site)
        whose repeats are counted. Repeats of a kind already counted stay 403, and what the
        token may do is never refused."""
        principal, route = call.principal, call.route
        assert principal is not None
        event = call.event(route.action, site=site, outcome="denied", target=audit.path_target(route.action, params),
                           details={"method": call.request.method, "path": bounded(call.request.path), "role": principal.role.value})
        # a place in the budgets is taken as the event is to be written, in one step: checked here
        # and charged after, concurrent denials would all find the same room
        admission = self.denial_budget.admission(principal)
        try:
            written = self.denials.deny(event, admit=admission, site_uid=principal.uid_of(site))
        except BaseException:
            admission.give_back()  # its event was not written, so it spent nothing
            raise
        if written is None:
            throttled = admission.throttled
            assert throttled is not None
            self._audit_throttle(call, throttled)
            whose = "this site's tokens were" if throttled.by_site else "this token was"
            raise ApiError(ErrorCode.rate_limited, f"{whose} refused too many different requests; try again in {throttled.retry_after} s",
                           {"retry_after": throttled.retry_after, "reason": "site_denied" if throttled.by_site else "denied"},
                           headers=[("Retry-After", str(throttled.retry_after))])
        raise ApiError(ErrorCode.forbidden, _forbidden_message(principal, route))

    def _audit_throttle(self, call: Call, throttled: Throttled) -> None:
        """The throttle's event: one kind per token (or per site, whichever token), whatever the
        address, so that neither many addresses nor many tokens make it many events; its first
        names the token and address, its count only what is common to them."""
        principal = call.principal
        assert principal is not None
        limit = {"threshold": throttled.threshold, "window_seconds": throttled.window}
        if throttled.by_site:
            event = call.event("auth.rate_limited", site=principal.site, outcome="denied", details={"reason": "site_denied", **limit})
            kind = event._replace(actor=None, actor_id=None, source=None)
        else:
            event = call.event("auth.rate_limited", site=principal.site, outcome="denied",
                               details={"reason": "denied", "role": principal.role.value, **limit})
            kind = event._replace(source=None)
        if self.denials.deny(event, kind=kind, site_uid=principal.site_uid):
            self.denial_budget.charge(principal, token=False)  # the site pays for it, as for any written denial


def _refuse_control_characters_in_query(request: Request, route: Route) -> None:
    """422 for a query parameter of `route` holding a control character: no filter, cursor or
    scope holds one, and an audit filter with a NUL would fail on PostgreSQL alone. Parameters
    the route does not take are ignored, as ever: they reach nothing."""
    bad = [name for name in route.query if has_control_character(request.query.get(name, ""))]
    if bad:
        raise validation_error([{"path": pointer([name]), "message": "must not contain control characters"} for name in bad],
                               "the query string holds control characters")


_STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


def _method_named(method: str) -> str:
    """A 405's name for the method asked: itself when it is one of HTTP's own, else "this method".
    Any token is a method, as long as the request head allows (68 KiB), and this answer is given
    before a token is looked up: it must not grow with what anyone sends."""
    return method if method in _STANDARD_METHODS else "this method"


def _forbidden_message(principal: Principal, route: Route) -> str:
    if principal.role is Role.admin and route.permission is Permission.operator:
        return "only the operator's admin token (bound to no site) may do this"
    if principal.role is Role.service:  # say what it is for: `run --service` with another name lands here
        return f"a service token may only fetch and record the environment of its own service, {principal.service!r}"
    role = principal.role.value
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role} token may not do this"


# Stored times are `YYYY-MM-DDTHH:MM:SSZ`, which sort as the moments they name, so comparing the
# strings is comparing the times (and costs nothing on the per-request path).

def _stale(last_used_at: str | None, seconds: int) -> bool:
    return last_used_at is None or last_used_at <= utc_now(-seconds)  # utc_now keeps each second's text



_KEY_CHANGED = "the master key was rotated while this server ran; it serves nothing until restarted with the new key"

_REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 411: "Length Required", 413: "Payload Too Large",
    415: "Unsupported Media Type", 422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
    503: "Service Unavailable", 507: "Insufficient Storage",
}
_STATUS_LINES = {status: f"{status} {reason}" for status, reason in _REASONS.items()}


def create_app(state: State, *, denials: DenialLog | None = None, denial_budget: DenialBudget | None = None) -> Application:
    """The WSGI application over `state`, with docs/API.md's whole routing table. Whoever serves
    it calls its `close()` once the last request is answered."""
    from .handlers import ROUTES

    return Application(state, ROUTES, denials=denials, denial_budget=denial_budget)
