"""Row 8's yardstick: the smallest Textual app shaped like the TUI's first screen (a header, two
tabs, a 100-row DataTable, a footer), started and timed exactly as `bench.tui_probe` starts ours.

`python -m bench.minimal_probe` prints `FRAME <time.monotonic()>` when the frame with its rows is
painted, then `ROWS <n>` and `MAXRSS_KIB <peak>`. Its rows are made in-process: the difference
to our TUI is everything ours does beyond drawing (imports, the token check, the site's data).
"""

from __future__ import annotations

import sys

from .tui_probe import WANT_ROWS, first_frame


def main() -> int:
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable, Footer, Header, TabbedContent, TabPane

    class Minimal(App[None]):
        BINDINGS = [("q", "quit", "Quit"), ("n", "bell", "New")]

        def compose(self) -> ComposeResult:
            yield Header()
            with TabbedContent():
                with TabPane("1 Secrets"):
                    yield DataTable(id="secrets-table", cursor_type="row")
                with TabPane("2 Types"):
                    yield DataTable(id="types-table")
            yield Footer()

        def on_mount(self) -> None:
            table = self.query_one("#secrets-table", DataTable)
            table.add_columns("name", "scope", "type", "ver", "updated", "used by")
            for n in range(WANT_ROWS):
                table.add_row(f"S{n}", "site", "-", "1", "2026-01-15 09:30", "-", key=str(n))
            table.focus()

    return first_frame(Minimal())


if __name__ == "__main__":
    sys.exit(main())
