"""A DataTable whose columns are wide enough for a row the moment the row is added.

DataTable measures auto-width columns only when it is next idle, and caches every cell it draws
by row, column and update count, not by width. A frame drawn between `add_row` and that idle
moment caches the cells at the header's width, and the widening that follows never redraws
them: under load the Audit tab stayed showing `secret` for `secret.create`. Here each column gets
a fixed width, widened before the row goes in, so no cell is ever drawn at a width that changes
afterwards.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable


def cell_width(cell: object) -> int:
    """Terminal cells the widest line of `cell` takes."""
    plain = cell.plain if isinstance(cell, Text) else str(cell)
    return max((cell_len(line) for line in plain.splitlines()), default=0)


class FittedTable(DataTable):
    def add_row(self, *cells, height: int | None = 1, key: str | None = None, label=None):
        for column, cell in zip(self.ordered_columns, cells):
            wanted = max(cell_width(column.label), column.width, cell_width(cell))
            if column.auto_width or wanted > column.width:
                column.auto_width, column.width = False, wanted
        return super().add_row(*cells, height=height, key=key, label=label)
