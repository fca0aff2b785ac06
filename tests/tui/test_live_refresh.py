"""Issue 15, part 3 item 2: what changed shows where it is shown, without `r`.

A change made in the TUI reloads every tab showing it; a change made elsewhere (another admin,
the command line) shows in the visible tab within a few seconds, by a light periodic refresh that
never moves the cursor, never re-reveals a value and waits while a dialog is open."""

from __future__ import annotations

import threading

from textual.widgets import Input

from shared.models import SecretCreate, SecretTypeCreate, SecretUpdate
from tui.ui.dialogs.secret_form import SecretFormDialog
from tui.ui.dialogs.type_form import TypeFormDialog
from tui_helpers import screen_text, secrets_rows, settled, show_tab, wait_until


def _type_choices(form) -> list[str]:
    return list(form.types)


async def test_type_created_in_types_tab_is_offered_in_new_secret_form_at_once(started):
    async with started(refresh_seconds=0) as (app, pilot):
        await show_tab(pilot, "types")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, TypeFormDialog), message="type form")
        form = app.screen
        form.query_one("#key", Input).value = "smtp"
        form.query_one("#name", Input).value = "Mail"
        # The Secrets tab's reload is held until `n` has been pressed: the race a quick user wins.
        gate, get_site = threading.Event(), app.client.get_site
        app.client.get_site = lambda *args: gate.wait(30) and get_site(*args)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, TypeFormDialog), message="type saved")
        await pilot.press("1", "n")
        await settled(pilot)
        gate.set()
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog)
                         and app.screen.focused is not None, message="secret form")
        await wait_until(pilot, lambda: "smtp" in _type_choices(app.screen), message="new type offered")


async def test_secret_created_elsewhere_shows_without_refresh_key(started, admin, site):
    async with started(refresh_seconds=0.2) as (app, pilot):
        admin.create_secret(site, None, SecretCreate(name="FROM_CLI", value="v"))
        await wait_until(pilot, lambda: ("FROM_CLI", "site") in secrets_rows(app), message="listed by itself")


async def test_types_tab_secret_counts_follow_changes_made_elsewhere(started, admin, site):
    admin.create_type(site, SecretTypeCreate(key="db", name="Database", schema={"type": "object"}))
    async with started(refresh_seconds=0.2) as (app, pilot):
        await show_tab(pilot, "types")
        table = app.screen.query_one("#types-table")
        await wait_until(pilot, lambda: table.row_count == 1 and str(table.get_row_at(0)[3]) == "0", message="0 secrets")
        admin.create_secret(site, None, SecretCreate(name="DB", type="db", value="{}"))
        await wait_until(pilot, lambda: str(table.get_row_at(0)[3]) == "1", message="count follows")


async def test_periodic_refresh_keeps_the_highlighted_secret_and_never_re_reveals(started, admin, site):
    for name in ("A", "B", "C"):
        admin.create_secret(site, None, SecretCreate(name=name, value=f"value-of-{name}"))
    async with started(rows=3, refresh_seconds=0.2) as (app, pilot):
        pane = app.screen.query_one("#secrets-pane")
        await pilot.press("down", "down", "s")
        await wait_until(pilot, lambda: "value-of-C" in screen_text(app), message="revealed")
        await pilot.press("s")
        await wait_until(pilot, lambda: "value-of-C" not in screen_text(app), message="hidden again")
        admin.create_secret(site, None, SecretCreate(name="AA", value="v"))
        await wait_until(pilot, lambda: len(secrets_rows(app)) == 4, message="new row by itself")
        assert pane.highlighted().name == "C"
        assert not pane.detail.revealed and "value-of-C" not in screen_text(app)


async def test_periodic_refresh_waits_while_a_dialog_is_open(started, admin, site):
    async with started() as (app, pilot):
        main = app.screen
        pane = main.query_one("#secrets-pane")
        loads = []
        pane.refresh_quietly = lambda: loads.append("load")
        main.refresh_visible()
        assert loads == ["load"]  # the tick reloads the visible tab when nothing is in the way
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog), message="form")
        main.refresh_visible()
        assert loads == ["load"]


async def test_value_changed_elsewhere_while_revealed_is_masked_not_re_revealed(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="A", value="old-value"))
    async with started(rows=1, refresh_seconds=0.2) as (app, pilot):
        await pilot.press("s")
        await wait_until(pilot, lambda: "old-value" in screen_text(app), message="revealed")
        admin.update_secret(site, None, "A", SecretUpdate(value="new-value", expected_version=1))
        await wait_until(pilot, lambda: "old-value" not in screen_text(app), message="stale value hidden")
        assert "new-value" not in screen_text(app)


async def test_audit_tab_adds_new_events_by_itself_keeping_the_highlighted_one(started, admin, site):
    for name in ("A", "B"):
        admin.create_secret(site, None, SecretCreate(name=name, value="v"))
    async with started(refresh_seconds=0.2) as (app, pilot):
        await show_tab(pilot, "audit")
        table = app.screen.query_one("#audit-table")
        pane = app.screen.query_one("#audit-pane")
        await wait_until(pilot, lambda: table.row_count == 3, message="3 events")
        await pilot.press("down")
        await wait_until(pilot, lambda: pane.highlighted() is not None and pane.highlighted().target == "secret:site/A",
                         message="A highlighted")
        admin.reveal(site, None, "B")
        await wait_until(pilot, lambda: table.row_count == 4, message="the reveal added by itself")
        assert pane.highlighted().target == "secret:site/A"


async def test_a_tab_shown_again_shows_what_changed_meanwhile(started, admin, site):
    async with started() as (app, pilot):  # no periodic refresh: showing the tab is enough
        await show_tab(pilot, "audit")
        table = app.screen.query_one("#audit-table")
        await wait_until(pilot, lambda: table.row_count == 1, message="site.create")
        await show_tab(pilot, "secrets")
        admin.create_secret(site, None, SecretCreate(name="MEANWHILE", value="v"))
        await show_tab(pilot, "audit")
        await wait_until(pilot, lambda: table.row_count == 2, message="the new event")
