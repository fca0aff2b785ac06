"""A secret's kept versions as the TUI shows them, without Textual: what each one's fingerprint
says ("same as v2", "= site value") without revealing anything."""

from __future__ import annotations

from shared.models import Secret, SecretVersion


def counterpart(secret: Secret, secrets: list[Secret]) -> Secret | None:
    """The secret of the same name at the other level: the site's for an app secret (the value the
    app's services get without it); None for a site secret."""
    if secret.app is None:
        return None
    return next((other for other in secrets if other.app is None and other.name == secret.name), None)


def same_as(versions: list[SecretVersion]) -> dict[int, list[int]]:
    """For each version, the other kept versions with the same fingerprint (so the same value)."""
    by_print: dict[str, list[int]] = {}
    for version in versions:
        if version.fingerprint:
            by_print.setdefault(version.fingerprint, []).append(version.version)
    return {v.version: sorted(n for n in by_print.get(v.fingerprint or "", []) if n != v.version) for v in versions}


def version_notes(versions: list[SecretVersion], site_value: Secret | None = None) -> dict[int, str]:
    """Version number -> note: `current`, `same as vN` (other kept versions with the same value),
    and for an app secret whether a version equals the site-level value of the same name."""
    notes: dict[int, str] = {}
    twins = same_as(versions)
    for version in versions:
        parts = ["current"] if version.current else []
        if version.fingerprint is None:
            parts.append("value unreadable")
        else:
            same = twins[version.version]
            if same:
                parts.append("same as " + ", ".join(f"v{number}" for number in same))
            if site_value is not None and site_value.fingerprint:
                if site_value.fingerprint == version.fingerprint:
                    parts.append("= site value")
                elif version.current:
                    parts.append("differs from site value")
        notes[version.version] = "; ".join(parts)
    return notes
