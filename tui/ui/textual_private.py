"""Every use of Textual's private API, fenced in one module.

Textual keeps no promise about names that start with `_`; pyproject pins the range these were
tested on (`TESTED_TEXTUAL`). Each use below is one small class or function that says why no public
API would do, and tests/tui/test_textual_private.py checks each one still holds on the installed
Textual, naming the function here that an upgrade broke. Nothing else in tui/ or tests/ may touch
a Textual private name (that test checks that too).
"""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text

from tui.crash import crash_report

TESTED_TEXTUAL = ">=8.2,<9"
"""The Textual versions these uses were checked on; pyproject's requirement says the same."""


class CrashWithoutLocals:
    """Mix into an App (before `App`): an unhandled exception ends the App with `crash_report`
    instead of Textual's traceback with local variables, one of which may hold a revealed value.

    `App._handle_exception` is the only hook between an unhandled exception and Textual printing
    it; it has no public counterpart. This does what Textual's does (exit code 1, keep the first
    exception for `run_test` to re-raise, close the message queues) with our renderable."""

    def _handle_exception(self, error: Exception) -> None:
        app: Any = self
        app._return_code = 1
        if app._exception is None:  # run_test() re-raises the first one in tests
            app._exception = error
            app._exception_event.set()
        app.bell()
        app._exit_renderables.append(crash_report(error))
        app._close_messages_no_wait()


class InputDrawsText:
    """Mix into an Input (before `Input`): what the field draws is `self.drawn_text()`, while its
    value stays the real text (so saving keeps exactly what was there).

    `Input.render_line` draws the private `_value` property and measures the cursor with it; no
    public hook changes what is drawn without changing the value. A password field keeps
    Textual's dots."""

    @property
    def _value(self) -> Text:
        if self.password:  # type: ignore[attr-defined]
            return super()._value  # type: ignore[misc]
        return self.drawn_text()  # type: ignore[attr-defined]


def full_screen_update(app: Any) -> RenderableType | None:
    """The whole screen as the terminal would receive it, modals drawn over the screens under
    them; for tests that read what is shown. `App.export_screenshot` gives only SVG, so the
    compositor's `render_update` (private) is the one way to the text and its bytes."""
    return app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)


def notification_messages(app: Any) -> list[str]:
    """The texts of the notifications the App holds now, oldest first; for tests. Textual keeps
    them in the private `App._notifications` and offers no public list."""
    return [notification.message for notification in app._notifications]


def redraw_at_new_widths(table: Any) -> None:
    """Draw a DataTable again after its columns' widths were changed in place (`FittedTable` on a
    resize). DataTable caches drawn cells and its scrollable width and recomputes them only when
    a row or column is added; no public call drops them (`notify_style_update` keeps the
    width), so the private caches are cleared and the dimensions marked stale here."""
    table._clear_caches()
    table._update_count += 1
    table._require_update_dimensions = True
    table.check_idle()
    table.refresh()
