"""What the Services tab and the secret detail pane know about services, without Textual.

`ServicesData` is one load of the tab (services, apps, secrets); the helpers answer the questions
the screens ask: which secrets a service may bind, how a binding reads, which version of a secret
each service last loaded.
"""

from __future__ import annotations

from shared.models import App, Secret, SecretRef, Service

NAME_RULE = "lowercase letters, digits and '-', starting with a letter or digit, at most 63"


class ServicesData:
    """What one load of the Services tab fetched."""

    def __init__(self, services: list[Service], apps: list[App], secrets: list[Secret]):
        self.services = sorted(services, key=lambda s: s.name)
        self.apps = sorted(apps, key=lambda a: a.name)
        self.secrets = secrets

    def app(self, name: str | None) -> App | None:
        return next((app for app in self.apps if app.name == name), None)


def ref_key(app: str | None, name: str) -> str:
    """A binding as one hashable string: `app/NAME`, or `/NAME` at site level."""
    return f"{app or ''}/{name}"


def ref_of(key: str) -> dict[str, str]:
    """The SecretRef body for a `ref_key`."""
    app, name = key.split("/", 1)
    return {"name": name, "app": app} if app else {"name": name}


def ref_label(ref: SecretRef | Secret) -> str:
    """`NAME (site)` or `NAME (app web)`."""
    return f"{ref.name} (site)" if ref.app is None else f"{ref.name} (app {ref.app})"


def bindable(secrets: list[Secret], app: App | None) -> list[Secret]:
    """The secrets a service of `app` (None: a service of the site) may bind, as docs/API.md says:
    the app's own secrets, and site-level ones only where the app allows them."""
    allowed = []
    for secret in secrets:
        if secret.app is None:
            if app is None or app.site_secrets:
                allowed.append(secret)
        elif app is not None and secret.app == app.name:
            allowed.append(secret)
    return sorted(allowed, key=lambda s: (s.app is not None, s.name.lower()))


def loaded_version(service: Service, secret: Secret) -> int | None:
    """The version of `secret` that `service` last loaded, or None (never loaded, or not bound)."""
    for loaded in service.loaded_versions:
        if loaded.name == secret.name and loaded.app == secret.app:
            return loaded.version
    return None


def status_line(service: Service) -> tuple[str, str]:
    """(text, style) of a service's state: restart needed (naming the stale secrets), missing
    secrets, never loaded, or up to date."""
    stale = ", ".join(ref.name for ref in service.stale)
    if service.restart_required:
        return f"⚠ RESTART NEEDED: {stale}", "bold black on yellow"
    if service.stale:
        return f"missing: {stale}", "yellow"
    if service.loaded_at is None:
        return "never loaded", "dim"
    return "up to date", "green"


def services_of(secret: Secret, services: list[Service]) -> list[tuple[Service, int | None]]:
    """(service, version it last loaded) for every service bound to `secret`."""
    return [(service, loaded_version(service, secret)) for service in services
            if any(ref.name == secret.name and ref.app == secret.app for ref in service.secrets)]
