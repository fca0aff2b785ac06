"""The OpenAPI document's patterns accept and refuse the same strings as the rules of
`shared/limits.py`, so a client that checks a request against the document (the TUI, a generated
client, Schemathesis) and the server agree on every name, key, label, description and value.

Patterns are read from the served document and applied as JSON Schema means them (ECMA-262: a
pattern is searched for, `$` ends the input, so a trailing newline is not swallowed)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.handlers import ROUTES
from server.openapi import document
from shared.limits import (
    MAX_NAME_LENGTH_CEILING,
    description_problem,
    is_slug,
    label_problem,
    secret_name_problem,
    type_key_problem,
    value_problem,
)

SCHEMAS = json.loads(document(tuple(ROUTES)))["components"]["schemas"]


def prop(model: str, field: str) -> dict:
    schema = SCHEMAS[model]["properties"][field]
    return next((s for s in schema.get("anyOf", [schema]) if s.get("type") == "string"), schema)


def accepts(schema: dict, text: str) -> bool:
    """Whether a JSON Schema validator accepts `text` for this string schema (pattern and lengths)."""
    pattern = schema.get("pattern")
    if pattern is not None:
        assert pattern.startswith("^") and pattern.endswith("$"), pattern
        # ECMA-262 `$` (no multiline flag) is the end of the input; Python's `$` also matches before
        # a final newline, so the anchors are applied as fullmatch
        if not re.fullmatch(pattern[1:-1], text, re.DOTALL):
            return False
    return schema.get("minLength", 0) <= len(text) <= schema.get("maxLength", len(text))


RULES = {
    "site name": (prop("SiteCreate", "name"), is_slug),
    "app name": (prop("AppCreate", "name"), is_slug),
    "service name": (prop("ServiceCreate", "name"), is_slug),
    "secret name": (prop("SecretCreate", "name"), lambda s: secret_name_problem(s, MAX_NAME_LENGTH_CEILING) is None),
    "type key": (prop("SecretTypeCreate", "key"), lambda s: type_key_problem(s) is None),
    "secret's type": (prop("SecretCreate", "type"), lambda s: type_key_problem(s) is None),
    "description": (prop("SecretCreate", "description"), lambda s: description_problem(s) is None),
    "type description": (prop("SecretTypeCreate", "description"), lambda s: description_problem(s) is None),
    "token name": (prop("TokenCreate", "name"), lambda s: label_problem(s) is None and 1 <= len(s) <= 128),
    "type name": (prop("SecretTypeCreate", "name"), lambda s: label_problem(s) is None and 1 <= len(s) <= 128),
    "value": (prop("SecretCreate", "value"), lambda s: value_problem(s) is None),
}

EDGES = [
    "", "a", "A", "_", "0", "-", "a-", "a_b", "a-b", "A_1", "1A", "web", "web\n", "\nweb", "web ", " web",
    "a" * 63, "a" * 64, "a" * 65, "x" * 128, "x" * 129, "x" * 1024, "x" * 1025, "x\n" * 512, "x\n" * 513,
    "line\nbreak", "tab\there", "cr\rhere", "nul\x00", "del\x7f", "c1\x85", "c1\x9f", "past-c1\xa0",
    "bidi\u202e", "isolate\u2066", "mark\u200e", "alm\u061c", "zwj\u200d", "ümlaut", "日本", "emoji😀",
    "\u2028", "\ufeff", "€uro",
]


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("text", EDGES, ids=repr)
def test_the_document_and_the_rule_agree_on_edge_cases(rule, text):
    schema, check = RULES[rule]
    assert accepts(schema, text) == check(text)


characters = st.characters(exclude_categories=("Cs",)) | st.sampled_from("\x00\t\n\r\x1b\x7f\x85\x9f\u061c\u200e\u202e\u2066-_aZ09")


@pytest.mark.parametrize("rule", sorted(RULES))
@settings(max_examples=300, deadline=None)
@given(text=st.text(characters, max_size=80))
def test_the_document_and_the_rule_agree_on_any_text(rule, text):
    schema, check = RULES[rule]
    assert accepts(schema, text) == check(text)


def test_a_lone_surrogate_is_the_one_thing_a_value_pattern_cannot_refuse():
    """No pattern can say "valid Unicode"; a JSON body holding a lone surrogate is refused whole
    (400 `invalid_json`, see tests/server/test_api_name_limits.py) before any rule runs."""
    schema, check = RULES["value"]
    assert accepts(schema, "a\ud800") and not check("a\ud800")
