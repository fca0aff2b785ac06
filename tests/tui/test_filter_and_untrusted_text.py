"""Filtering the Secrets table, and untrusted text shown literally: no markup, no control bytes."""

from __future__ import annotations

import json

from shared.models import SecretCreate, SecretTypeCreate
from tui_helpers import screen_text, secrets_rows, settled, terminal_bytes, wait_until

INJECTION = "[red]a[/red] [@click=app.quit]q[/]"


async def test_filter_matches_name_description_type_and_scope_as_you_type(started, admin, site):
    admin.request("POST", f"/v1/sites/{site}/apps", None, json={"name": "shop"})
    admin.create_type(site, SecretTypeCreate(key="smtp", name="SMTP", schema={"type": "object"}))
    admin.create_secret(site, None, SecretCreate(name="ALPHA", value="v", description="payment gateway"))
    admin.create_secret(site, None, SecretCreate(name="BETA", value="{}", type="smtp"))
    admin.create_secret(site, "shop", SecretCreate(name="GAMMA", value="v"))
    admin.create_secret(site, None, SecretCreate(name="DELTA_ALPHA", value="v"))
    async with started(rows=4) as (app, pilot):
        await pilot.press("slash", *"alpha")
        await wait_until(pilot, lambda: [name for name, _ in secrets_rows(app)] == ["ALPHA", "DELTA_ALPHA"])
        for needle, expected in (("payment", ["ALPHA"]), ("smtp", ["BETA"]), ("shop", ["GAMMA"])):
            app.screen.query_one("#secrets-filter").value = needle
            await wait_until(pilot, lambda: [name for name, _ in secrets_rows(app)] == expected, message=needle)
        app.screen.query_one("#secrets-filter").value = "alpha"
        await wait_until(pilot, lambda: len(secrets_rows(app)) == 2, message="alpha again")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.focused.id == "secrets-table", message="table focused")
        assert app.screen.query_one("#secret-detail").secret.name == "ALPHA"
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(secrets_rows(app)) == 4, message="filter cleared")
        assert not app.screen.query_one("#secrets-filter").display


async def test_markup_in_description_shows_literally_and_does_not_quit(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="x", value="v", description=INJECTION))
    async with started(rows=1) as (app, pilot):
        await wait_until(pilot, lambda: INJECTION in screen_text(app), message="description drawn")
        # Click where the injected "q" link would be: nothing may happen.
        line = next(i for i, text in enumerate(screen_text(app).splitlines()) if INJECTION in text)
        column = screen_text(app).splitlines()[line].index("q[/]")
        await pilot.click(offset=(column, line))
        await settled(pilot)
        assert app.is_running and app.return_code is None


async def test_markup_in_names_of_types_and_values_shows_literally(started, admin, site):
    admin.create_type(site, SecretTypeCreate(key="k", name="[b]bold[/b]", schema={"type": "object", "description": "[i]x"}))
    admin.create_secret(site, None, SecretCreate(name="V", value="[@click=app.quit]quit[/]"))
    async with started(rows=1) as (app, pilot):
        await pilot.press("s")
        await wait_until(pilot, lambda: "[@click=app.quit]quit[/]" in screen_text(app), message="literal value")
        await pilot.press("2")
        await wait_until(pilot, lambda: "[b]bold[/b]" in screen_text(app), message="literal type name")
        assert '"[i]x"' in screen_text(app)


async def test_control_characters_are_shown_escaped_never_sent(started, admin, site):
    # Descriptions can't hold controls (the server refuses them), values can: an OSC 52 clipboard
    # write, a title change, a C1 CSI and a bidi override, all in one revealed value.
    hostile = "a\x1b]52;c;SGVsbG8=\x07b\x1b]0;pwned\x07c\x9b31md\u202ee"
    admin.create_secret(site, None, SecretCreate(name="EVIL", value=hostile, description="bidi \u202eevil"))
    async with started(rows=1) as (app, pilot):
        await pilot.press("s")
        await wait_until(pilot, lambda: "VALUE ON SCREEN" in screen_text(app))
        text = screen_text(app)
        assert "a\\x1b]52;c;SGVsbG8=\\x07b\\x1b]0;pwned\\x07c\\x9b31md\\u202ee" in text
        assert "bidi \\u202eevil" in text
        sent = terminal_bytes(app)
        for raw in ("\x1b]52", "\x1b]0;", "\x9b", "\u202e", "\x07"):
            assert raw not in sent


async def test_typed_value_with_control_characters_is_escaped_when_pretty_printed(started, admin, site):
    admin.create_type(site, SecretTypeCreate(key="t", name="T", schema={"type": "object"}))
    admin.create_secret(site, None, SecretCreate(name="J", type="t", value=json.dumps({"k": "x\u0085y\u2066z"}, ensure_ascii=False)))
    async with started(rows=1) as (app, pilot):
        await pilot.press("s")
        await wait_until(pilot, lambda: '"k": "x\\x85y\\u2066z"' in screen_text(app), message="escaped JSON")
        assert "\x85" not in terminal_bytes(app) and "\u2066" not in terminal_bytes(app)


async def test_markup_in_audit_actor_and_type_delete_dialog_shows_literally(started, admin, site):
    from shared.models import Role
    from tui.client import SiteSecretsClient
    from tui.ui.dialogs.confirm import ConfirmDialog

    from tui_helpers import make_token

    token = make_token(admin, Role.editor, name="[red]eve[/red]")
    editor = SiteSecretsClient(admin.url, token)
    editor.create_type(site, SecretTypeCreate(key="k", name="[b]Typ[/b] [@click=app.quit]q[/]", schema={"type": "object"}))
    editor.close()
    async with started() as (app, pilot):
        await pilot.press("3")
        await wait_until(pilot, lambda: "[red]eve[/red]" in screen_text(app), message="literal actor")
        await pilot.press("2")
        await wait_until(pilot, lambda: app.screen.query_one("#types-pane").types, message="types")
        await pilot.press("d")
        await wait_until(pilot, lambda: "[b]Typ[/b] [@click=app.quit]q[/]" in screen_text(app), message="dialog")
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDialog), message="dialog closed")
        await settled(pilot)
        assert app.return_code is None


async def test_long_server_message_opens_a_modal_not_a_toast(started):
    from tui.ui.dialogs.message import MessageDialog

    async with started() as (app, pilot):
        app.call_later(app.show_error, "[bold]" + "x" * 200, "limit_exceeded")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog), message="modal")
        assert "[bold]xxx" in screen_text(app)
        await pilot.press("escape")
