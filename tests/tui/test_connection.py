"""Losing the server: the header says so, the UI keeps working, and it recovers by itself."""

from __future__ import annotations

from urllib.parse import urlsplit

from server.embedded import EmbeddedServer
from shared.models import SecretCreate
from tui.ui.app import SiteSecretsApp
from tui.client import SiteSecretsClient
from tui.settings import Settings
from tui_helpers import running, screen_text, settled, show_tab, wait_until


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


DATABASE_AWAY = {"error": {"code": "database_unavailable", "details": {},
                           "message": "the server cannot reach its database just now; try again shortly"}}
"""What a server answers while its database is away (server/app.py), with Retry-After: 1."""


async def test_the_database_away_for_a_moment_loses_nothing_typed_and_says_so_once(started, admin, site):
    # The server answers but its database does not (PostgreSQL restarting): a 503 no test here can
    # cause for real, so respx answers it for the calls named and lets every other through.
    import respx
    from textual.widgets import Input

    from tui.ui.dialogs.confirm import ConfirmDialog
    from tui.ui.dialogs.secret_form import SecretFormDialog
    from tui_helpers import secrets_rows

    admin.create_secret(site, None, SecretCreate(name="KEEP", value="v"))
    async with started(rows=1, notifications=True) as (app, pilot):
        posted: list[tuple[str, str, str]] = []
        notify = app.notify
        app.notify = lambda message, *args, **options: (
            posted.append((str(message), options.get("title", ""), options.get("severity", "information"))),
            notify(message, *args, **options))[1]
        with respx.mock(assert_all_called=False) as mock:
            away = [mock.get(path__regex=r"/secret-types$").respond(503, json=DATABASE_AWAY),
                    mock.post(path__regex=rf"/sites/{site}/secrets$").respond(503, json=DATABASE_AWAY),
                    mock.delete(path__regex=r"/secrets/KEEP$").respond(503, json=DATABASE_AWAY)]
            mock.route().pass_through()
            await show_tab(pilot, "types")  # on load: the tab says why it is empty, r tries again
            pane = app.screen.query_one("#types-pane")
            await wait_until(pilot, lambda: pane.load_failed is not None, message="types refused")
            assert pane.empty_text().plain == ("Could not load the secret types: the server cannot reach its "
                                               "database just now; try again shortly · r tries again")
            await show_tab(pilot, "secrets")  # on save: the form stays with what was typed
            await pilot.press("n")
            await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog), message="form")
            form = app.screen
            form.query_one("#name", Input).value = "TYPED"
            form.query_one("#value-text").text = "typed value"
            await pilot.press("ctrl+s")
            error = form.query_one("#form-error")
            await wait_until(pilot, lambda: error.message.startswith("Not saved"), message="not saved")
            assert error.message == ("Not saved: the server cannot reach its database just now; try again shortly. "
                                     "What you typed is still here: ctrl+s saves it again.")
            assert app.screen is form and form.query_one("#value-text").text == "typed value"
            for route in away[:2]:  # the database is back
                route.pass_through()
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: secrets_rows(app) == [("KEEP", "site"), ("TYPED", "site")],
                             message="saved once the database is back")
            await pilot.press("g")  # on delete: the row stays
            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="asked")
            await pilot.press("y")
            await wait_until(pilot, lambda: away[2].call_count == 1, message="delete sent")
            await wait_until(pilot, lambda: not app.screen._api_calls(), message="the delete's answer handled")
            await settled(pilot)
        assert [name for name, _ in secrets_rows(app)] == ["KEEP", "TYPED"]
        told = [(m, title, severity) for m, title, severity in posted if "database" in m]
        # Calm and once per outage: not a red "database_unavailable" toast per call, piling up over
        # the screen. Here the database answered the save, then not the delete: two outages.
        away_said = ("The server cannot reach its database just now; try again shortly.", "", "warning")
        assert told == [away_said, ("The server reaches its database again.", "", "information"), away_said]
    assert {secret.name for secret in admin.list_secrets(site)} == {"KEEP", "TYPED"}


async def test_the_database_away_is_said_once_kept_in_the_header_and_its_return_said_once(started, admin, site):
    # The 5 s refresh keeps asking while the database is away: one toast says so, the header keeps
    # saying it (as it does "offline"), and once an answer comes again, one toast says it is back.
    import respx

    admin.create_secret(site, None, SecretCreate(name="KEEP", value="v"))
    from tui_helpers import secrets_rows

    async with started(rows=1, notifications=True, refresh_seconds=0.05) as (app, pilot):
        app.NOTIFICATION_TIMEOUT = 0.01  # toasts fade at once, as a 5 s one has by the next 5 s refresh
        posted: list[tuple[str, str]] = []
        notify = app.notify
        app.notify = lambda message, *args, **options: (
            posted.append((str(message), options.get("severity", "information"))), notify(message, *args, **options))[1]
        with respx.mock(assert_all_called=False) as mock:
            away = mock.route(path__regex=rf"/v1/sites/{site}(/|$)").respond(503, json=DATABASE_AWAY)
            mock.route().pass_through()
            await wait_until(pilot, lambda: away.call_count >= 5, message="refreshes refused")  # several refreshes
            assert "● database away" in screen_text(app).splitlines()[0]
            assert posted == [("The server cannot reach its database just now; try again shortly.", "warning")]
            away.pass_through()  # the database is back
            await wait_until(pilot, lambda: "● online" in screen_text(app).splitlines()[0], message="header online")
            calls = away.call_count
            await wait_until(pilot, lambda: away.call_count >= calls + 3, message="refreshes answered")
        assert posted == [("The server cannot reach its database just now; try again shortly.", "warning"),
                          ("The server reaches its database again.", "information")]
        assert secrets_rows(app) == [("KEEP", "site")]
