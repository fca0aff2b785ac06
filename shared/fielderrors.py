"""How a request model's refusal is spelled (docs/API.md, `validation_error`): one JSON Pointer and
one message per problem, never the refused input (it may be a secret value).

The server answers with this list; the client builds the very same one when it checks a body
against the same model before sending it, so both refusals read alike.
"""

from __future__ import annotations

from typing import Any, Iterable

from pydantic import ValidationError

from shared.limits import PATTERN_RULES


def pointer(location: Iterable[Any]) -> str:
    """A JSON Pointer (RFC 6901) for a pydantic or jsonschema location."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in location]
    return "".join("/" + p for p in parts)


def field_errors(error: ValidationError) -> list[dict[str, str]]:
    """`[{"path", "message"}]` for each problem pydantic found; its input values are left out on
    purpose. A name that breaks its pattern is told the rule in words (`PATTERN_RULES`), not
    pydantic's "String should match pattern '^[a-z0-9][a-z0-9-]{0,62}$'"; our validators' refusals
    without pydantic's "Value error, "."""
    return [{"path": pointer(item["loc"]), "message": _message(item)}
            for item in error.errors(include_input=False, include_url=False)]


def _message(item: Any) -> str:
    context = item.get("ctx") or {}
    if item["type"] == "string_pattern_mismatch":
        return PATTERN_RULES.get(context.get("pattern"), item["msg"])
    if item["type"] == "value_error" and "error" in context:  # our own rule's words, without "Value error, "
        return str(context["error"])
    return item["msg"]
