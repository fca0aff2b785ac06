"""The key table (`?`), the same one the README shows."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: list[tuple[str, str]] = [
    ("1 / 2 / 3 / 4", "Secrets / Secret Types / Audit (admins) / Services tab"),
    ("/", "filter the table as you type; enter jumps to the first match, escape clears"),
    ("n", "new secret, type or service"),
    ("e", "edit the highlighted secret or type"),
    ("d", "delete it (asks first)"),
    ("b", "Services: edit the highlighted service's bindings"),
    ("a", "Services: apps, and whether they may use site secrets (admins)"),
    ("s", "show the value for a few seconds / hide it"),
    ("c", "copy the value to your clipboard (cleared later)"),
    ("a", "Secrets: the audit of the highlighted secret (admins)"),
    ("r", "refresh"),
    ("h", "Secrets: history of the highlighted secret (show an old value, roll back)"),
    ("o", "Secrets: only those due for rotation within 30 days / all"),
    ("T", "Secrets: the trash (restore; purge for admins)"),
    ("ctrl+s", "switch site (admins)"),
    ("ctrl+p", "command palette: this tab's actions, jump to a secret, apps"),
    ("?", "this help"),
    ("q", "quit"),
    ("In forms", "ctrl+s save · ctrl+t show/hide value · ctrl+r raw JSON · escape cancel"),
    ("", "ctrl+g generate a random value (value, or the password field you are in)"),
]


class HelpDialog(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,enter", "dismiss(None)", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 1))
        table.add_column(style="bold")
        table.add_column()
        for key, what in KEYS:
            table.add_row(key, what)
        with Vertical(classes="dialog-box"):
            yield Static("Keys", classes="dialog-title")
            with VerticalScroll():
                yield Static(table)

    def __init__(self) -> None:
        super().__init__(classes="dialog")
