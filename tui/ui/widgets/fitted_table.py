"""A DataTable whose columns fit their cells and, together, the table's width, with the keys of a
pager (`j`/`k`, `g`/`G`, `home`/`end`, page up/down).

DataTable measures auto-width columns only when it is next idle, and caches every cell it draws
by row, column and update count, not by width. A frame drawn between `add_row` and that idle
moment caches the cells at the header's width, and the widening that follows never redraws
them: under load the Audit tab stayed showing `secret` for `secret.create`. Here each column gets
a fixed width, set before the row goes in, so no cell is ever drawn at a width that changes
afterwards without the caches being dropped.

Widths are bounded: a column is as wide as its widest cell up to `MAX_WIDTH`, and when the
columns together would not fit the table, the widest give way first (never below their header,
or `MIN_WIDTH`; columns named `whole`, such as times, not at all). Columns named `widest` (the
Secrets tab's names, what a row is read for) take the room the others leave: unbounded by
`MAX_WIDTH`, and narrowed only once every other column is down to its floor. A cell cut short ends in `…`; the pane beside the table shows it whole. Widths
are measured on the rows the table holds now: after `clear` (every pane refills through it) a
long row that was deleted no longer widens anything.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widgets import DataTable

from tui.ui.textual_private import redraw_at_new_widths

MAX_WIDTH = 48
"""No column is wider than this, whatever the terminal's width."""
MIN_WIDTH = 6
"""A column narrowed to fit the table keeps at least this much (or its header, if shorter)."""


def cell_width(cell: object) -> int:
    """Terminal cells the widest line of `cell` takes."""
    plain = cell.plain if isinstance(cell, Text) else str(cell)
    return max((cell_len(line) for line in plain.splitlines()), default=0)


def one_line(cell: object) -> Text:
    """`cell` as Text that ends in `…` where its column cuts it (a Text is changed in place: the
    panes make a new one per cell). A str is taken as plain text, never as markup (DataTable
    would parse it)."""
    text = cell if isinstance(cell, Text) else Text(str(cell))
    text.no_wrap, text.overflow, text.end = True, "ellipsis", ""
    return text


class FittedTable(DataTable):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("g,home", "scroll_top", "First row", show=False, id="table.first"),
        Binding("G,end", "scroll_bottom", "Last row", show=False, id="table.last"),
    ]

    def __init__(self, *args, whole: Iterable[str] = (), widest: Iterable[str] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._natural: dict[object, int] = {}
        """Column key -> width of its widest cell (header included), before any bound."""
        self._whole = frozenset(whole)
        """Labels of the columns never narrowed to fit (times, versions): the others give way."""
        self._widest = frozenset(widest)
        """Labels of the columns that take what the others leave (names): narrowed last."""

    def add_column(self, label, *, width: int | None = None, key: str | None = None, default=None):
        column_key = super().add_column(label, width=width, key=key, default=default)
        self._natural[column_key] = cell_width(label)
        self._fit()
        return column_key

    def add_row(self, *cells, height: int | None = 1, key: str | None = None, label=None):
        cells = tuple(one_line(cell) for cell in cells)
        grew = False
        for column, cell in zip(self.ordered_columns, cells):
            width = cell_width(cell)
            if width > self._natural.get(column.key, 0):
                self._natural[column.key], grew = width, True
        if grew:  # widths change only when a column's widest cell does
            self._fit()
        return super().add_row(*cells, height=height, key=key, label=label)

    def clear(self, columns: bool = False):
        super().clear(columns)
        self._natural = {} if columns else {column.key: cell_width(column.label) for column in self.ordered_columns}
        self._fit()
        return self

    def on_resize(self, _: events.Resize) -> None:
        if self._fit():
            redraw_at_new_widths(self)

    def _room(self) -> int:
        """Cells the columns' text may take, a vertical scrollbar allowed for; 0 before layout."""
        if not self.size.width:
            return 0
        padding = 2 * self.cell_padding * len(self.columns)
        return max(0, self.size.width - self.styles.scrollbar_size_vertical - padding)

    def widths(self) -> dict[object, int]:
        """Column key -> the width it gets now: its widest cell, bounded (see the module)."""
        room = self._room()
        widest = {key for key in self._natural if key in self.columns and self.columns[key].label.plain in self._widest}
        widths = {key: width if key in widest and room else min(width, MAX_WIDTH)
                  for key, width in self._natural.items() if key in self.columns}
        floors = {key: widths[key] if self.columns[key].label.plain in self._whole
                  else min(widths[key], max(cell_width(self.columns[key].label), MIN_WIDTH)) for key in widths}
        excess = sum(widths.values()) - room if room else 0
        others = {key: width for key, width in widths.items() if key not in widest}
        excess = _give_way(others, floors, excess)
        names = {key: widths[key] for key in widest}
        _give_way(names, floors, excess)
        return {key: names.get(key, others.get(key)) for key in widths}

    def _fit(self) -> bool:
        """Give every column its width now; True if any changed."""
        changed = False
        for key, width in self.widths().items():
            column = self.columns[key]
            if column.auto_width or column.width != width:
                column.auto_width, column.width, changed = False, width, True
        return changed



def _give_way(widths: dict[object, int], floors: dict[object, int], excess: int) -> int:
    """Narrow `widths` in place by `excess` cells in all, the widest above its floor first; the
    excess left once every column is at its floor (the table then scrolls sideways)."""
    while excess > 0 and widths:
        key = max(widths, key=lambda k: widths[k] - floors[k])
        if widths[key] <= floors[key]:
            break
        widths[key] -= 1
        excess -= 1
    return excess
