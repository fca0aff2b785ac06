"""What every edit form shares: an error line per field, escape to cancel, and Save/Cancel buttons."""

from __future__ import annotations

from textual.widgets import Button

from tui.ui.widgets.field_error import FieldError


class FormActions:
    """Mixed into a form's ModalScreen, which defines `action_save` and a `#<field>-error` per field."""

    def _error(self, field: str, message: str | None) -> None:
        self.query_one(f"#{field}-error", FieldError).say(message)  # type: ignore[attr-defined]

    def action_cancel(self) -> None:
        self.dismiss(None)  # type: ignore[attr-defined]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()  # type: ignore[attr-defined]
        else:
            self.dismiss(None)  # type: ignore[attr-defined]
