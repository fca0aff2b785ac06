"""Secret types: checking a JSON Schema, and checking a typed value against it.

A schema is checked against its own metaschema (Draft 2020-12 unless `$schema` names another),
and may not `$ref` anything outside itself: nothing is ever fetched. Errors about a value name
the constraint and the JSON Pointer of the field, never the value itself (jsonschema's own
messages quote the instance, which would echo a secret). Checking is bounded in time and memory,
and runs in the request's thread: see `validation.py`.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import jsonschema
from referencing import Registry
from referencing.exceptions import Unretrievable

from . import validation
from .http import pointer

_REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")


def _refuse_retrieval(uri: str):
    raise Unretrievable(ref=uri)


_NO_FETCH = Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]


def _external_refs(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _REF_KEYWORDS and isinstance(value, str) and not value.startswith("#"):
                yield path + (key,), value
            yield from _external_refs(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _external_refs(value, path + (index,))


_SCHEMA_KEYWORDS = ("additionalItems", "additionalProperties", "contains", "else", "if", "items", "not",
                    "propertyNames", "then", "unevaluatedItems", "unevaluatedProperties")
_SCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "items", "oneOf", "prefixItems")
_SCHEMA_MAP_KEYWORDS = ("$defs", "definitions", "dependencies", "dependentSchemas", "patternProperties", "properties")


def _subschemas(node: dict, path: tuple) -> Iterator[tuple[tuple, Any]]:
    for key in _SCHEMA_KEYWORDS:
        if isinstance(node.get(key), dict):
            yield path + (key,), node[key]
    for key in _SCHEMA_LIST_KEYWORDS:
        if isinstance(node.get(key), list):
            yield from ((path + (key, i), sub) for i, sub in enumerate(node[key]))
    for key in _SCHEMA_MAP_KEYWORDS:
        if isinstance(node.get(key), dict):
            yield from ((path + (key, name), sub) for name, sub in node[key].items())


def _patterns(schema: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """Every regular expression of `schema` in a schema position (not inside `const`, `enum`...)."""
    if not isinstance(schema, dict):
        return
    if isinstance(schema.get("pattern"), str):
        yield path + ("pattern",), schema["pattern"]
    if isinstance(schema.get("patternProperties"), dict):
        yield from ((path + ("patternProperties", p), p) for p in schema["patternProperties"])
    for subpath, subschema in _subschemas(schema, path):
        yield from _patterns(subschema, subpath)


def schema_problems(schema: dict[str, Any]) -> list[dict[str, str]]:
    """Why `schema` cannot define a secret type: `[{"path", "message"}]`, empty when it can. The
    whole check (its patterns compiled, the metaschema, the $refs) runs under one budget."""
    budget = validation.Budget()
    try:
        with validation.within(budget):
            return _problems(schema, budget)
    except (validation.Unbounded, RecursionError):  # the metaschema check recurses several frames per level of nesting
        return [{"path": "/schema", "message": "the schema cannot be checked within the bound: " + UNBOUNDED_HINT}]


def _problems(schema: dict[str, Any], budget: validation.Budget) -> list[dict[str, str]]:
    problems = [
        {"path": "/schema" + pointer(path), "message": "a $ref must point inside the schema (start with '#'); nothing is fetched"}
        for path, _ in _external_refs(schema)
    ]
    problems += [
        {"path": "/schema" + pointer(path), "message": message}
        for path, pattern in _patterns(schema) if (message := validation.regex_problem(pattern))
    ]
    if problems:
        return problems
    error = validation.schema_error(schema)  # under the budget, as everything else here
    if error is not None:
        return [{"path": "/schema" + pointer(error.absolute_path), "message": f"not a valid JSON Schema: {error.message}"}]
    try:  # resolve every local $ref once, so a dangling pointer is caught now, not at the first secret
        validation.errors(validation.validator_for(schema, registry=_NO_FETCH), None, budget)
    except validation.Unbounded:
        raise  # past the budget: `schema_problems` says so; not a $ref that does not resolve
    except Exception:
        return [{"path": "/schema", "message": "the schema has a $ref that does not resolve inside it"}]
    return []


UNBOUNDED_HINT = "simplify it (fewer nested anyOf/oneOf/$ref, shorter patterns)"


def value_problems(schema: dict[str, Any], value: str, budget: validation.Budget | None = None) -> list[dict[str, str]]:
    """Why `value` is not a valid instance of `schema`: `[{"path", "message"}]`, empty when valid.

    Raises `validation.Unbounded` when the check does not finish within `budget` (a fresh one by
    default; a type change shares one across all the values it re-checks)."""
    try:
        instance = validation.parse(value)
    except (json.JSONDecodeError, RecursionError) as error:
        where = f" (line {error.lineno}, column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
        return [{"path": "", "message": f"a typed secret's value must be JSON text{where}"}]
    except validation.ValueNotJson as error:
        return [{"path": "", "message": str(error)}]
    validator = validation.validator_for(schema, registry=_NO_FETCH)
    try:
        found = validation.errors(validator, instance, budget or validation.Budget())
    except validation.Unbounded:
        raise  # past the budget: `schema_problems` says so; not a $ref that does not resolve
    except Exception:
        return [{"path": "", "message": "the value could not be checked against its type's schema"}]
    problems: list[dict[str, str]] = []
    said: set[tuple[str, str]] = set()
    # jsonschema reports `required` once per missing property, and `_describe` names every missing
    # one from each report: three missing fields were listed three times each.
    for error in sorted(found, key=lambda e: list(map(str, e.absolute_path))):
        for problem in _describe(error):
            if (problem["path"], problem["message"]) not in said:
                said.add((problem["path"], problem["message"]))
                problems.append(problem)
    return problems


def _describe(error: jsonschema.ValidationError) -> list[dict[str, str]]:
    path = list(error.absolute_path)
    keyword, expected = error.validator, error.validator_value
    if keyword == "required" and isinstance(error.instance, dict):
        missing = [name for name in expected if name not in error.instance]
        return [{"path": pointer(path + [name]), "message": "is required"} for name in missing]
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        extra = [name for name in error.instance if name not in known]
        return [{"path": pointer(path + [name]), "message": "is not a property of this type"} for name in extra]
    return [{"path": pointer(path), "message": _constraint_message(keyword, expected)}]


def _constraint_message(keyword: str, expected: Any) -> str:
    templates = {
        "type": "must be of type {}",
        "enum": "must be one of {}",
        "const": "must be the fixed value the type requires",
        "minLength": "must be at least {} characters",
        "maxLength": "must be at most {} characters",
        "pattern": "must match the pattern {}",
        "format": "must be a valid {}",
        "minimum": "must be at least {}",
        "maximum": "must be at most {}",
        "exclusiveMinimum": "must be more than {}",
        "exclusiveMaximum": "must be less than {}",
        "minItems": "must have at least {} items",
        "maxItems": "must have at most {} items",
        "uniqueItems": "must not repeat an item",
    }
    if keyword not in templates:
        return f"fails the schema's '{keyword}' rule"
    if isinstance(expected, list):  # enum choices and type unions come from the schema, not the value
        expected = ", ".join(json.dumps(v) if keyword == "enum" else str(v) for v in expected)
    return templates[keyword].format(expected)
