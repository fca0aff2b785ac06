"""`CompactTable`: a `FittedTable` with one space between columns instead of DataTable's two, so
the seven columns of the Sites and Tokens tabs (dates included) fit in 80 columns."""

from __future__ import annotations

from rich.text import Text

from tui.ui.widgets.fitted_table import FittedTable


def _spaced(cell: object) -> Text:
    return Text.assemble(" ", cell if isinstance(cell, Text) else str(cell))


class CompactTable(FittedTable):
    def __init__(self, **kwargs) -> None:
        super().__init__(cell_padding=0, **kwargs)

    def add_columns(self, *labels: str):
        return super().add_columns(*(f" {label}" for label in labels))

    def add_row(self, *cells, height: int | None = 1, key: str | None = None, label=None):
        return super().add_row(*(_spaced(cell) for cell in cells), height=height, key=key, label=label)
