"""Issue 15, part 3 item 3: escape in a form with changes asks "Discard changes?" (one escape
dropped a pasted 70 KB value), and escape does the same in every field, the schema editor too."""

from __future__ import annotations

from textual import events
from textual.widgets import Input, TextArea

from shared.models import SecretCreate
from tui.ui.dialogs.confirm import ConfirmDialog
from tui.ui.dialogs.secret_form import SecretFormDialog
from tui.ui.dialogs.service_form import ServiceFormDialog
from tui.ui.dialogs.type_form import TypeFormDialog
from tui_helpers import screen_text, settled, show_tab, wait_until

PASTED = "-----BEGIN KEY-----\n" + ("A" * 79 + "\n") * 875  # 70,000 bytes


async def _open(pilot, key: str, form_type) -> object:
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, form_type) and pilot.app.screen.focused is not None,
                     message=form_type.__name__)
    await pilot.pause()  # the form takes its unchanged state a refresh after it is mounted
    return pilot.app.screen


async def test_escape_after_pasting_70kb_asks_and_keeps_the_value(started):
    async with started() as (app, pilot):
        form = await _open(pilot, "n", SecretFormDialog)
        value = form.query_one("#value-text", TextArea)
        value.focus()
        await wait_until(pilot, lambda: value.has_focus, message="value focused")
        app.post_message(events.Paste(PASTED))  # as the terminal delivers a paste: to the App
        await wait_until(pilot, lambda: value.text == PASTED, message=f"pasted {len(value.text)} {value.text[:30]!r}")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="asked")
        assert "Discard changes?" in screen_text(app)
        await pilot.press("escape")  # escape again answers no: the form and its value stay
        await wait_until(pilot, lambda: app.screen is form, message="back in the form")
        assert value.text == PASTED
        await pilot.press("escape", "y")
        await wait_until(pilot, lambda: not isinstance(app.screen, (SecretFormDialog, ConfirmDialog)), message="discarded")


async def test_escape_in_an_unchanged_form_closes_it_at_once(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="A", value="v"))
    async with started(rows=1) as (app, pilot):
        await _open(pilot, "e", SecretFormDialog)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="closed")
        await settled(pilot)
        assert not isinstance(app.screen, ConfirmDialog)


async def test_escape_in_the_schema_editor_asks_like_every_field(started):
    async with started() as (app, pilot):
        await show_tab(pilot, "types")
        form = await _open(pilot, "n", TypeFormDialog)
        schema = form.query_one("#schema", TextArea)
        schema.focus()
        await pilot.press("end", "x")
        await wait_until(pilot, lambda: schema.text.endswith("x") or "x" in schema.text, message="typed")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="asked from the schema editor")
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is form, message="kept")
        form.query_one("#key", Input).focus()
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="asked from an input too")


async def test_cancel_button_asks_too(started):
    async with started() as (app, pilot):
        await show_tab(pilot, "services")
        form = await _open(pilot, "n", ServiceFormDialog)
        await pilot.press(*"api")
        await pilot.click("#cancel")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="asked")
        await pilot.press("y")
        await wait_until(pilot, lambda: not isinstance(app.screen, (ServiceFormDialog, ConfirmDialog)), message="gone")


async def test_escape_in_the_apps_dialog_with_a_name_typed_asks(started):
    from tui.ui.dialogs.apps import AppsDialog

    async with started() as (app, pilot):
        await show_tab(pilot, "services")
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AppsDialog) and app.screen.focused is not None,
                         message="apps dialog")
        dialog = app.screen
        dialog.query_one("#app-name", Input).focus()
        await pilot.press(*"web", "escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="asked")
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is dialog, message="kept")
        assert dialog.query_one("#app-name", Input).value == "web"


async def test_escape_while_the_save_is_on_its_way_keeps_the_form_until_the_answer(started, admin, site):
    # Discarding then could not unsend the save: it landed, and the table went on showing the old
    # version as if the change had been dropped.
    import threading

    from tui.ui.textual_private import notification_messages

    admin.create_secret(site, None, SecretCreate(name="A", value="old"))
    async with started(rows=1, notifications=True) as (app, pilot):
        release = threading.Event()
        update = app.client.update_secret

        def held(*args):
            release.wait(30)
            return update(*args)

        app.client.update_secret = held
        form = await _open(pilot, "e", SecretFormDialog)
        form.query_one("#value-text", TextArea).text = "new"
        try:
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: form.saving("form-save"), message="saving")
            await pilot.press("escape")
            await wait_until(pilot, lambda: any("Still saving" in m for m in notification_messages(app)),
                             message="says it is still saving")
            await settled(pilot)
            assert app.screen is form
        finally:
            release.set()
        await wait_until(pilot, lambda: not isinstance(app.screen, (SecretFormDialog, ConfirmDialog)),
                         message="closed by the save")
        table = app.screen.query_one("#secrets-table")
        await wait_until(pilot, lambda: table.get_row_at(0)[3].plain == "2", message="the table shows v2")
    assert admin.reveal(site, None, "A").value == "new"
