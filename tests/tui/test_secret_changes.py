"""Editing (with check-and-set) and deleting (with confirmation) secrets."""

from __future__ import annotations

import json
import re

from textual.widgets import Input

from shared.models import SecretCreate, SecretUpdate
from tui.ui.dialogs.confirm import ConfirmDialog
from tui.ui.dialogs.message import MessageDialog
from tui.ui.dialogs.secret_form import SecretFormDialog
from tui_helpers import loaded, screen_text, secrets_rows, settled, wait_until


async def test_edit_with_version_conflict_offers_reload_and_keeps_typing(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="TOKEN", value="v1"))
    async with started(rows=1) as (app, pilot):
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog))
        form = app.screen
        admin.update_secret(site, None, "TOKEN", SecretUpdate(value="colleague"))  # someone else saves first
        form.query_one("#value").text = "mine"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="conflict dialog")
        assert "Someone changed TOKEN" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: "now version 2" in screen_text(app), message="reloaded")
        assert form.query_one("#value").text == "mine"
        assert admin.reveal(site, None, "TOKEN").value == "colleague"  # nothing overwritten
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="saved")
    assert admin.reveal(site, None, "TOKEN").value == "mine"
    assert admin.get_secret(site, None, "TOKEN").version == 3


async def test_edit_changes_description_and_keeps_value_when_left_empty(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="TOKEN", value="keep-me"))
    async with started(rows=1) as (app, pilot):
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog))
        app.screen.query_one("#description", Input).value = "rotated yearly"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "rotated yearly" in screen_text(app), message="detail updated")
    assert admin.reveal(site, None, "TOKEN").value == "keep-me"


async def test_delete_confirmed_removes_secret(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="OLD", value="v"))
    async with started(rows=1) as (app, pilot):
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "Delete the secret OLD at site level?" in screen_text(app)
        await pilot.press("y")
        await loaded(pilot, rows=0)
    assert admin.list_secrets(site) == []


async def test_delete_cancelled_keeps_secret(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="OLD", value="v"))
    async with started(rows=1) as (app, pilot):
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDialog), message="cancelled")
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDialog), message="cancelled")
        await settled(pilot)
        assert secrets_rows(app) == [("OLD", "site")]
    assert [secret.name for secret in admin.list_secrets(site)] == ["OLD"]


async def test_delete_of_secret_in_use_lists_services(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="SHARED", value="v"))
    for service in ("billing", "mailer"):
        admin.request("POST", f"/v1/sites/{site}/services", None,
                      json={"name": service, "secrets": [{"name": "SHARED"}]})
    async with started(rows=1) as (app, pilot):
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="question")
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog), message="in-use dialog")
        text = screen_text(app)
        assert "• billing" in text and "• mailer" in text
        await pilot.press("escape")
    assert [secret.name for secret in admin.list_secrets(site)] == ["SHARED"]


async def test_the_in_use_refusal_says_how_to_free_the_secret(started, admin, site):
    """"Update them first" said what, not how: the refusal names the Services tab's real keys."""
    from tui.ui.widgets.services_pane import ServicesPane

    [bindings_key] = [binding.key for binding in ServicesPane.BINDINGS if binding.action == "bindings"]
    admin.create_secret(site, None, SecretCreate(name="SHARED", value="v"))
    admin.request("POST", f"/v1/sites/{site}/services", None, json={"name": "billing", "secrets": [{"name": "SHARED"}]})
    async with started(rows=1) as (app, pilot):
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="question")
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog), message="in-use dialog")
        # the dialog's words as the 80x24 screen shows them, line by line inside its border
        text = " ".join(inside.group(1) for line in screen_text(app).splitlines()
                        if (inside := re.search(r"█ (.*?) *█", line)))
        assert "update them first" not in text
        for words in ("Services tab (4)", f"{bindings_key} on each service", "space unticks", "ctrl+s saves",
                      "another secret"):
            assert words in text, words


async def test_a_second_delete_before_the_first_is_answered_keeps_the_firsts_answer(started, admin, site):
    # The newer delete dropped the first's answer: with the second refused (the secret is in use)
    # the first's secret, deleted, stayed in the table and its "Deleted" notice never came.
    import threading

    from tui.ui.textual_private import notification_messages

    admin.create_secret(site, None, SecretCreate(name="A_FREE", value="v"))
    admin.create_secret(site, None, SecretCreate(name="B_USED", value="v"))
    admin.request("POST", f"/v1/sites/{site}/services", None, json={"name": "web", "secrets": [{"name": "B_USED"}]})
    async with started(rows=2, notifications=True) as (app, pilot):
        release, delete = threading.Event(), app.client.delete_secret

        def held(site_, scope, name):
            if name == "A_FREE":
                release.wait(30)
            return delete(site_, scope, name)

        app.client.delete_secret = held
        try:
            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="first question")
            await pilot.press("y")
            await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDialog), message="first answered")
            await pilot.press("down", "d")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="second question")
            await pilot.press("y")
            await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog), message="in-use dialog")
        finally:
            release.set()
        await wait_until(pilot, lambda: "Deleted A_FREE." in notification_messages(app), message="first answered")
        await pilot.press("escape")
        await wait_until(pilot, lambda: secrets_rows(app) == [("B_USED", "site")], message="A_FREE gone")


async def test_deleting_a_secret_someone_else_deleted_takes_its_row_away(started, admin, site):
    # The server said it does not exist, and the table went on listing it until r.
    admin.create_secret(site, None, SecretCreate(name="GONE", value="v"))
    admin.create_secret(site, None, SecretCreate(name="KEPT", value="v"))
    async with started(rows=2) as (app, pilot):
        admin.delete_secret(site, None, "GONE")  # meanwhile, elsewhere
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="question")
        await pilot.press("y")
        await wait_until(pilot, lambda: secrets_rows(app) == [("KEPT", "site")], message="row gone")


async def test_editing_a_secret_opens_on_its_value_so_typing_changes_it(started, admin, site):
    """The user pressed `e` to change the value: what they type goes there, not into Description."""
    admin.create_secret(site, None, SecretCreate(name="TOKEN", value="old", description="kept"))
    async with started(rows=1) as (app, pilot):
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog))
        await pilot.press(*"new", "ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="saved")
    assert admin.reveal(site, None, "TOKEN").value == "new"
    assert admin.get_secret(site, None, "TOKEN").description == "kept"


async def test_editing_a_secret_reaches_its_description_with_tab(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="TOKEN", value="keep-me"))
    async with started(rows=1) as (app, pilot):
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog))
        await pilot.press("tab", *"words", "ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="saved")
    assert admin.get_secret(site, None, "TOKEN").description == "words"
    assert admin.reveal(site, None, "TOKEN").value == "keep-me"


async def test_editing_a_typed_secret_opens_on_its_first_field(started, admin, site):
    from shared.models import SecretTypeCreate

    admin.create_type(site, SecretTypeCreate(key="db", name="DB", schema={
        "type": "object", "properties": {"password": {"type": "string"}}, "required": ["password"]}))
    admin.create_secret(site, None, SecretCreate(name="DB", type="db", value='{"password": "old"}'))
    async with started(rows=1) as (app, pilot):
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog))
        await pilot.press(*"new", "ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="saved")
    assert json.loads(admin.reveal(site, None, "DB").value) == {"password": "new"}
