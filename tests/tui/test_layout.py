"""Every screen at 80x24 from the keyboard: tabs, dialogs, help, site switch, command palette,
and progress shown for slow calls while the UI stays responsive."""

from __future__ import annotations

import threading

from textual.command import CommandPalette

from shared.models import SecretCreate, SecretTypeCreate
from tui.ui.dialogs.help import HelpDialog
from tui.ui.dialogs.secret_form import SecretFormDialog
from tui.ui.dialogs.site_picker import SitePicker
from tui.ui.dialogs.type_form import TypeFormDialog
from tui_helpers import screen_text, show_tab, wait_until


def _no_overflow(text: str) -> None:
    lines = text.splitlines()
    assert len(lines) == 24 and all(len(line) <= 80 for line in lines)


async def test_every_screen_renders_at_80x24(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="A_SECRET", value="v", description="d"))
    admin.create_type(site, SecretTypeCreate(key="db", name="Database", schema={"type": "object"}))
    async with started(rows=1) as (app, pilot):
        text = screen_text(app)
        _no_overflow(text)
        for expected in ("site " + site, "admin (admin)", "online", "1 Secrets", "2 Secret Types", "3 Audit",
                         "A_SECRET", "n New", "s Show/hide", "••••••••"):
            assert expected in text, expected
        await pilot.press("2")
        await wait_until(pilot, lambda: "Database" in screen_text(app), message="types tab")
        _no_overflow(screen_text(app))
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, TypeFormDialog))
        assert "JSON Schema" in screen_text(app) or "Key *" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, TypeFormDialog), message="form closed")
        await pilot.press("3")
        await wait_until(pilot, lambda: "secret.create" in screen_text(app), message="audit tab")
        _no_overflow(screen_text(app))
        await show_tab(pilot, "secrets")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog))
        text = screen_text(app)
        assert "Name *" in text and "Save (ctrl+s)" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="form closed")
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpDialog))
        assert "Moving around" in screen_text(app) and "part of a name, key or description" in screen_text(app)
        await pilot.press("escape")


async def test_admin_switches_site_with_ctrl_s(started, admin, site):
    admin.request("POST", "/v1/sites", None, json={"name": f"{site}-other"})
    admin.create_secret(f"{site}-other", None, SecretCreate(name="OTHER_SITE_SECRET", value="v"))
    async with started(rows=0) as (app, pilot):
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, SitePicker), message="site picker")
        shown = screen_text(app)
        assert "Switch site: enter opens it, escape cancels" in shown  # its keys, as every dialog shows them
        assert f"{site}-other  (1 secret)" in shown and f"{site}  (no secrets)" in shown
        picker = app.screen.query_one("#sites")
        names = [picker.get_option_at_index(i).id for i in range(picker.option_count)]
        picker.highlighted = names.index(f"{site}-other")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "OTHER_SITE_SECRET" in screen_text(app), message="other site")
        assert f"site {site}-other" in screen_text(app).splitlines()[0]


async def test_command_palette_lists_tab_actions_and_jumps_to_secret(started, admin, site):
    for name in ("AAA_FIRST", "MMM_MIDDLE", "ZZZ_LAST"):
        admin.create_secret(site, None, SecretCreate(name=name, value="v"))
    async with started(rows=3) as (app, pilot):
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), message="palette")
        await pilot.press(*"Go to secret ZZZ")
        await wait_until(pilot, lambda: "Go to secret ZZZ_LAST" in screen_text(app), message="hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, CommandPalette))
        await wait_until(pilot, lambda: app.screen.query_one("#secret-detail").secret.name == "ZZZ_LAST",
                         message="jumped")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), message="palette")
        await pilot.press(*"Secrets: New")
        await wait_until(pilot, lambda: "Secrets: New" in screen_text(app), message="action hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog), message="new form")


async def test_slow_call_shows_progress_and_keys_still_work(make_app, site):
    app = make_app()
    real = app.client.list_secrets
    release = threading.Event()

    def slow(site_name):
        release.wait(timeout=20)  # held until the test has seen the progress and pressed a key
        return real(site_name)

    app.client.list_secrets = slow
    async with app.run_test(size=(80, 24)) as pilot:
        try:
            await wait_until(pilot, lambda: "working…" in screen_text(app), message="progress shown")
            await show_tab(pilot, "types")  # handled while the call is still running
        finally:
            release.set()
        await wait_until(pilot, lambda: "working…" not in screen_text(app), message="progress cleared")


async def test_a_long_secret_name_shows_whole_in_the_titles_of_its_form_and_history(started, admin, site):
    # The one-line title showed "Edit" and "History of" alone: the name and the version being
    # edited wrapped onto lines the title did not have.
    from shared.models import SecretUpdate
    from tui.ui.dialogs.history import HistoryDialog

    name = "A" * 200 + "_END"
    admin.create_secret(site, None, SecretCreate(name=name, value="v1"))
    admin.update_secret(site, None, name, SecretUpdate(value="v2"))
    async with started(rows=1) as (app, pilot):
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog), message="form")
        await wait_until(pilot, lambda: "_END (version 2)" in screen_text(app), message="the form's whole title")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="closed")
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryDialog), message="history")
        await wait_until(pilot, lambda: "_END (site)" in screen_text(app) and "v1" in screen_text(app),
                         message="the history's whole title and its versions")
        _no_overflow(screen_text(app))
