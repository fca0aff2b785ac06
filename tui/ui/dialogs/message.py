"""A message too long for a notification, or a list the user must read (e.g. services to
update before a delete). Closes on `escape`, `enter` or `q`."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.display import safe_text


class MessageDialog(ModalScreen[None]):
    """`message` is untrusted (a server message): it is shown through `safe_text`."""

    BINDINGS = [Binding("escape,enter,q", "close", "Close", id="message.close")]

    def __init__(self, title: str, message: str, items: list[str] | None = None, after: str = ""):
        """`after`, our own words, follows the items: what to do about them."""
        super().__init__(classes="dialog")
        self._title = title
        self._message = message
        self._items = items or []
        self._after = after

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(safe_text(self._title, style="bold"), classes="dialog-title")
            with VerticalScroll(id="message-body"):
                yield Static(safe_text(self._message, multiline=True), id="message")
                if self._items:
                    listing = Text()
                    for item in self._items:
                        listing.append("  • ")
                        listing.append_text(safe_text(item))
                        listing.append("\n")
                    yield Static(listing, id="items")
                if self._after:
                    yield Static(Text(self._after), id="after")
            yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
