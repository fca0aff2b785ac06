"""A yes/no question: `y` confirms, `n` or `escape` cancels, `enter` presses the focused button
(Cancel, until tab moves to the other)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmDialog(ModalScreen[bool]):
    """Dismisses with True only on an explicit yes. `question` is a Text built by the caller
    from `safe_text`, so names in it are never parsed as markup."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, question: Text, yes_label: str = "Yes"):
        super().__init__(classes="dialog")
        self._title = title
        self._question = question
        self._yes_label = yes_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(Text(self._title, style="bold"), classes="dialog-title")
            yield Static(self._question, id="question")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self._yes_label} (y)", variant="error", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        # Focus on "cancel" so a stray enter meant for the screen below does the safe thing (the
        # focused button takes enter before the screen's binding); `y` is still one key away.
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
