"""Reading a secret type's JSON Schema as a flat form, and placing server errors on it.

Pure functions, no Textual: `form_fields` says which fields a schema has (or None when a form
cannot express it and the raw JSON editor must be used); `error_field` maps a JSON Pointer from a
`validation_error` to the field it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SCALAR_KINDS = ("string", "integer", "number", "boolean")
_REQUIRED_MESSAGE = re.compile(r"^'([^']+)' is a required property")


@dataclass(frozen=True)
class FieldSpec:
    """One form field: a top-level property of an object schema."""

    name: str
    kind: str
    """`string`, `integer`, `number`, `boolean` or `enum`."""
    required: bool = False
    secret: bool = False
    """`writeOnly` or `format: password`: typed into a masked input."""
    options: tuple[Any, ...] = field(default=())
    description: str = ""
    min_length: int | None = None
    max_length: int | None = None
    """A string's `minLength`/`maxLength`: the bounds of a generated value."""


def _field(name: str, prop: Any, required: bool) -> FieldSpec | None:
    if not isinstance(prop, dict):
        return None
    secret = bool(prop.get("writeOnly")) or prop.get("format") == "password"
    description = str(prop.get("description") or prop.get("title") or "")
    enum = prop.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(v, (str, int, float, bool)) for v in enum):
        return FieldSpec(name, "enum", required, secret, tuple(enum), description)
    kind = prop.get("type")
    if kind in SCALAR_KINDS:
        return FieldSpec(name, kind, required, secret, (), description,
                         _whole(prop.get("minLength")), _whole(prop.get("maxLength")))
    return None


def _whole(bound: Any) -> int | None:
    return bound if isinstance(bound, int) and not isinstance(bound, bool) and bound >= 0 else None


def form_fields(schema: dict[str, Any]) -> list[FieldSpec] | None:
    """The fields of an object schema whose properties are all scalars or enums, else None."""
    if schema.get("type", "object") != "object":
        return None
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        return None
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    fields = []
    for name, prop in properties.items():
        spec = _field(name, prop, name in required)
        if spec is None:
            return None
        fields.append(spec)
    return fields


def parse_scalar(spec: FieldSpec, text: str) -> Any:
    """The JSON value typed for `spec`; raises ValueError with a short reason."""
    if spec.kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if spec.kind == "number":
        try:
            return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            raise ValueError("must be a number") from None
    return text


def _unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def error_field(path: str, message: str, names: set[str]) -> str | None:
    """The top-level field a `validation_error` entry is about, or None for the value as a whole.

    Accepts pointers into the value (`/port`) and into the request body (`/value/port`); a
    "required property" error is reported at the parent, so its message names the field.
    """
    segments = [_unescape(s) for s in path.split("/")[1:]] if path.startswith("/") else []
    if segments and segments[0] in ("value", "value_patch") and segments[0] not in names:
        segments = segments[1:]
    if segments and segments[0] in names:
        return segments[0]
    found = _REQUIRED_MESSAGE.match(message)
    if not segments and found and found.group(1) in names:
        return found.group(1)
    return None
