"""The OpenAPI 3.1 document, generated from the routing table and the `shared` models."""

from __future__ import annotations

import functools
import json
from typing import Any

from pydantic.json_schema import models_json_schema

from shared import __version__
from shared.models import ERROR_STATUS, ErrorBody

from .auth import Permission
from .routing import Route

_REF = "#/components/schemas/{model}"


def build(routes: list[Route]) -> dict[str, Any]:
    models = {m for r in routes for m in (r.body, r.response) if m is not None} | {ErrorBody}
    mapping, schema = models_json_schema(
        [(m, "validation" if _is_request(m, routes) else "serialization") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template=_REF,
    )
    refs = {model: entry["$ref"] for (model, _), entry in mapping.items()}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Site Secrets", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": schema.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _is_request(model, routes: list[Route]) -> bool:
    return any(r.body is model for r in routes)


def _operation(route: Route, refs: dict) -> dict[str, Any]:
    error = {"description": "an error", "content": {"application/json": {"schema": {"$ref": refs[ErrorBody]}}}}
    responses: dict[str, Any] = {}
    if route.status == 204:
        responses["204"] = {"description": "done"}
    elif route.response is not None:
        responses[str(route.status)] = {"description": "success", "content": {"application/json": {"schema": {"$ref": refs[route.response]}}}}
    else:
        responses["200"] = {"description": "success", "content": {"application/json": {"schema": {"type": "object"}}}}
    for status in sorted({str(s) for s in ERROR_STATUS.values()}):
        responses.setdefault(status, error)
    operation: dict[str, Any] = {
        "operationId": f"{route.method.lower()}_{route.path}".replace("/", "_").replace("{", "").replace("}", ""),
        "summary": route.summary,
        "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in route.params]
        + [{"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in route.query],
        "responses": responses,
        "x-permission": route.permission.value,
        "x-audit-action": route.action,
    }
    if route.permission is not Permission.public:
        operation["security"] = [{"bearer": []}]
    if route.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"$ref": refs[route.body]}}}}
    return operation


@functools.cache
def document() -> bytes:
    from .handlers import ROUTES

    return json.dumps(build(ROUTES), separators=(",", ":")).encode()
