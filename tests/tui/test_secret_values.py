"""Showing and copying values: reveal with countdown and re-mask, copy to the clipboard."""

from __future__ import annotations

import json

from shared.models import SecretCreate, SecretTypeCreate
from tui.clipboard import CLEARED
from tui.display import MASK
from tui.ui.textual_private import notification_messages
from tui_helpers import running, screen_text, show_tab, time_up, wait_until


def _detail(app):
    return app.screen.query_one("#secret-detail")


async def test_reveal_shows_value_with_warning_then_remasks_automatically(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="TOKEN", value="s3cr3t-value"))
    async with started(reveal_seconds=60, rows=1) as (app, pilot):
        assert MASK in screen_text(app) and "s3cr3t-value" not in screen_text(app)
        await pilot.press("s")
        await wait_until(pilot, lambda: "s3cr3t-value" in screen_text(app), message="value shown")
        assert "VALUE ON SCREEN, hides in" in screen_text(app)
        time_up(_detail(app).value_view)
        await wait_until(pilot, lambda: not _detail(app).revealed, message="re-mask")
        await wait_until(pilot, lambda: "s3cr3t-value" not in screen_text(app), message="value off the screen")
        assert _detail(app).value_view._value is None  # dropped from the widget, not just hidden
    events = admin.audit(site, action="secret.reveal").items
    assert [event.target for event in events] == ["secret:site/TOKEN"]


async def test_pressing_s_again_remasks(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="TOKEN", value="s3cr3t-value"))
    async with started(rows=1) as (app, pilot):
        await pilot.press("s")
        await wait_until(pilot, lambda: "s3cr3t-value" in screen_text(app))
        await pilot.press("s")
        await wait_until(pilot, lambda: "s3cr3t-value" not in screen_text(app) and MASK in screen_text(app))


async def test_moving_to_another_secret_remasks(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="A_FIRST", value="value-of-a"))
    admin.create_secret(site, None, SecretCreate(name="B_SECOND", value="value-of-b"))
    async with started(rows=2) as (app, pilot):
        await pilot.press("s")
        await wait_until(pilot, lambda: "value-of-a" in screen_text(app))
        await pilot.press("down")
        await wait_until(pilot, lambda: "value-of-a" not in screen_text(app), message="re-masked")
        assert _detail(app).value_view._value is None and _detail(app).secret.name == "B_SECOND"


async def test_typed_value_is_pretty_printed_when_revealed(started, admin, site):
    schema = {"type": "object", "properties": {"host": {"type": "string"}, "port": {"type": "integer"}}}
    admin.create_type(site, SecretTypeCreate(key="db", name="Database", schema=schema))
    admin.create_secret(site, None, SecretCreate(name="DB", type="db", value=json.dumps({"host": "h1", "port": 5432})))
    async with started(rows=1) as (app, pilot):
        await pilot.press("s")
        await wait_until(pilot, lambda: '"host": "h1",' in screen_text(app), message="pretty JSON")


async def test_copy_puts_value_on_clipboard_without_showing_it_then_clears(make_app, admin, site):
    admin.create_secret(site, None, SecretCreate(name="TOKEN", value="copied-value"))
    app = make_app(clipboard_seconds=0.5)
    copies: list[str] = []
    original = app.copy_to_clipboard
    app.copy_to_clipboard = lambda text: (copies.append(text), original(text))
    seen: list[str] = []
    async with running(app, rows=1, notifications=True) as (app, pilot):
        await pilot.press("c")
        # The clearing may already have come too: a busy machine can stall past half a second.
        await wait_until(pilot, lambda: copies[:1] == ["copied-value"], message="copied")

        def notified() -> bool:
            seen.append(screen_text(app))
            return "Copied TOKEN" in seen[-1]

        await wait_until(pilot, notified, message="copy notification")
        assert notification_messages(app) == [
            "Copied TOKEN to your clipboard; it will be cleared in 0.5s."]
        await wait_until(pilot, lambda: copies == ["copied-value", CLEARED], message="clipboard cleared")
        seen.append(screen_text(app))
    assert not any("copied-value" in text for text in seen)
    assert [event.action for event in admin.audit(site, action="secret.reveal").items] == ["secret.reveal"]


async def test_quitting_clears_a_copied_value_from_the_clipboard(make_app, admin, site):
    admin.create_secret(site, None, SecretCreate(name="TOKEN", value="copied-value"))
    app = make_app(clipboard_seconds=60)
    copies: list[str] = []
    original = app.copy_to_clipboard
    app.copy_to_clipboard = lambda text: (copies.append(text), original(text))
    async with running(app, rows=1) as (app, pilot):
        await pilot.press("c")
        await wait_until(pilot, lambda: copies == ["copied-value"], message="copied")
        await pilot.press("q")
    assert copies == ["copied-value", CLEARED]
    assert app.return_code == 0


async def test_switching_tab_remasks(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="TOKEN", value="s3cr3t-value"))
    async with started(rows=1) as (app, pilot):
        await pilot.press("s")
        await wait_until(pilot, lambda: "s3cr3t-value" in screen_text(app))
        await show_tab(pilot, "types")
        await pilot.press("1")
        await wait_until(pilot, lambda: not _detail(app).revealed, message="masked")
        assert "s3cr3t-value" not in screen_text(app)


async def test_switching_site_remasks_even_onto_a_secret_of_the_same_name(started, admin, site):
    # Two sites commonly hold a DATABASE_URL at version 1: the other site's row must not inherit
    # the value revealed on this one.
    from tui.ui.dialogs.site_picker import SitePicker

    other = f"{site}-other"
    admin.request("POST", "/v1/sites", None, json={"name": other})
    admin.create_secret(site, None, SecretCreate(name="DATABASE_URL", value="value-of-this-site"))
    admin.create_secret(other, None, SecretCreate(name="DATABASE_URL", value="value-of-the-other-site",
                                                  description="the other site's database"))
    async with started(rows=1) as (app, pilot):
        await pilot.press("s")
        await wait_until(pilot, lambda: "value-of-this-site" in screen_text(app), message="value shown")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, SitePicker), message="site picker")
        picker = app.screen.query_one("#sites")
        picker.highlighted = [picker.get_option_at_index(i).id for i in range(picker.option_count)].index(other)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "the other site's database" in screen_text(app), message="other site shown")
        assert not _detail(app).revealed and "value-of-this-site" not in screen_text(app)
        assert MASK in screen_text(app)


async def test_a_value_longer_than_the_pane_is_read_to_its_end_from_the_keyboard(started, admin, site):
    # A PEM key or a pretty-printed typed value takes more rows than the detail pane has at 80x24.
    value = "\n".join(f"line-{number:02}" for number in range(40))
    admin.create_secret(site, None, SecretCreate(name="PEM", value=value))
    async with started(rows=1) as (app, pilot):
        await pilot.press("s")
        await wait_until(pilot, lambda: "line-00" in screen_text(app), message="value shown")
        assert "line-39" not in screen_text(app)
        await pilot.press("tab")
        await wait_until(pilot, lambda: app.focused is _detail(app), message="tab: the detail pane")
        await pilot.press("pagedown", "pagedown", "pagedown", "pagedown")
        await wait_until(pilot, lambda: "line-39" in screen_text(app), message="the value's last line")
        await pilot.press("s")  # the tab's keys still work there
        await wait_until(pilot, lambda: not _detail(app).revealed and "line-" not in screen_text(app), message="hidden")


async def test_a_reveal_answered_after_the_history_opened_is_not_shown_under_it(started, admin, site):
    # `h` hides the detail's value (one value on screen at a time); an answer that came in after
    # it showed the value behind the dialog, still there once the dialog closed.
    import threading

    from tui.ui.dialogs.history import HistoryDialog

    admin.create_secret(site, None, SecretCreate(name="TOKEN", value="s3cr3t-value"))
    async with started(rows=1) as (app, pilot):
        main, release, reveal = app.screen, threading.Event(), app.client.reveal
        answered = threading.Event()

        def held(*args):
            release.wait(30)
            try:
                return reveal(*args)
            finally:
                answered.set()

        app.client.reveal = held
        try:
            await pilot.press("s", "h")
            await wait_until(pilot, lambda: isinstance(app.screen, HistoryDialog), message="history")
        finally:
            release.set()
        pane = main.query_one("#secrets-pane")
        await wait_until(pilot, lambda: answered.is_set() and not pane.calls_running(), message="the reveal answered")
        assert not main.query_one("#secret-detail").revealed
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is main, message="history closed")
        assert "s3cr3t-value" not in screen_text(app)


async def test_a_typed_value_nested_as_deep_as_the_server_takes_is_shown_as_stored(started, admin, site):
    """The server parses a typed value near the bottom of its stack; the TUI renders it far deeper,
    where the same nesting is past Python's recursion limit: shown as stored, not a crash."""
    deep = "[" * 950 + "]" * 950
    admin.create_type(site, SecretTypeCreate(key="any", name="Anything", schema={}))
    admin.create_secret(site, None, SecretCreate(name="DEEP", type="any", value=deep))
    async with started(rows=1) as (app, pilot):
        await pilot.press("s")
        await wait_until(pilot, lambda: "[[[[[[[[" in screen_text(app), message="value shown")
        assert app.is_running
