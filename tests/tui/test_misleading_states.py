"""Issue 15, part 3 item 6: states that misled the walkthrough's user. A revoked token is said to
be rejected (not "online") with how to log in again; the scope list says where apps come from;
the bindings picker says why site secrets are not offered; the apps dialog opens on its list; a
failed save keeps the form open and the form itself says the save failed; a second ctrl+s while
the first save runs sends nothing more."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from shared.models import AppCreate, CreatedToken, Role, SecretCreate
from tui.client import ServerUnreachable
from tui.ui.dialogs.apps import AppsDialog
from tui.ui.dialogs.secret_form import SecretFormDialog
from tui.ui.dialogs.service_form import ServiceFormDialog
from tui.ui.textual_private import notification_messages
from tui_helpers import TAB_KEYS, screen_text, secrets_rows, settled, show_tab, wait_until


async def _form(pilot, key: str, form_type):
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, form_type) and pilot.app.screen.focused is not None,
                     message=form_type.__name__)
    return pilot.app.screen


async def test_token_revoked_mid_session_header_says_rejected_and_how_to_log_in(started, admin, site):
    created = admin.request("POST", "/v1/tokens", CreatedToken, json={"name": "soon-revoked", "role": Role.admin.value})
    async with started(token=created.token, notifications=True) as (app, pilot):
        admin.request("DELETE", f"/v1/tokens/{created.id}", None)
        await pilot.press("r")
        await wait_until(pilot, lambda: "token rejected: run sitesecrets login" in screen_text(app).splitlines()[0],
                         message="header says rejected")
        assert "online" not in screen_text(app).splitlines()[0]
        assert any("In a shell run sitesecrets login" in note for note in notification_messages(app))
        # Every tab shown next says why it is empty and what to do; `r` cannot help, so it is not offered.
        for tab, noun in (("types", "secret types"), ("services", "services"), ("tokens", "tokens")):
            await show_tab(pilot, tab)
            pane = app.screen.query_one(f"#{tab}-pane")
            await wait_until(pilot, lambda: pane.load_failed is not None, message=f"{tab} refused")
            said = pane.empty_text().plain  # what the pane says beside its empty table (toasts may cover it)
            assert f"The server no longer accepts this token (revoked or expired): the {noun} cannot load." in said
            assert "In a shell run sitesecrets login, then start sitesecrets again." in said
            assert "r tries again" not in said and "bearer token" not in said
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, message="q quits")


async def test_a_save_refused_for_a_revoked_token_keeps_the_form_and_says_what_to_do(started, admin, site):
    # The first call after the revoke is the form's own save: the form must not keep the news to itself.
    created = admin.request("POST", "/v1/tokens", CreatedToken, json={"name": "soon-revoked", "role": Role.admin.value})
    async with started(token=created.token) as (app, pilot):
        form = await _form(pilot, "n", SecretFormDialog)
        form.query_one("#name", Input).value = "KEPT"
        form.query_one("#value-text").text = "typed"
        admin.request("DELETE", f"/v1/tokens/{created.id}", None)
        await pilot.press("ctrl+s")
        error = form.query_one("#form-error")
        await wait_until(pilot, lambda: error.message.startswith("Not saved: "), message="the form says it")
        assert error.message == ("Not saved: the server no longer accepts this token (revoked or expired). "
                                 "In a shell run sitesecrets login, then start sitesecrets again.")
        assert app.connection == "rejected"  # the header (under the form) says it
        assert app.screen is form and form.query_one("#value-text").text == "typed"


async def test_scope_list_says_apps_are_created_with_a_in_the_services_tab(started):
    async with started() as (app, pilot):
        await _form(pilot, "n", SecretFormDialog)
        assert "site, or an app (a in the Services tab makes apps)" in screen_text(app)


async def test_bindings_picker_says_why_site_secrets_are_not_offered(started, admin, site):
    admin.create_app(site, AppCreate(name="web", site_secrets=False))
    admin.create_secret(site, None, SecretCreate(name="SITE_WIDE", value="v"))
    async with started(rows=1) as (app, pilot):
        await show_tab(pilot, "services")
        form = await _form(pilot, "n", ServiceFormDialog)
        form.query_one("#service-app", Select).value = "web"
        await wait_until(pilot, lambda: "Site secrets are not offered: services of app web may not use them"
                         in screen_text(app), message="why the picker is empty")
        assert "no secrets of its own yet" in screen_text(app)
        form.query_one("#service-app", Select).value = ""
        await wait_until(pilot, lambda: "SITE_WIDE" in screen_text(app) and "not offered" not in screen_text(app),
                         message="site secrets offered again")


async def test_apps_dialog_starts_on_the_list_so_t_toggles(started, admin, site):
    admin.create_app(site, AppCreate(name="web", site_secrets=True))
    async with started() as (app, pilot):
        await show_tab(pilot, "services")
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AppsDialog)
                         and app.screen.query_one("#apps-table").row_count == 1, message="apps listed")
        await pilot.press("t")
        await wait_until(pilot, lambda: not admin.list_apps(site)[0].site_secrets, message="toggled")
        assert app.screen.query_one("#app-name", Input).value == ""


async def test_failed_save_keeps_the_form_open_and_says_so(started, admin, site):
    admin.request("PATCH", f"/v1/sites/{site}", None, json={"limits": {"max_secrets": 1}})
    admin.create_secret(site, None, SecretCreate(name="ONLY", value="v"))
    async with started(rows=1) as (app, pilot):
        form = await _form(pilot, "n", SecretFormDialog)
        form.query_one("#name", Input).value = "SECOND"
        form.query_one("#value-text").text = "a value"
        await pilot.press("ctrl+s")
        error = form.query_one("#form-error")
        await wait_until(pilot, lambda: error.message.startswith("Not saved: "), message="the form says it")
        assert app.screen is form and form.query_one("#name", Input).value == "SECOND"


async def test_save_while_the_server_is_lost_says_not_saved_in_the_form(started):
    async with started() as (app, pilot):
        form = await _form(pilot, "n", SecretFormDialog)
        form.query_one("#name", Input).value = "KEPT"
        form.query_one("#value-text").text = "typed"

        def lost(*_args):  # the server goes away between opening the form and saving it
            raise ServerUnreachable(app.client.url, "connection refused")

        app.client.create_secret = lost
        await pilot.press("ctrl+s")
        error = form.query_one("#form-error")
        await wait_until(pilot, lambda: error.message.startswith("Not saved: the server cannot be reached"),
                         message="the form says it")
        assert app.screen is form and form.query_one("#value-text").text == "typed"


MARKUP = "[red]x[/foo] [@click=app.quit]q[/]"


async def test_markup_in_a_failed_saves_message_and_the_bindings_note_is_literal(started):
    from datetime import datetime, timezone

    from shared.models import App
    from tui.client import ApiError
    from tui.sitedata import ServicesData

    async with started() as (app, pilot):
        form = await _form(pilot, "n", SecretFormDialog)
        form.query_one("#name", Input).value = "KEPT"
        form.query_one("#value-text").text = "typed"

        def refused(*_args):  # a foreign server's message
            raise ApiError("limit_exceeded", MARKUP, status=409)

        app.client.create_secret = refused
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: f"Not saved: {MARKUP}" in screen_text(app), message="literal message")
        form.dismiss(None)
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="closed")
        odd = App.model_construct(name=MARKUP, site_secrets=False, created_at=datetime.now(timezone.utc))
        dialog = ServiceFormDialog(ServicesData([], [odd], []))
        app.push_screen(dialog)
        await wait_until(pilot, lambda: app.screen is dialog and dialog.focused is not None, message="service form")
        dialog.query_one("#service-app", Select).value = MARKUP
        # The note wraps at 80 columns: each half of the name shows literally.
        await wait_until(pilot, lambda: "services of app [red]x[/foo]" in screen_text(app)
                         and "[@click=app.quit]q[/] may not use them" in screen_text(app), message="literal app name")
        assert app.is_running and app.return_code is None


def _held(call):
    """`call` made real, but its answer held back until `release` is set: a slow link. Returns the
    wrapper, the list of calls made and the event that lets the answers through."""
    import threading

    calls, release = [], threading.Event()

    def held(*args):
        calls.append(args)
        result = call(*args)
        release.wait(30)
        return result

    return held, calls, release


async def test_a_second_ctrl_s_while_the_save_runs_saves_once_and_says_nothing_failed(started, admin, site):
    # Over a slow link a user presses ctrl+s again (or clicks Save) before the first answer: that
    # second save must not reach the server, where it was refused as "already exists" and the
    # form said "Not saved" of a secret it had just created.
    async with started(notifications=True) as (app, pilot):
        form = await _form(pilot, "n", SecretFormDialog)
        form.query_one("#name", Input).value = "ONCE"
        form.query_one("#value-text").text = "a value"
        app.client.create_secret, calls, release = _held(app.client.create_secret)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: len(calls) == 1, message="first save sent")
        await pilot.press("ctrl+s")
        await settled(pilot)
        release.set()
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="form closed as saved")
        await wait_until(pilot, lambda: secrets_rows(app) == [("ONCE", "site")], message="listed")
        assert len(calls) == 1
        assert not [note for note in notification_messages(app) if "already exists" in note]
    assert [secret.name for secret in admin.list_secrets(site)] == ["ONCE"]


async def test_a_second_ctrl_s_while_a_token_is_made_makes_one_token(started, admin, site):
    # A second token made by the second press would never be shown: a working credential nobody has.
    from tui.ui.dialogs.token_form import TokenFormDialog

    async with started() as (app, pilot):
        await show_tab(pilot, "tokens")
        form = await _form(pilot, "n", TokenFormDialog)
        form.query_one("#name", Input).value = "made-once"
        app.client.create_token, calls, release = _held(app.client.create_token)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: len(calls) == 1, message="first create sent")
        await pilot.press("ctrl+s")
        await settled(pilot)
        release.set()
        await wait_until(pilot, lambda: "shown this once" in screen_text(app), message="token shown")
        assert len(calls) == 1
    assert [token.name for token in admin.list_tokens()].count("made-once") == 1


async def test_enter_in_a_delete_confirm_presses_the_focused_cancel_and_y_deletes(started, admin, site):
    # What README and the dialog say: a stray enter never deletes; y does.
    from tui.ui.dialogs.confirm import ConfirmDialog

    admin.create_secret(site, None, SecretCreate(name="KEPT", value="v"))
    async with started(rows=1) as (app, pilot):
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="asked")
        assert "Cancel (n)" in screen_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDialog), message="closed")
        await settled(pilot)
        assert secrets_rows(app) == [("KEPT", "site")]
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="asked again")
        await pilot.press("y")
        await wait_until(pilot, lambda: secrets_rows(app) == [], message="deleted")
    assert admin.list_secrets(site) == []


async def test_after_a_site_switch_the_old_sites_rows_are_gone_before_the_new_ones_come(started, admin, site):
    # Until the new site's load answers, a row of the site just left must not stay under the keys:
    # h, d or enter on it would act on a secret of that name in the site now open.
    from tui.ui.dialogs.site_picker import SitePicker

    other = f"{site}-other"
    admin.request("POST", "/v1/sites", None, json={"name": other})
    admin.create_secret(site, None, SecretCreate(name="LEFT_BEHIND", value="v"))
    admin.create_secret(other, None, SecretCreate(name="OF_THE_OTHER", value="v"))
    async with started(rows=1) as (app, pilot):
        app.client.list_secrets, calls, release = _held(app.client.list_secrets)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, SitePicker), message="site picker")
        picker = app.screen.query_one("#sites")
        picker.highlighted = [picker.get_option_at_index(i).id for i in range(picker.option_count)].index(other)
        await pilot.press("enter")
        await wait_until(pilot, lambda: calls, message="the other site's load sent")
        assert app.site == other
        assert secrets_rows(app) == [] and "LEFT_BEHIND" not in screen_text(app)
        assert "Loading" in screen_text(app)
        release.set()
        await wait_until(pilot, lambda: secrets_rows(app) == [("OF_THE_OTHER", "site")], message="the other site's rows")


@pytest.mark.parametrize("tab", ["types", "services", "sites", "tokens"])
async def test_a_tab_whose_first_load_failed_says_why_not_nothing(started, tab):
    # It showed a blank pane (the Sites tab would have said "No sites yet") once the toast faded.
    from tui.client import ApiError

    fetches = {"types": "list_types", "services": "list_services", "sites": "list_sites", "tokens": "list_tokens"}
    async with started() as (app, pilot):
        def refused(*_args, **_options):
            raise ApiError("internal", "the server [b]failed", status=500)

        setattr(app.client, fetches[tab], refused)
        await pilot.press(TAB_KEYS[tab])
        await wait_until(pilot, lambda: "Could not load the" in screen_text(app)
                         and "the server [b]failed" in screen_text(app), message="the pane says why")
        assert "yet" not in screen_text(app)


async def test_a_site_deleted_by_someone_else_takes_its_rows_with_it_on_refresh(started, admin, site):
    """`r` after another operator deleted the open site kept listing its secrets, with s, c and e
    offered on them, while a toast said the site did not exist."""
    admin.create_secret(site, None, SecretCreate(name="GONE_WITH_IT", value="v"))
    async with started(rows=1) as (app, pilot):
        admin.delete_site(site, cascade=True)
        await pilot.press("r")
        await wait_until(pilot, lambda: secrets_rows(app) == [], message="the deleted site's rows gone")
        assert "GONE_WITH_IT" not in screen_text(app)
        assert f"Could not load the secrets: site '{site}' does not exist" in screen_text(app)
