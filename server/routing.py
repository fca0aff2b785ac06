"""The routing table: each route names its handler, the permission it needs, its audit action and
the models of its body and answer, so that authorisation, OpenAPI and the roles test all read
the same table."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel

from shared.limits import MAX_STORED_NAME_LENGTH

from .auth import Permission

SLUG_MAX_LENGTH = 63  # site, app and service names (SLUG_PATTERN)
_PARAM_MAX_LENGTH = {"site": SLUG_MAX_LENGTH, "app": SLUG_MAX_LENGTH, "key": 64, "id": 64}
"""The longest each path parameter can be and still name something (a token id is 20 characters)."""


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[..., Any]
    permission: Permission
    action: str
    """The audit action this route performs, e.g. `secret.create`; also names a denied attempt."""
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    summary: str = ""
    query: tuple[str, ...] = ()
    body_optional: bool = False
    """The body may be left out (a reveal's `{"version"}`)."""
    errors: tuple[int, ...] = ()
    """The error statuses the handler itself answers, beyond those every route of its kind may
    (see `openapi._error_statuses`): 409 for a name taken or a thing still in use, say. The
    document lists them, as FastAPI's `responses=` does."""
    operation: str = ""
    """The OpenAPI operationId, when the rule of `openapi.operation_id` (verb and noun of `action`,
    `listSecrets`, `revealAppSecret`) does not give a good one."""
    tag: str = ""
    """The OpenAPI tag, when the noun of `action` is not in `openapi.TAGS`."""
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)
    limits: tuple[tuple[str, int], ...] = field(init=False, repr=False, compare=False)
    """Each path parameter with `max_length`, worked out once (`oversized` runs on every request)."""

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))
        object.__setattr__(self, "limits", tuple((param, self.max_length(param)) for param in self.params))

    @property
    def params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)

    def max_length(self, param: str) -> int:
        """The longest `param` that could name anything: `{name}` is a secret's under `/secrets/` and `/trash/`
        (as long as any version let a site store, see `MAX_STORED_NAME_LENGTH`) and a service's
        under `/services/`."""
        if param == "name":
            return MAX_STORED_NAME_LENGTH if names_secret(self.path) else SLUG_MAX_LENGTH
        return _PARAM_MAX_LENGTH[param]

    def oversized(self, params: dict[str, str]) -> str | None:
        """The first path parameter too long to name anything, or None."""
        for param, limit in self.limits:
            if len(params[param]) > limit:
                return param
        return None


def names_secret(path: str) -> bool:
    """Whether a route's `{name}` is a secret's (else a service's)."""
    return "/secrets/" in path or "/trash/" in path


SCOPES = ("/v1/sites/{site}", "/v1/sites/{site}/apps/{app}")
"""docs/API.md's `{scope}`: every secrets route exists at site level and at app level."""


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = tuple(routes)
        # a path can only match routes with as many segments, so each lookup tries a handful, not all
        self._by_depth: dict[int, list[Route]] = {}
        for route in routes:
            self._by_depth.setdefault(route.path.count("/"), []).append(route)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
        """The route for `method` and `path` with its path parameters, and the methods `path` allows.

        Returns `(None, {}, [])` for an unknown path and `(None, {}, allowed)` for a known path
        asked with another method (a 405 with an `Allow` header). `HEAD` matches a `GET` route
        (RFC 9110 9.3.2: the same answer without its body).
        """
        allowed: list[str] = []
        for route in self._by_depth.get(path.count("/"), ()):
            found = route.pattern.match(path)
            if not found:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, found.groupdict(), []  # HEAD is GET whose body the server leaves out
            allowed += [route.method, "HEAD"] if route.method == "GET" else [route.method]
        return None, {}, allowed
