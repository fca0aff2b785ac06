"""What the operator's views (the Sites tab, `sitesecrets sites`) say about a site's limits and
usage, without Textual: the limits one may set, in one order with their words, and sizes in words."""

from __future__ import annotations

from typing import NamedTuple


class LimitField(NamedTuple):
    key: str
    """The field of `LimitsUpdate`/`LimitsModel`."""
    label: str
    flag: str
    """The `sitesecrets sites set` option."""


LIMIT_FIELDS = (
    LimitField("max_secrets", "Max secrets", "--max-secrets"),
    LimitField("max_value_bytes", "Max value bytes", "--max-value-bytes"),
    LimitField("max_name_length", "Max name length", "--max-name-length"),
    LimitField("max_versions", "Versions kept", "--max-versions"),
    LimitField("trash_days", "Trash days", "--trash-days"),
    LimitField("max_apps", "Max apps", "--max-apps"),
    LimitField("max_services", "Max services", "--max-services"),
    LimitField("max_types", "Max secret types", "--max-types"),
    LimitField("max_tokens", "Max live tokens", "--max-tokens"),
    LimitField("audit_retention_days", "Audit days kept", "--audit-retention-days"),
)


def size_text(count: int) -> str:
    """`count` bytes for a person: `512 B`, `1.5 KiB`, `12.0 MiB`."""
    if count < 1024:
        return f"{count} B"
    for unit in ("KiB", "MiB", "GiB"):
        count /= 1024
        if count < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}"
    raise AssertionError("unreachable")


def plural(count: int, word: str) -> str:
    """`1 token`, `2 tokens`."""
    return f"{count} {word}" + ("" if count == 1 else "s")


def secrets_fill(site) -> float:
    """How full the site is, as the share of `max_secrets` its secrets take (0.0 to 1.0 and over)."""
    return site.usage.secrets / site.limits.max_secrets if site.limits.max_secrets else 0.0


def secrets_text(site) -> str:
    """`12/100`: the site's secrets against its limit."""
    return f"{site.usage.secrets}/{site.limits.max_secrets}"
