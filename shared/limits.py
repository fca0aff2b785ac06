"""Names, limits and the rules that check them (docs/API.md, "Names and limits").

The rules are plain functions so the server, the TUI's live form checks and the command line
all give the same answer for the same input.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
"""Site, app and service names."""
SECRET_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
"""Secret names become environment variables, so they follow the shell's rule."""
TYPE_KEY_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
TOKEN_ID_PATTERN = r"^tok_[0-9a-f]{16}$"
"""A token's id (never the token, which starts `ss_`): what `DELETE /v1/tokens/{id}` names."""

SECRET_NAME_RULE = "must start with a letter or underscore and hold only letters, digits and underscores"
SLUG_RULE = "must be 1 to 63 lowercase letters, digits and '-', starting with a letter or digit"
TYPE_KEY_RULE = "must start with a lowercase letter, then up to 63 lowercase letters, digits, '_' or '-'"
PATTERN_RULES = {SECRET_NAME_PATTERN: SECRET_NAME_RULE, SLUG_PATTERN: SLUG_RULE, TYPE_KEY_PATTERN: TYPE_KEY_RULE}
"""Each name pattern's rule in words: what a refusal says, never the regular expression."""

MAX_NAME_LENGTH_CEILING = 2048
"""The most an operator may raise a site's `max_name_length` to: no new secret name is longer.

Both databases must index every name. PostgreSQL refuses a btree index row over 2,704 bytes (a
third of an 8 KB page, less headers), and a name shares its unique index with two 8-byte ids
(`secrets_scope_name`, `bindings_ref`): on PostgreSQL 15 the longest random name that indexes is
2,676 characters (a name is ASCII, so characters are bytes). 2,048 stays well inside that on both
backends, whatever PostgreSQL's compression makes of a particular name."""
MAX_STORED_NAME_LENGTH = 4096
"""The longest secret name any version let a site store (the ceiling was 4,096 before PostgreSQL's
index limit was measured; SQLite stored such names). Paths naming a secret up to this length are
still looked up, so those secrets stay readable and deletable; longer ones are 404 unread."""
MAX_DESCRIPTION_CHARS = 1024
DESCRIPTION_PATTERN = r"^[^\x00-\x09\x0b-\x1f\x7f-\x9f]*$"
"""`description_problem`'s character rule as a regular expression, for the OpenAPI document:
no character of Unicode category Cc (U+0000-U+001F, U+007F-U+009F) except newline."""
LABEL_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$"
"""`label_problem`'s character rule as a regular expression, for the OpenAPI document: no C0 or C1
control, no DEL, no bidirectional mark, embedding, override or isolate."""
VALUE_PATTERN = r"^[^\x00]*$"
"""`value_problem`'s NUL rule as a regular expression, for the OpenAPI document."""
NO_CONTROL_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
"""`has_control_character`'s rule as a regular expression, for the OpenAPI document's query parameters."""
MAX_REQUEST_BYTES = 1024 * 1024
MAX_VERSIONS_CEILING = 1000
"""The most values of one secret a site may keep (`max_versions`)."""
MAX_TRASH_DAYS = 3650
MAX_AUDIT_RETENTION_DAYS = 36500
MAX_COUNT_CEILING = 100_000
"""The most apps, services, secret types or live tokens an operator may allow one site."""


@dataclass(frozen=True)
class Limits:
    """The limits of one site; the server's defaults unless an admin raised them."""

    max_secrets: int = 100
    max_value_bytes: int = 65_536
    max_name_length: int = 256
    max_versions: int = 10
    """How many values of each secret are kept (the current one included); older ones are wiped."""
    trash_days: int = 30
    """How long a deleted secret stays in the site's trash before it is purged; 0 deletes at once."""
    audit_retention_days: int = 400
    """How long the site's audit events are kept before retention removes them; 0 keeps them forever."""
    # What a tenant can make besides secrets: each costs rows every listing of the site reads (and
    # a type up to a megabyte of schema), so a site must not hold without bound.
    max_apps: int = 100
    max_services: int = 500
    max_types: int = 100
    max_tokens: int = 1000
    """Tokens bound to the site that have not expired: expired ones count toward nothing (and are
    removed a week after they expire, `EXPIRED_TOKEN_GRACE_DAYS`)."""


DEFAULT_LIMITS = Limits()
EXPIRED_TOKEN_GRACE_DAYS = 7
"""How long an expired token stays listed (marked expired, so its owner sees why a client stopped
working) before the server removes it, as a revoke would."""

_SLUG = re.compile(SLUG_PATTERN)
_SECRET_NAME = re.compile(SECRET_NAME_PATTERN)
_TYPE_KEY = re.compile(TYPE_KEY_PATTERN)
_TOKEN_ID = re.compile(TOKEN_ID_PATTERN)
_LABEL = re.compile(LABEL_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def is_slug(name: str) -> bool:
    return bool(_SLUG.fullmatch(name))


def is_token_id(text: str) -> bool:
    return bool(_TOKEN_ID.fullmatch(text))


def has_control_character(text: str) -> bool:
    """Whether `text` holds a C0 or C1 control or DEL (Unicode category Cc).

    No name, key, id or audit filter may hold one, so a path or query string that does names
    nothing; and PostgreSQL's text cannot hold NUL at all, so such text must never reach it."""
    return _CONTROL.search(text) is not None


def secret_name_problem(name: str, max_length: int = DEFAULT_LIMITS.max_name_length) -> str | None:
    """Why `name` cannot name a secret, or None when it can."""
    if not name:
        return "must not be empty"
    if len(name) > max_length:
        return f"must be at most {max_length} characters (it has {len(name)})"
    if not _SECRET_NAME.fullmatch(name):
        return SECRET_NAME_RULE
    return None


def type_key_problem(key: str) -> str | None:
    """Why `key` cannot be a secret type key, or None when it can."""
    if not _TYPE_KEY.fullmatch(key):
        return TYPE_KEY_RULE
    return None


def description_problem(text: str) -> str | None:
    """Why `text` cannot be a description, or None when it can."""
    if len(text) > MAX_DESCRIPTION_CHARS:
        return f"must be at most {MAX_DESCRIPTION_CHARS} characters"
    if any(ch != "\n" and unicodedata.category(ch) == "Cc" for ch in text):
        return "must not contain control characters other than newline"
    return None


def label_problem(text: str) -> str | None:
    """Why `text` cannot be a token name or a type's display name, or None when it can.

    Such labels are listed on other people's terminals: a control character could drive the
    terminal, a bidirectional override could make one name read as another."""
    if not _LABEL.fullmatch(text):
        return "must not contain control characters or bidirectional formatting characters"
    return None


def value_problem(value: str) -> str | None:
    """Why `value` cannot be stored, or None when it can. Size is checked against the site's limit apart."""
    if "\x00" in value:
        return "must not contain NUL characters (a value becomes an environment variable)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (it holds a lone surrogate)"
    return None


def value_size(value: str) -> int:
    """The size that counts against `max_value_bytes`: the UTF-8 encoding of the value."""
    return len(value.encode("utf-8", "surrogatepass"))
