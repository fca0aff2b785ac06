"""What the panes tell the main screen: small dataclass messages that a pane posts and
`MainScreen` handles. A pane asks (a delete it has confirmed, the apps modal) or reports (a form
of its saved something); the screen does the work and reloads every pane that shows what changed,
so no pane calls the screen or knows which other panes depend on its data."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from shared.models import Secret, SecretType, Service, Site, Token


@dataclass
class SecretsChanged(Message):
    """A secret was created, edited or deleted; highlight the one whose `id_of` is `select`."""

    select: str | None = None


@dataclass
class ServicesChanged(Message):
    """A service was created, rebound or deleted; highlight the service named `select`."""

    select: str | None = None


@dataclass
class TypesChanged(Message):
    """A secret type was created, edited or deleted; highlight the type keyed `select`."""

    select: str | None = None


@dataclass
class DeleteSecret(Message):
    """The user confirmed deleting `secret`."""

    secret: Secret


@dataclass
class DeleteService(Message):
    """The user confirmed deleting `service`."""

    service: Service


@dataclass
class DeleteType(Message):
    """The user confirmed deleting the secret type `kind`."""

    kind: SecretType


@dataclass
class OpenApps(Message):
    """The user asked for the apps modal."""


@dataclass
class ShowAudit(Message):
    """The user asked for the audit events of exactly `target` (e.g. `secret:site/NAME`)."""

    target: str


# ---------------------------------------------------------------- the operator's tabs (Sites, Tokens)


@dataclass
class SitesChanged(Message):
    """A site was created, had its limits changed or was deleted; highlight the site `select`."""

    select: str | None = None


@dataclass
class TokensChanged(Message):
    """A token was created or revoked; highlight the token whose id is `select`."""

    select: str | None = None


@dataclass
class DeleteSite(Message):
    """The user typed the site's name to delete `site` with everything in it."""

    site: Site


@dataclass
class RevokeToken(Message):
    """The user confirmed revoking `token`."""

    token: Token


@dataclass
class OpenSite(Message):
    """The user asked the other tabs to show the site named `name`."""

    name: str
