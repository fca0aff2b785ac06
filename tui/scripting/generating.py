"""`sitesecrets set NAME --generate`: which value to generate, and what to send for it.

An untyped secret (or a new one) gets a whole generated value. A typed secret gets one generated
field, sent as a `value_patch`, so its other fields are neither revealed nor resent: the field
named by `--field`, else the schema's only `writeOnly` or `format: password` string. The length
is `--length`, else what the field's `minLength`/`maxLength` allow (tui/generate.py).
"""

from __future__ import annotations

import argparse
from typing import Any

from tui.generate import MAX_LENGTH, generate_value, generated_length

from .common import UsageError


def check_generate_options(args: argparse.Namespace) -> None:
    """Usage errors of `set`'s value options, found before anything is read or sent."""
    if not args.generate:
        for flag, given in (("--length", args.length is not None), ("--field", args.field is not None)):
            if given:
                raise UsageError(f"{flag} goes with --generate")
        return
    for flag, given in (("--from-file", args.from_file is not None), ("--keep-value", args.keep_value),
                        ("--type", args.type is not None), ("--allow-empty", args.allow_empty)):
        if given:
            raise UsageError(f"--generate and {flag} do not go together")
    if args.length is not None and not 1 <= args.length <= MAX_LENGTH:
        raise UsageError(f"--length must be 1 to {MAX_LENGTH}")


def secret_fields(schema: dict[str, Any]) -> list[str]:
    """The schema's top-level string properties marked `writeOnly` or `format: password`."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return []
    return [name for name, prop in properties.items() if isinstance(prop, dict) and prop.get("type") == "string"
            and (prop.get("writeOnly") or prop.get("format") == "password")]


def pick_field(type_key: str, schema: dict[str, Any], wanted: str | None) -> tuple[str, dict[str, Any]]:
    """The field to generate and its schema; UsageError when none or several could be meant."""
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    if wanted is not None:
        prop = properties.get(wanted)
        if not isinstance(prop, dict) or prop.get("type") != "string":
            raise UsageError(f"type {type_key} has no string field {wanted!r}")
        return wanted, prop
    found = secret_fields(schema)
    if len(found) == 1:
        return found[0], properties[found[0]]
    if not found:
        raise UsageError(f"type {type_key} has no password or writeOnly field: name the field with --field")
    raise UsageError(f"type {type_key} has several secret fields ({', '.join(found)}): pick one with --field")


def generated_change(client, site: str, args: argparse.Namespace, current) -> tuple[dict[str, Any], str, str]:
    """(the body fields that carry the new value, the generated value, what it fills): `value`
    for an untyped or new secret, `value_patch` of one field for a typed one."""
    if current is None or current.type is None:
        if args.field is not None:
            raise UsageError(f"--field needs a typed secret; {args.name} has no type")
        value = generate_value(args.length or generated_length())
        return {"value": value}, value, args.name
    schema = next((t.schema_ for t in client.list_types(site) if t.key == current.type), None)
    if schema is None:
        raise UsageError(f"the type {current.type} of {args.name} is not readable")
    field, prop = pick_field(current.type, schema, args.field)
    try:
        length = args.length or generated_length(prop.get("minLength"), prop.get("maxLength"))
    except (TypeError, ValueError) as error:
        raise UsageError(f"field {field} of type {current.type}: {error}") from None
    value = generate_value(length)
    return {"value_patch": {field: value}}, value, f"{args.name}.{field}"
