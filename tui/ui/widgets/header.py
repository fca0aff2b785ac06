"""The header line: server, site, the token's name and role, and the connection state.

Fields are kept apart by a visible `│`, not by spaces alone: a screenshot turned into text (or an
SVG viewer that collapses spaces) ran them together as `127.0.0.1:33447site   defaultadmin`.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.display import safe_text
from tui.urls import short_address

_STATE_STYLE = {"online": "green", "offline": "bold red", "reconnecting": "yellow", "rejected": "bold red"}
_STATE_LABEL = {"rejected": "token rejected: run sitesecrets login"}
SEPARATOR = " │ "
HELP_HINT = "? help"
"""Right-aligned when there is room: the footer keeps to the tab's own keys, help lists the rest."""


class StatusHeader(Static):
    """Redraws itself whenever the App's site, connection (or the server's being unable to serve)
    or busy state changes."""

    DEFAULT_CSS = """
    StatusHeader { dock: top; height: 1; background: $panel; color: $foreground; padding: 0 1; }
    """

    def on_mount(self) -> None:
        for name in ("site", "connection", "unavailable", "busy"):
            self.watch(self.app, name, self._redraw, init=False)
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self, *_: object) -> None:
        app = self.app
        identity = app.identity
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(short_address(app.client.url))
        if app.site:
            line.append(SEPARATOR + "site ", style="dim")
            line.append_text(safe_text(app.site, style="bold"))
        else:
            line.append(SEPARATOR + "no site", style="dim")
        state = app.connection
        if state != "rejected":  # a rejected token is no identity any more: the room goes to what to do
            line.append(SEPARATOR, style="dim")
            line.append_text(safe_text(identity.name))
            line.append(f" ({identity.role.value}{', read-only' if app.read_only else ''})", style="dim")
        tail = Text()
        tail.append(SEPARATOR, style="dim")
        if state == "online" and app.unavailable:  # there, but cannot serve: until a call succeeds
            tail.append(f"● {app.unavailable}", style="yellow")
        else:
            tail.append(f"● {_STATE_LABEL.get(state, state)}", style=_STATE_STYLE.get(state, ""))
        if app.busy > 0:
            tail.append(SEPARATOR, style="dim")
            tail.append("working…", style="italic")
        width = self.content_size.width
        if width and line.cell_len + tail.cell_len > width:
            # Long names give way, never the state: a line too long for the header wrapped out of
            # its one row from the name that did not fit, "● offline" with it.
            line.truncate(max(0, width - tail.cell_len), overflow="ellipsis")
        line.append_text(tail)
        room = width - line.cell_len - len(HELP_HINT)
        if room >= 2:
            line.append(" " * room)
            line.append(HELP_HINT, style="dim")
        self.update(line)
