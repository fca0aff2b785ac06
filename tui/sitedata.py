"""The client's view of one site, without Textual: what the panes and dialogs load and ask about.

`SiteData` is one load of the Secrets tab (the site, its secrets, apps, types and services) and
`ServicesData` one load of the Services tab. A secret is named everywhere by one identity,
`secret_id(app, name)`: table rows, selections and bindings all use it. The helpers answer the
questions the screens ask: which secrets a service may bind, how a binding reads, which version
of a secret each service last loaded, which secrets an error's details name.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any, Callable, TypeVar

from shared.models import App, LoadedVersion, Secret, SecretRef, SecretType, Service, Site

T = TypeVar("T")

NAME_RULE = "lowercase letters, digits and '-', starting with a letter or digit, at most 63"


# ------------------------------------------------------------ one identity for a secret


def secret_id(app: str | None, name: str) -> str:
    """A secret (or a binding to one) as one hashable string: `APP/NAME`, or `/NAME` at site level.

    A name never holds `/`, so the first one splits the two back apart (`ref_of`)."""
    return f"{app or ''}/{name}"


def id_of(item: Secret | SecretRef | LoadedVersion) -> str:
    """`secret_id` of a secret, a binding, or a binding's loaded version."""
    return secret_id(item.app, item.name)


def ref_of(key: str) -> SecretRef:
    """The binding a `secret_id` names (no `app` at site level, as the API spells it)."""
    app, name = key.split("/", 1)
    return SecretRef(name=name, app=app) if app else SecretRef(name=name)


# ------------------------------------------------------------ what one load fetched


class SiteData:
    """What one load of the Secrets tab fetched; also what the secret form needs."""

    def __init__(self, site: Site, secrets: list[Secret], apps: list[App], types: list[SecretType],
                 services: list[Service] | None = None):
        self.site, self.secrets, self.apps, self.types = site, secrets, apps, types
        self.services = services or []


def fetch_site_data(client, site: str) -> SiteData:
    """The Secrets tab's data for `site`: the site, its secrets, apps, types and services."""
    return SiteData(client.get_site(site), client.list_secrets(site), client.list_apps(site),
                    client.list_types(site), client.list_services(site).items)


def in_thread(call: Callable[[], T]) -> Future[T]:
    """`call()` started now in a daemon thread; the future holds its result or what it raised.
    `sitesecrets` starts its first calls so before importing Textual: the server answers while
    the UI is being built, not after."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(call())
        except BaseException as error:  # SystemExit too: handed to whoever takes the result
            future.set_exception(error)

    threading.Thread(target=run, name="sitesecrets-first-calls", daemon=True).start()
    return future


class ServicesData:
    """What one load of the Services tab fetched."""

    def __init__(self, services: list[Service], apps: list[App], secrets: list[Secret]):
        self.services = sorted(services, key=lambda s: s.name)
        self.apps = sorted(apps, key=lambda a: a.name)
        self.secrets = secrets

    def app(self, name: str | None) -> App | None:
        return next((app for app in self.apps if app.name == name), None)


# ------------------------------------------------------------ secrets


def scope_label(secret: Secret) -> str:
    return "site" if secret.app is None else f"app:{secret.app}"


def haystack(secret: Secret) -> list[str]:
    """What the Secrets tab's filter looks in (any part, any case): name, description, type, scope."""
    return [secret.name, secret.description, secret.type or "", scope_label(secret)]

def secret_names(items: Any) -> list[str]:
    """Readable names from an error's `details.secrets` list: strings, or `{"name", "app"}` objects."""
    names = []
    for item in items or []:
        if isinstance(item, dict):
            app = item.get("app")
            names.append(f"{item.get('name')}" + (f" (app {app})" if app else " (site)"))
        else:
            names.append(str(item))
    return names


# ------------------------------------------------------------ services


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
    wanted = id_of(secret)
    return next((loaded.version for loaded in service.loaded_versions if id_of(loaded) == wanted), None)


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
    wanted = id_of(secret)
    return [(service, loaded_version(service, secret)) for service in services
            if any(id_of(ref) == wanted for ref in service.secrets)]
