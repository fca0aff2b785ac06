"""The header's "working…" counts calls running now: a call superseded by a newer one of its group
(two reloads in one tick) stops counting, and the header goes quiet once the newer one ends."""

from __future__ import annotations

import threading

from tui_helpers import running, screen_text, wait_until


async def test_a_superseded_reload_does_not_leave_the_header_working(make_app):
    app = make_app()
    release = threading.Event()
    original = app.client.list_secrets

    def held(site):
        release.wait(30)
        return original(site)

    async with running(app) as (app, pilot):
        app.client.list_secrets = held
        pane = app.screen.query_one("#secrets-pane")
        pane.load()
        pane.load()  # the same tick: the first is cancelled before it can report
        await wait_until(pilot, lambda: app.busy == 1 and "working…" in screen_text(app), message="one slow call")
        release.set()
        await wait_until(pilot, lambda: app.busy == 0 and "working…" not in screen_text(app), message="quiet header")


async def test_closing_a_dialog_while_its_call_is_slow_does_not_leave_the_header_working(make_app):
    from tui.ui.dialogs.trash import TrashDialog

    app = make_app()
    release = threading.Event()
    original = app.client.list_trash

    def held(site):
        release.wait(30)
        return original(site)

    try:
        async with running(app) as (app, pilot):
            app.client.list_trash = held
            await pilot.press("T")
            await wait_until(pilot, lambda: isinstance(app.screen, TrashDialog) and app.busy == 1,
                             message="the trash loading slowly")
            await pilot.press("escape")  # closed before its answer: the call is cancelled with it
            await wait_until(pilot, lambda: not isinstance(app.screen, TrashDialog), message="closed")
            await wait_until(pilot, lambda: app.busy == 0 and "working…" not in screen_text(app),
                             message="quiet header")
    finally:
        release.set()
