"""Creating secrets from the keyboard: site-level, app-level, and what the form refuses."""

from __future__ import annotations

from textual.widgets import Input, Select

from shared.models import SecretCreate
from tui.ui.dialogs.secret_form import SecretFormDialog
from tui_helpers import loaded, screen_text, secrets_rows, wait_until


async def test_create_site_level_secret_from_keyboard(started, admin, site):
    async with started(rows=0) as (app, pilot):
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog))
        await pilot.press(*"DB_URL")
        await pilot.press("tab", "tab", "tab")  # scope, type, value
        await pilot.press(*"postgres://x")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="form closed")
        await loaded(pilot, rows=1)
        assert secrets_rows(app) == [("DB_URL", "site")]
    assert admin.reveal(site, None, "DB_URL").value == "postgres://x"


async def test_create_app_level_secret_in_chosen_app(started, admin, site):
    admin.request("POST", f"/v1/sites/{site}/apps", None, json={"name": "web"})
    async with started(rows=0) as (app, pilot):
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog))
        form = app.screen
        form.query_one("#name", Input).value = "API_KEY"
        form.query_one("#scope", Select).value = "web"
        form.query_one("#value").text = "k-123"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="form closed")
        await loaded(pilot, rows=1)
        assert secrets_rows(app) == [("API_KEY", "app:web")]
    assert admin.reveal(site, "web", "API_KEY").value == "k-123"


async def test_value_typed_into_form_is_masked_until_shown(started):
    async with started() as (app, pilot):
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog))
        app.screen.query_one("#value").query_one("TextArea").focus()
        await pilot.press(*"hunter2xyz")
        await wait_until(pilot, lambda: "10 / 65,536 bytes" in screen_text(app), message="byte count")
        assert "hunter2xyz" not in screen_text(app)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: "hunter2xyz" in screen_text(app), message="shown on request")


async def test_form_checks_name_live_and_keeps_fields_on_server_error(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="TAKEN", value="v"))
    async with started(rows=1) as (app, pilot):
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog))
        await pilot.press(*"9bad")
        await wait_until(pilot, lambda: "must start with a letter" in screen_text(app), message="live check")
        form = app.screen
        form.query_one("#name", Input).value = "TAKEN"
        form.query_one("#value").text = "new value"
        form.query_one("#description", Input).value = "my notes"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "already" in screen_text(app), message="server error shown")
        assert isinstance(app.screen, SecretFormDialog)
        assert form.query_one("#name", Input).value == "TAKEN"
        assert form.query_one("#value").text == "new value"
        assert form.query_one("#description", Input).value == "my notes"


async def test_a_value_the_request_model_refuses_shows_beside_the_value_and_creates_nothing(started, admin, site):
    async with started(rows=0) as (app, pilot):
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog))
        form = app.screen
        form.query_one("#name", Input).value = "PASTED"
        form.query_one("#value").text = "before\x00after"  # a paste can carry a NUL; no value may hold one
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "must not contain NUL" in screen_text(app), message="refusal at the value")
        assert isinstance(app.screen, SecretFormDialog) and form.query_one("#value").text == "before\x00after"
    assert admin.list_secrets(site) == []


async def test_enter_in_a_one_line_box_goes_on_to_the_next_field_and_sends_nothing(started, admin, site):
    # As in most terminal forms: enter in the name box did nothing at all, so it seemed stuck. And
    # shift+tab from the first field focused the invisible scroll box around the fields.
    async with started(rows=0) as (app, pilot):
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog) and app.focused is not None)
        form = app.screen
        await pilot.press(*"DB_URL", "enter")
        await wait_until(pilot, lambda: app.focused is form.query_one("#scope", Select), message="on to the scope")
        assert app.screen is form and form.query_one("#name", Input).value == "DB_URL"
        await pilot.press("shift+tab", "shift+tab")  # back to the name, then round to the last button
        await wait_until(pilot, lambda: app.focused is form.query_one("#cancel"), message="round to Cancel")
        await pilot.press("tab")
        await wait_until(pilot, lambda: app.focused is form.query_one("#name", Input), message="round to the name")
    assert admin.list_secrets(site) == []
