"""The help screen (`?`): how focus and moving around work, each tab's filter, the keys (the
same table the README shows) and, under `sitesecrets local`, how another shell reaches the
embedded server while the TUI runs."""

from __future__ import annotations

import os

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

Rows = list[tuple[str, str]]

MOVING: Rows = [
    ("focus", "keys go to what has the focus: the table, or a box"),
    ("tab / shift+tab", "focus the next / previous: filter, table, buttons"),
    ("", "and the pane under a table, to scroll a long value"),
    ("↑ ↓  j k", "previous / next row; the pane below shows that row"),
    ("g home / G end", "first / last row"),
    ("pgup / pgdn", "a page up / down"),
    ("1 2 3 4", "Secrets / Secret Types / Audit (admins) / Services"),
    ("5 6", "Sites (the operator) / Tokens (admins)"),
]

FILTERS: Rows = [
    ("Secrets", "part of a name, description, type or scope (app:web)"),
    ("Secret Types", "part of a name, key or description"),
    ("Services", "part of a name, its app or a bound secret's name"),
    ("Audit", "the action, actor and target boxes; enter applies"),
]
"""What `/` filters by on each tab; every filter ignores case. `enter` goes back to the table
(first match highlighted), `escape` clears the filter."""

KEYS: Rows = [
    ("r", "refresh"),
    ("/", "filter the tab (as above); escape clears the filter"),
    ("ctrl+s", "switch site (the operator)"),
    ("ctrl+p", "command palette: this tab's actions, jump to a secret, apps"),
    ("? F1", "this help"),
    ("q", "quit"),
]
"""Keys of every tab."""

TABS: Rows = [
    ("Secrets", "n new · e edit · d delete (asks first) · s show the value for a few seconds / hide it "
                "(admins and editors) · c copy it (cleared later) · h its history · o only those due for "
                "rotation within 30 days / all · T the trash · a its audit (admins)"),
    ("Secret Types", "n new · e edit · d delete (asks first)"),
    ("Audit", "v verify the chain · m older events · enter one event's every field · escape from a "
              "filter box back to the table · a the whole server's log (every site, deleted ones too) / "
              "the open site's (the operator)"),
    ("Services", "n new · b the highlighted service's bindings · d delete (asks first) · a apps, and "
                 "whether their services may use site secrets (admins)"),
    ("Sites", "the operator: enter open it in the other tabs · n new site and its first admin token · "
              "e limits · d delete with everything in it (type its name) · o sort"),
    ("Tokens", "admins: n new token (shown once) · d revoke (asks first)"),
]
"""Each tab's own keys, beside those of every tab (`KEYS`)."""

DIALOGS: Rows = [
    ("Forms", "ctrl+s save · escape cancel (asks first when you changed anything) · tab, or enter in a "
              "one-line box, next field · "
              "a secret's value: ctrl+t show/hide it · ctrl+r raw JSON of a typed value · ctrl+g a random "
              "value (the value, or the password field you are in)"),
    ("New site, token", "ctrl+s make it · escape cancel; then c copies the token, shown this once"),
    ("Confirm", "y yes · n or escape no · enter presses the focused button (Cancel first)"),
    ("History", "s show/hide that version's value · r roll back to it · escape or h close"),
    ("Trash", "r restore · p purge now (admins) · escape or T close"),
    ("Apps", "t flip the highlighted app's site secrets · ctrl+s create · escape close"),
    ("Switch site", "enter opens the highlighted site · escape cancels"),
    ("Delete site", "type its name, then enter (or the button) · escape cancels"),
    ("Messages", "escape, enter or q close"),
    ("Help", "escape, enter, q, ? or F1 close"),
]
"""Each dialog's keys; the dialog's own title or buttons show them too."""


def key_table(title: str, rows: Rows) -> Group:
    """A bold title over two columns: the key (or tab) and what it does. Plain text, no markup."""
    table = Table(box=None, show_header=False, padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, what in rows:
        table.add_row(Text(key), Text(what))
    return Group(Text(title, style="bold underline"), table, Text())


def local_server_text(url: str, token_file: str) -> Text:
    """How another shell of this user reaches the `sitesecrets local` server while it runs; the
    token stays in its 0600 file, never on a command line. Each line fits 80 columns, to copy."""
    home = os.path.expanduser("~")
    if token_file.startswith(home + os.sep):
        token_file = "~" + token_file[len(home):]
    text = Text("This server (sitesecrets local)", style="bold underline")
    text.append("\nIt stops when you quit. Meanwhile, from another shell:\n")
    for line in (f"export SITESECRETS_URL={url}", f"TOKEN_FILE={token_file}",
                 "sitesecrets --token-file $TOKEN_FILE ls",
                 "sitesecrets run --token-file $TOKEN_FILE --service NAME -- CMD"):
        text.append(f"  {line}\n", style="bold")
    text.append("Better for run: the service's own token (token create --role service).")
    return text


class HelpDialog(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,enter,f1", "dismiss(None)", "Close", id="help.close")]

    def __init__(self) -> None:
        super().__init__(classes="dialog")

    def compose(self) -> ComposeResult:
        parts = [key_table("Moving around", MOVING),
                 key_table("/ filters the tab, any case (enter: to the table, escape: clear)", FILTERS),
                 key_table("Keys of every tab", KEYS), key_table("Keys of each tab", TABS),
                 key_table("In dialogs", DIALOGS)]
        settings = self.app.settings
        if settings.local_token_file:
            parts.append(local_server_text(settings.url, settings.local_token_file))
        with Vertical(classes="dialog-box"):
            yield Static("Help (escape closes)", classes="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Static(Group(*parts))
