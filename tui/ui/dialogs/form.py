"""What every edit form shares: Save/Cancel buttons under a form-wide error line, escape to
cancel (asking first when anything was changed, so one stray key never drops what was typed or
pasted), and saving through the API so a refusal leaves every field as it was and the form
itself says the save failed."""

from __future__ import annotations

from typing import Any, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Checkbox, Input, Select, SelectionList, TextArea

from tui.client import ApiError, ServerUnreachable
from tui.ui.api import ApiCaller, not_now
from tui.ui.widgets.field_error import FieldError

FIELDS = (Input, TextArea, Select, SelectionList, Checkbox)
NOT_SAVED = "Not saved: "
SAVE_GROUPS = ("-save", "-create")
"""How the worker group of a form's save ends: what `save_running` looks for."""


def field_value(widget: Any) -> object:
    """What a field holds now, comparable with what it held before."""
    if isinstance(widget, TextArea):
        return widget.text
    if isinstance(widget, SelectionList):
        return tuple(widget.selected)
    return widget.value


def not_saved(error: BaseException, said: str) -> str:
    """The form's own line after a failed save: "Not saved:" and what the form already says about
    it (a field's error, the server's message), or why."""
    if isinstance(error, ServerUnreachable):
        why = "the server cannot be reached. What you typed is still here; save again once it is back."
    elif not_now(error):  # its database away, or too busy: the same save may work in a moment
        why = f"{(said or str(error)).rstrip('.')}. What you typed is still here: ctrl+s saves it again."
    elif said:
        why = said
    elif isinstance(error, ApiError):
        why = error.message
    else:
        why = f"unexpected error ({type(error).__name__})."
    return why if why.startswith(NOT_SAVED) else NOT_SAVED + why


class FormActions(ApiCaller):
    """Mixed into a form's ModalScreen (before it in the bases), which defines `action_save`, composes
    `form_actions()` last, and has a `#<field>-error` line per field (a `Field` brings its own).
    A form's `#form-body` scroll box is built with `can_focus=False`: focusable, it took a turn of
    tab / shift+tab with nothing to show for it (a field scrolls itself into view when focused)."""

    DEFAULT_CLASSES = "dialog"
    AUTO_FOCUS = ""
    """Each form focuses its own first field in `on_mount`. Textual's auto focus came first, before
    the layout, and scrolled a long form (the limits) past the note and label above its first field."""

    @staticmethod
    def form_actions() -> ComposeResult:
        yield FieldError(id="form-error")
        yield Horizontal(Button("Save (ctrl+s)", variant="primary", id="save"), Button("Cancel (esc)", id="cancel"),
                         classes="dialog-buttons")

    def on_mount(self) -> None:
        # After the form's own on_mount has filled its fields (Textual calls this one after it).
        self.call_after_refresh(self.remember_fields)

    def field_values(self) -> list[object]:
        return [field_value(widget) for widget in self.query(",".join(kind.__name__ for kind in FIELDS))]  # type: ignore[attr-defined]

    def remember_fields(self) -> None:
        """Take what the fields hold now as the form's unchanged state."""
        self.__dict__["_fields_at_start"] = self.field_values()

    def has_changes(self) -> bool:
        return self.__dict__.get("_fields_at_start", self.field_values()) != self.field_values()

    def _error(self, field: str, message: str | None) -> None:
        self.query_one(f"#{field}-error", FieldError).say(message)  # type: ignore[attr-defined]

    def saving(self, group: str) -> bool:
        """True while a save of `group` runs. A second ctrl+s (or click on Save) before its answer
        is dropped: sent again, it came back "already exists" or a version conflict for the very
        save that had just worked, and the form said "Not saved"."""
        return any(worker.group == group for worker in self._api_calls())  # type: ignore[attr-defined]

    def send(self, body: Callable[[], Any], call: Callable[..., Any], *where: str | None, group: str) -> None:
        """`call(*where, body())` in a worker, dismissing with its result. Nothing is sent when
        `body()` raises: a ValueError (what to fix first) goes to the form's error line, the
        ApiError of a body its request model refuses is reported as the server's refusal would be;
        nor while the same save still runs (`saving`)."""
        if self.saving(group):
            return
        try:
            built = body()
        except ValueError as problem:
            self._error("form", str(problem))
            return
        except ApiError as refused:
            self.__dict__["_saving"] = True
            self.report_api_error(refused)
            return
        self._error("form", "")
        self.__dict__["_saving"] = True
        self.call_api(call, *where, built, group=group, done=self.dismiss)  # type: ignore[attr-defined]

    def report_api_error(self, error: BaseException) -> None:
        """As every caller reports it (the form may place it beside a field), and then, for a failed
        save, the form's own error line says it was not saved: a toast fades, the form stays."""
        saving = self.__dict__.pop("_saving", False)
        super().report_api_error(error)
        if saving:
            said = self.query_one("#form-error", FieldError).message  # type: ignore[attr-defined]
            if not said and isinstance(error, ApiError):
                said = self.app.error_text(error)  # type: ignore[attr-defined]
            self._error("form", not_saved(error, said))

    def save_running(self) -> bool:
        """True while a save of the form (a call whose group ends in `-save` or `-create`) has not
        been answered."""
        return any(worker.group.endswith(SAVE_GROUPS) for worker in self._api_calls())  # type: ignore[attr-defined]

    def action_cancel(self) -> None:
        """Close without saving; with changes, only after "Discard changes?" is answered yes. Not
        while a save is on its way: it cannot be unsent, so discarding then dropped only the form,
        and the change landed unseen (a token was made and never shown)."""
        if self.save_running():
            self.notify("Still saving: the form closes once the server has answered.", markup=False)  # type: ignore[attr-defined]
            return
        if not self.has_changes():
            self.dismiss(None)  # type: ignore[attr-defined]
            return
        from tui.ui.dialogs.confirm import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:  # not returned: Textual would await the dismissal from inside this screen
                self.dismiss(None)  # type: ignore[attr-defined]

        question = Text("You changed this form. Discard what you typed? (n or escape keeps it)")
        self.app.push_screen(ConfirmDialog("Discard changes?", question, "Discard"), answered)  # type: ignore[attr-defined]

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """enter in a one-line box goes on to the next field, as tab does (and from the last one to
        Save, which a second enter presses): it did nothing, and the form seemed stuck. It never
        saves by itself, so an enter typed early sends nothing half-filled."""
        event.stop()
        self.focus_next()  # type: ignore[attr-defined]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()  # type: ignore[attr-defined]
        else:
            self.action_cancel()
