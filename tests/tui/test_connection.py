"""Losing the server: the header says so, the UI keeps working, and it recovers by itself."""

from __future__ import annotations

from urllib.parse import urlsplit

from server.embedded import EmbeddedServer
from shared.models import SecretCreate
from tui.ui.app import SiteSecretsApp
from tui.client import SiteSecretsClient
from tui.settings import Settings
from tui_helpers import running, screen_text, show_tab, wait_until


async def test_server_down_shows_offline_then_recovers_when_it_returns(tmp_path):
    data = tmp_path / "data"
    first = EmbeddedServer.start(data)
    port = urlsplit(first.url).port
    client = SiteSecretsClient(first.url, first.admin_token)
    app = SiteSecretsApp(client, Settings(url=first.url, reconnect_max_seconds=0.3), client.whoami())
    second = None
    try:
        async with running(app, notifications=True) as (app, pilot):
            assert "● online" in screen_text(app)
            first.stop()
            await pilot.press("r")
            await wait_until(pilot, lambda: app.connection != "online", message="offline")
            await wait_until(pilot, lambda: "Lost the server" in screen_text(app), message="told")
            await show_tab(pilot, "types")  # the UI still answers keys while the server is away
            await show_tab(pilot, "secrets")
            second = EmbeddedServer.start(data, port=port)
            SiteSecretsClient(second.url, second.admin_token).create_secret(
                "default", None, SecretCreate(name="MADE_WHILE_AWAY", value="v"))
            await wait_until(pilot, lambda: app.connection == "online", message="back online")
            await wait_until(pilot, lambda: app.screen.query_one("#secrets-table").row_count == 1,
                             message="reloaded after reconnect")
            await wait_until(pilot, lambda: "● online" in screen_text(app), message="header online")
    finally:
        client.close()
        if second is not None:
            second.stop()


async def test_keys_pressed_while_the_server_is_away_add_no_more_toasts(tmp_path):
    # The header says offline for as long as it lasts; one toast says it was lost. A toast per
    # key pressed meanwhile piled up over half of an 80x24 screen.
    # Every toast is counted as it is posted: the toasts still on screen are no measure, since a
    # busy machine can take longer than a toast's five seconds over the keys below.
    from tui_helpers import settled

    server = EmbeddedServer.start(tmp_path / "data")
    client = SiteSecretsClient(server.url, server.admin_token)
    app = SiteSecretsApp(client, Settings(url=server.url, reconnect_max_seconds=30), client.whoami())
    posted: list[str] = []
    notify = app.notify
    app.notify = lambda message, *args, **options: (posted.append(str(message)), notify(message, *args, **options))[1]
    try:
        async with running(app, notifications=True) as (app, pilot):
            server.stop()
            await pilot.press("r")
            await wait_until(pilot, lambda: "Lost the server; retrying." in posted, message="told")
            for _ in range(3):
                await pilot.press("r")
                await settled(pilot)
            assert [m for m in posted if "Lost the server" in m] == ["Lost the server; retrying."]
    finally:
        client.close()


async def test_the_connection_state_stays_in_the_header_beside_long_names(admin):
    # A long site and token name pushed "● online" (and "● offline") off the end of the line.
    from shared.models import Role
    from tui_helpers import make_token

    site = "customer-with-a-rather-long-site-name-" + "x" * 20
    admin.request("POST", "/v1/sites", None, json={"name": site})
    token = make_token(admin, Role.admin, name="the-deployment-operator-of-customer-42-" + "y" * 20)
    client = SiteSecretsClient(admin.url, token)
    app = SiteSecretsApp(client, Settings(url=admin.url, site=site, refresh_seconds=0), client.whoami())
    async with running(app) as (app, pilot):
        header = screen_text(app).splitlines()[0]
        assert "● online" in header and "site customer-with" in header, header
        app.connection = "offline"
        await wait_until(pilot, lambda: "● offline" in screen_text(app).splitlines()[0], message="offline shown")
    client.close()
