"""What every edit form shares: Save/Cancel buttons under a form-wide error line, escape to
cancel, and saving through the API so a refusal leaves every field as it was."""

from __future__ import annotations

from typing import Any, Callable

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button

from tui.client import ApiError
from tui.ui.api import ApiCaller
from tui.ui.widgets.field_error import FieldError


class FormActions(ApiCaller):
    """Mixed into a form's ModalScreen (before it in the bases), which defines `action_save`, composes
    `form_actions()` last, and has a `#<field>-error` line per field (a `Field` brings its own)."""

    DEFAULT_CLASSES = "dialog"

    @staticmethod
    def form_actions() -> ComposeResult:
        yield FieldError(id="form-error")
        yield Horizontal(Button("Save (ctrl+s)", variant="primary", id="save"), Button("Cancel (esc)", id="cancel"),
                         classes="dialog-buttons")

    def _error(self, field: str, message: str | None) -> None:
        self.query_one(f"#{field}-error", FieldError).say(message)  # type: ignore[attr-defined]

    def send(self, body: Callable[[], Any], call: Callable[..., Any], *where: str | None, group: str) -> None:
        """`call(*where, body())` in a worker, dismissing with its result. Nothing is sent when
        `body()` raises: a ValueError (what to fix first) goes to the form's error line, the
        ApiError of a body its request model refuses is reported as the server's refusal would be."""
        try:
            built = body()
        except ValueError as problem:
            self._error("form", str(problem))
            return
        except ApiError as refused:
            self.report_api_error(refused)
            return
        self._error("form", "")
        self.call_api(call, *where, built, group=group, done=self.dismiss)  # type: ignore[attr-defined]

    def action_cancel(self) -> None:
        self.dismiss(None)  # type: ignore[attr-defined]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()  # type: ignore[attr-defined]
        else:
            self.dismiss(None)  # type: ignore[attr-defined]
