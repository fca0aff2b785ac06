"""Columns fit their cells the moment a row is added, not on the next idle moment: a frame drawn
in between would cache cells cut at the header's width, and the Audit tab then showed `secret`
for `secret.create` until it was reloaded."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from tui.ui.widgets.fitted_table import FittedTable


class OneTable(App[None]):
    def compose(self) -> ComposeResult:
        table = FittedTable()
        table.add_columns("at", "action")
        yield table


async def test_a_column_is_as_wide_as_its_widest_cell_as_soon_as_the_row_is_added() -> None:
    app = OneTable()
    async with app.run_test():
        table = app.query_one(FittedTable)
        at, action = table.ordered_columns
        table.add_row(Text("01:54"), Text("secret.create"))  # no await: no idle moment in between
        assert action.get_render_width(table) - 2 * table.cell_padding == len("secret.create")
        assert at.get_render_width(table) - 2 * table.cell_padding == len("01:54")


async def test_columns_never_narrow_below_their_header_or_an_earlier_row() -> None:
    app = OneTable()
    async with app.run_test():
        table = app.query_one(FittedTable)
        table.add_row("x", "service.env")
        table.add_row("y", "a")
        _, action = table.ordered_columns
        assert action.width == len("service.env")
        table.clear()
        table.add_row("z", "b")
        assert action.width == len("service.env") and table.ordered_columns[0].width == len("at")
