"""The OpenAPI 3.1 document, generated from the routing table and the `shared` models.

Every route is described, with what it really answers: its success status, and only the error
statuses it can produce (which depend on whether it needs a token, takes a body, names things in
its path, and what the handler itself refuses). Path and query parameters carry the patterns and
types the server enforces, so a generated request that matches the document is one the server
accepts (or refuses only for the state it meets: 404, 409).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Sequence

from pydantic.json_schema import models_json_schema

from shared import __version__
from shared.limits import NO_CONTROL_PATTERN, SECRET_NAME_PATTERN, SLUG_PATTERN, TYPE_KEY_PATTERN
from shared.models import ErrorBody

from .auth import Permission
from .routing import SCOPES, Route, names_secret

_REF = "#/components/schemas/{model}"

PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "site": {"type": "string", "pattern": SLUG_PATTERN},
    "app": {"type": "string", "pattern": SLUG_PATTERN},
    "key": {"type": "string", "pattern": TYPE_KEY_PATTERN},
    "id": {"type": "string", "minLength": 1, "maxLength": 64},
}
"""`{name}` is a secret's name under `/secrets/` and a service's under `/services/` (see `_path_schema`)."""

QUERY_PARAMETERS: dict[str, dict[str, Any]] = {
    "scope": {"type": "string", "enum": ["site", "all"], "description": "`all` lists every scope of the site"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500, "description": "page size (default 100)"},
    "before": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1, "description": "the `next` cursor of the previous page"},
    "action": {"type": "string", "pattern": NO_CONTROL_PATTERN, "description": "an action, or a prefix ending in `*`"},
    "target": {"type": "string", "pattern": NO_CONTROL_PATTERN, "description": "a target, or a prefix ending in `*`"},
    "actor": {"type": "string", "pattern": NO_CONTROL_PATTERN, "description": "a token name"},
    "cascade": {"type": "string", "enum": ["true", "false"],
                "description": "`true`: delete the site with everything in it (secrets wiped, tokens revoked)"},
    "site": {"type": "string", "pattern": SLUG_PATTERN, "description": "only the tokens bound to this site"},
    "record": {"type": "string", "enum": ["true", "false"],
               "description": "`false`: hand out the environment without recording the load (see `POST .../loads`)"},
}


def build(routes: Sequence[Route]) -> dict[str, Any]:
    models = {m for r in routes for m in (r.body, r.response) if m is not None} | {ErrorBody}
    mapping, schema = models_json_schema(
        [(m, "validation" if _is_request(m, routes) else "serialization") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template=_REF,
    )
    refs = {model: entry["$ref"] for (model, _), entry in mapping.items()}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs)
    for route in routes:
        links = _links(route, routes)
        if links:
            paths[route.path][route.method.lower()]["responses"][str(route.status)]["links"] = links
    return {
        "openapi": "3.1.0",
        "info": {"title": "Site Secrets", "version": __version__},
        "tags": _tags(routes),
        "paths": paths,
        "components": {
            "schemas": schema.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _is_request(model, routes: Sequence[Route]) -> bool:
    return any(r.body is model for r in routes)


def _error_statuses(route: Route) -> set[int]:
    """The error statuses `route` can answer. 500 anywhere, and 503 (`master_key_changed`: a server
    whose master key was rotated under it serves nothing); with a token, 401, 403 and 429, and 503
    or 507 because even a read may write (a token's last use, an audited denial); with a body, the
    body's refusals (chunked bodies are accepted, so no 411); 404 for a named thing; 422 for a
    query parameter out of its range (or holding a control character); and what the route
    declares its handler refuses (`Route.errors`)."""
    statuses = {500, 503}
    if route.permission is not Permission.public:
        statuses |= {401, 403, 429, 503, 507}
    if route.body is not None:
        statuses |= {400, 413, 415, 422}
    if route.params:
        statuses.add(404)
    if route.query:
        statuses.add(422)
    return statuses | set(route.errors)


TAGS: dict[str, tuple[str, str]] = {
    # the noun of an audit action: (tag, what the tag groups)
    "site": ("sites", "Sites and their limits"),
    "app": ("apps", "Apps of a site"),
    "secret": ("secrets", "Secrets at site or app scope: values, versions and the trash"),
    "trash": ("secrets", ""),
    "type": ("types", "Secret types: the rules a value must follow"),
    "service": ("services", "Services, their bindings and the environment they receive"),
    "audit": ("audit", "The audit log"),
    "token": ("tokens", "API tokens"),
    "health": ("meta", "The server itself: health and this document"),
    "openapi": ("meta", ""),
}
"""Every operation is in exactly one tag, found from its action's noun (or `Route.tag`)."""

_NOUNS = {"type": "SecretType"}  # `type.create` creates a secret type


def tag_of(route: Route) -> str | None:
    return route.tag or (TAGS.get(route.action.split(".")[0], (None,))[0])


def operation_id(route: Route) -> str:
    """`Route.operation`, else the verb and noun of the route's action: `secret.reveal` is
    `revealSecret`, `site.list` is `listSites`. A secret's routes at app scope get `App` before
    `Secret` or `Trash` (`revealAppSecret`), since each exists at both scopes."""
    noun, _, verb = route.action.partition(".")
    name = route.operation or verb + _NOUNS.get(noun, noun[:1].upper() + noun[1:]) + ("s" if verb == "list" else "")
    if noun in ("secret", "trash") and route.path.startswith(SCOPES[1] + "/"):
        name = re.sub("Secret|Trash", lambda found: "App" + found.group(), name, count=1)
    return name


def _tags(routes: Sequence[Route]) -> list[dict[str, str]]:
    """The document's tag list: those its operations use, in the order of `TAGS`."""
    described = {tag: text for tag, text in TAGS.values() if text}
    used = [tag for tag in dict.fromkeys([*described, *sorted(filter(None, map(tag_of, routes)))]) if tag in map(tag_of, routes)]
    return [{"name": tag, "description": described.get(tag, tag)} for tag in used]


def _links(create: Route, routes: Sequence[Route]) -> dict[str, Any]:
    """OpenAPI links from a create (POST answering 201) to every route on the thing it made: the
    new thing's parameter comes from the answer's field of that name (else its `name` or `key`), the others from the
    create's own path. They let a client, and Schemathesis's stateful tests, follow the API."""
    if create.method != "POST" or create.status != 201 or create.response is None:
        return {}
    fields = create.response.model_fields
    links = {}
    for route in routes:
        rest = route.path.removeprefix(create.path + "/")
        if rest == route.path or not rest.startswith("{"):
            continue
        param = rest[1:].split("}", 1)[0]
        field = param if param in fields else next((f for f in ("name", "key") if f in fields), None)
        if field is None:
            continue
        parameters = {p: f"$request.path.{p}" for p in create.params}
        parameters[param] = f"$response.body#/{field}"
        links[f"{route.method.lower()}-{route.action}".replace(".", "-")] = {
            "operationId": operation_id(route), "parameters": parameters,
        }
    return links


def _path_schema(route: Route, name: str) -> dict[str, Any]:
    if name == "name":
        if names_secret(route.path):  # longer ones are 404 before anything else (see `Route.max_length`)
            return {"type": "string", "pattern": SECRET_NAME_PATTERN, "maxLength": route.max_length(name)}
        return {"type": "string", "pattern": SLUG_PATTERN}
    return PATH_PARAMETERS.get(name, {"type": "string"})


def _operation(route: Route, refs: dict) -> dict[str, Any]:
    error_content = {"application/json": {"schema": {"$ref": refs[ErrorBody]}}}
    responses: dict[str, Any] = {}
    if route.status == 204:
        responses["204"] = {"description": "done; no body"}
    elif route.response is not None:
        responses[str(route.status)] = {"description": "success", "content": {"application/json": {"schema": {"$ref": refs[route.response]}}}}
    else:
        responses["200"] = {"description": "success", "content": {"application/json": {"schema": {"type": "object"}}}}
    for status in sorted(_error_statuses(route)):
        responses[str(status)] = {"description": "an error (docs/API.md's one error shape)", "content": error_content}
    if "401" in responses:
        responses["401"]["headers"] = {"WWW-Authenticate": {"required": True, "schema": {"type": "string", "const": "Bearer"}}}
    if "429" in responses:
        responses["429"]["headers"] = {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
    operation: dict[str, Any] = {
        "operationId": operation_id(route),
        "tags": [tag_of(route)] if tag_of(route) else [],
        "summary": route.summary,
        "parameters": [{"name": p, "in": "path", "required": True, "schema": _path_schema(route, p)} for p in route.params]
        + [{"name": q, "in": "query", "required": False, "schema": QUERY_PARAMETERS.get(q, {"type": "string"})} for q in route.query],
        "responses": responses,
        "x-permission": route.permission.value,
        "x-audit-action": route.action,
    }
    if route.permission is not Permission.public:
        operation["security"] = [{"bearer": []}]
    if route.body is not None:
        operation["requestBody"] = {"required": not route.body_optional, "content": {"application/json": {"schema": {"$ref": refs[route.body]}}}}
    return operation


@functools.cache
def document(routes: tuple[Route, ...]) -> bytes:
    """The document of `routes` as served: built once per table, on its first request."""
    return json.dumps(build(routes), separators=(",", ":")).encode()
