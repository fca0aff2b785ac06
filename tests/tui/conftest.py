"""Fixtures for the TUI tests: one real server per module on a unix socket, a fresh site per
test (so tests don't see each other's secrets), and factories for Apps on that server, built or
already started. `async def` tests run under pytest-asyncio (asyncio_mode = "auto" in pyproject), as
Textual's testing guide does."""

from __future__ import annotations

import itertools
from typing import Any, Callable

import pytest

from tui.ui.app import SiteSecretsApp
from tui.client import SiteSecretsClient
from tui.settings import Settings
from tui_helpers import running

_site_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def secrets_server(tmp_path_factory):
    """An embedded server (real HTTP over a unix socket, as the README's shared-host set-up has it)
    shared by one test module."""
    from server.embedded import EmbeddedServer

    data = tmp_path_factory.mktemp("data")
    with EmbeddedServer.start(data, unix_socket=data / "api.sock") as running:
        yield running


@pytest.fixture(scope="module")
def admin(secrets_server) -> SiteSecretsClient:
    client = SiteSecretsClient(secrets_server.url, secrets_server.admin_token)
    yield client
    client.close()


@pytest.fixture
def site(admin) -> str:
    """A new empty site for this test."""
    name = f"t{next(_site_numbers)}"
    admin.request("POST", "/v1/sites", None, json={"name": name})
    return name


@pytest.fixture
def make_app(secrets_server, site) -> Callable[..., SiteSecretsApp]:
    """`make_app(token=None, **settings)`: an App on the test server, opened on this test's site."""
    clients = []

    def build(token: str | None = None, **options: Any) -> SiteSecretsApp:
        client = SiteSecretsClient(secrets_server.url, token or secrets_server.admin_token)
        clients.append(client)
        options.setdefault("reveal_seconds", 30)
        options.setdefault("refresh_seconds", 0)  # no periodic reload unless a test asks for one
        settings = Settings(url=secrets_server.url, site=site, reconnect_max_seconds=0.5, **options)
        return SiteSecretsApp(client, settings, client.whoami())

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def started(make_app):
    """`async with started(token=None, rows=..., size=..., notifications=..., **settings) as
    (app, pilot)`: a new App on this test's site (as `make_app` builds it), running and loaded
    (see `tui_helpers.running`)."""

    def start(token: str | None = None, *, rows: int | None = None, size: tuple[int, int] = (80, 24),
              notifications: bool = False, **settings: Any):
        return running(make_app(token, **settings), rows=rows, size=size, notifications=notifications)

    return start
