"""Test helpers: starting an App, what it shows (plain text and terminal bytes), and waiting for it."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rich.console import Console

from tui.ui.textual_private import full_screen_update


def _render(app, styles: bool) -> str:
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(full_screen_update(app))
    if styles:
        return console.file.getvalue()
    return console.export_text(styles=False)


def screen_text(app) -> str:
    """The screen (with modals over their background) as plain text, one line per row."""
    return _render(app, styles=False)


def terminal_bytes(app) -> str:
    """What the terminal would receive to draw the screen: styles included, for control-byte checks."""
    return _render(app, styles=True)


def _screen_or_why(app) -> str:
    try:
        return screen_text(app)
    except Exception as error:  # the app has gone: say so instead of hiding the timeout
        return f"(no screen: {type(error).__name__})"


async def wait_until(pilot, condition, timeout: float = 30.0, message: str = "") -> None:
    """Let the app run until `condition()` holds; fail the test after `timeout` seconds, a ceiling
    for a busy 2-core machine (a wait ends as soon as the condition holds)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message or condition}; screen:\n{_screen_or_why(pilot.app)}")
        await pilot.pause(0.05)


def time_up(view) -> None:
    """End a revealed value's countdown now, as if its seconds had passed. Tests reveal for a long
    time and end it this way: a reveal of a second or two can be over before a busy machine's test
    looks at it."""
    import time

    view._deadline = time.monotonic()


async def settled(pilot) -> None:
    """Every key and click sent so far has been handled and the app still runs: the barrier before
    asserting that something did *not* happen. Proven by a later key's visible effect (keys are
    handled in order): ctrl+p opens the command palette, escape closes it again."""
    from textual.command import CommandPalette

    app = pilot.app
    under = app.screen
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), message="palette (app still running)")
    await pilot.press("escape")
    await wait_until(pilot, lambda: app.screen is under, message="palette closed")


def secrets_rows(app) -> list[tuple[str, str]]:
    """(name, scope) of each row of the Secrets table, as shown."""
    table = app.screen.query_one("#secrets-table")
    return [(str(table.get_row_at(i)[0]), str(table.get_row_at(i)[1])) for i in range(table.row_count)]


async def loaded(pilot, rows: int | None = None) -> None:
    """Wait for the Secrets tab's first load (and for `rows` rows if given)."""
    app = pilot.app
    await wait_until(pilot, lambda: app.screen.query("#secrets-pane") and
                     app.screen.query_one("#secrets-pane").data is not None, message="secrets loaded")
    if rows is not None:
        await wait_until(pilot, lambda: app.screen.query_one("#secrets-table").row_count == rows,
                         message=f"{rows} rows")
    # The footer is drawn a refresh after its bindings are known, and the table's own keys (every
    # role has "r Refresh") a refresh after the table has focus.
    await wait_until(pilot, lambda: "Refresh" in screen_text(app).splitlines()[-1], message="footer drawn")


@asynccontextmanager
async def running(app, *, rows: int | None = None, size: tuple[int, int] = (80, 24),
                  notifications: bool = False) -> AsyncIterator[tuple]:
    """`app` running headless at `size` (the user's 80x24 unless a test says otherwise), its
    Secrets tab loaded with `rows` rows if given: yields `(app, pilot)`.

    With `notifications`, a toast of the default timeout stays up for the whole test: a busy
    machine can spend its 5 s between the toast and the test's look at it."""
    if notifications:
        app.NOTIFICATION_TIMEOUT = 600
    async with app.run_test(size=size, notifications=notifications) as pilot:
        await loaded(pilot, rows=rows)
        yield app, pilot


TAB_KEYS = {"secrets": "1", "types": "2", "audit": "3", "services": "4", "sites": "5", "tokens": "6"}


async def show_tab(pilot, tab: str) -> None:
    """Press the key for `tab` and wait until it is the tab shown, its table focused (where the
    next key goes)."""
    app = pilot.app
    await pilot.press(TAB_KEYS[tab])
    await wait_until(pilot, lambda: app.screen.query("#tabs") and app.screen.query_one("#tabs").active == tab
                     and app.focused in list(app.screen.query(f"#{tab} DataTable")), message=f"{tab} tab")


def make_token(admin, role, name: str | None = None) -> str:
    """A new token of `role`, minted through the API."""
    from shared.models import CreatedToken

    body = {"name": name or f"{role.value}-user", "role": role.value}
    return admin.request("POST", "/v1/tokens", CreatedToken, json=body).token
