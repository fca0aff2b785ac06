"""`Field`: one form field as the user sees it, a bold label, the input, and the error line
under it (`FieldError`, which takes no room until there is something to say)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from tui.ui.widgets.field_error import FieldError


def field_label(label: str | Text, required: bool = False) -> Static:
    """A field's label: a str in bold, or a Text (built from `safe_text`) as it is; `required`
    adds a red star."""
    text = Text(label, style="bold") if isinstance(label, str) else label.copy()
    if required:
        text.append(" *", style="bold red")
    return Static(text, classes="field-label")


class Field(Vertical):
    """Label, input `widget` and its error line, the error line with id `<input id>-error` unless
    `error_id` is given. Set `error` to show a message (untrusted text is fine) or clear it."""

    DEFAULT_CSS = """
    Field { height: auto; }
    """

    def __init__(self, label: str | Text, widget: Widget, *, required: bool = False, error_id: str | None = None):
        super().__init__()
        self._label_static = field_label(label, required)
        self.input = widget
        self._error_id = error_id or f"{widget.id}-error"

    def compose(self) -> ComposeResult:
        yield self._label_static
        yield self.input
        yield FieldError(id=self._error_id)

    @property
    def error(self) -> str:
        return str(self.query_one(FieldError).render())

    @error.setter
    def error(self, message: str | None) -> None:
        self.query_one(FieldError).say(message)
