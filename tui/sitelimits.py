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
    LimitField("audit_retention_days", "Audit kept days (0: forever)", "--audit-retention-days"),
    LimitField("max_apps", "Max apps", "--max-apps"),
    LimitField("max_services", "Max services", "--max-services"),
    LimitField("max_types", "Max secret types", "--max-types"),
    LimitField("max_tokens", "Max live tokens", "--max-tokens"),
)


def field_of(setting: object) -> LimitField | None:
    """The limit field named `setting` (a refusal's `details.setting`), or None for one unknown here."""
    return next((field for field in LIMIT_FIELDS if field.key == setting), None)


def raise_advice(setting: object, operator: bool) -> str:
    """What to do about a 409 `limit_exceeded` naming `setting` (its `details.setting`): the
    operator is told where the TUI raises it, anyone else that only the operator can; "" for a
    setting this client does not know."""
    field = field_of(setting)
    if field is None:
        return ""
    if operator:
        return f"Raise {field.label} in the Sites tab (5, then e)."
    return f"Only the hosting operator can raise {field.key} ({field.label.lower()}); ask them, or make room first."


def raise_command(setting: object) -> str:
    """For the command line's 409 `limit_exceeded`: the command that raises `setting`, which only
    the operator's token may run; "" for a setting this client does not know."""
    field = field_of(setting)
    if field is None:
        return ""
    return f"The hosting operator raises it: sitesecrets sites set SITE {field.flag} N."


def size_text(count: int) -> str:
    """`count` bytes for a person: `512 B`, `1.5 KiB`, `12.0 MiB`."""
    if count < 1024:
        return f"{count} B"
    for unit in ("KiB", "MiB", "GiB"):
        count /= 1024
        if count < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}"
    raise AssertionError("unreachable")


class Use(NamedTuple):
    """One count a site holds against the limit that caps it."""

    noun: str
    """What is counted, plural: `apps`."""
    setting: str
    """The limit's field: `max_apps`."""
    used: int
    limit: int

    @property
    def fill(self) -> float:
        """The share of the limit taken (0.0 to 1.0, over 1.0 when a limit was lowered below it)."""
        return self.used / self.limit if self.limit else 0.0

    def text(self) -> str:
        """`2/100 apps`, `0/1,000,000 apps`."""
        return f"{self.used:,}/{self.limit:,} {self.noun}"

    def share(self) -> str:
        """`apps 2%`."""
        return f"{self.noun} {self.fill:.0%}"


COUNTED = (("secrets", "max_secrets"), ("apps", "max_apps"), ("services", "max_services"),
           ("types", "max_types"), ("tokens", "max_tokens"))
"""Each count of `Site.usage` that a limit caps (usage field, limit field), secrets first."""


def uses(site) -> list[Use]:
    """What `site` holds against each limit that caps a count, in `COUNTED`'s order."""
    return [Use(noun, setting, getattr(site.usage, noun), getattr(site.limits, setting)) for noun, setting in COUNTED]


def fullest(site) -> Use:
    """The count nearest its limit (the first of `COUNTED` on a tie): where the site will be
    refused first."""
    return max(uses(site), key=lambda use: use.fill)


def used_of(setting: str, site) -> int | None:
    """What `site` holds now of what limit `setting` caps, or None for a limit that caps no count."""
    return next((use.used for use in uses(site) if use.setting == setting), None)


def secrets_fill(site) -> float:
    """How full the site is, as the share of `max_secrets` its secrets take (0.0 to 1.0 and over)."""
    return site.usage.secrets / site.limits.max_secrets if site.limits.max_secrets else 0.0


def secrets_text(site) -> str:
    """`12/100`, `3/1,000,000`: the site's secrets against its limit."""
    return f"{site.usage.secrets:,}/{site.limits.max_secrets:,}"
