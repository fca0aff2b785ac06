"""Columns fit their cells the moment a row is added, not on the next idle moment: a frame drawn
in between would cache cells cut at the header's width, and the Audit tab then showed `secret`
for `secret.create` until it was reloaded."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from tui.ui.widgets.fitted_table import MAX_WIDTH, FittedTable
from tui_helpers import screen_text, wait_until


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


async def test_columns_narrow_again_once_the_wide_row_is_gone() -> None:
    app = OneTable()
    async with app.run_test():
        table = app.query_one(FittedTable)
        table.add_row("x", "service.env")
        table.add_row("y", "a")
        _, action = table.ordered_columns
        assert action.width == len("service.env")
        table.clear()
        table.add_row("z", "b")
        assert action.width == len("action") and table.ordered_columns[0].width == len("at")


async def test_a_long_cell_is_cut_with_an_ellipsis_and_the_columns_fit_the_table() -> None:
    app = OneTable()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(FittedTable)
        table.add_row("01:54", "x" * 200)
        await pilot.pause()
        at, action = table.ordered_columns
        assert at.width == len("01:54")
        assert sum(c.get_render_width(table) for c in table.ordered_columns) <= 40 - 2  # 2: scrollbar
        shown = screen_text(app)
        assert "01:54" in shown and "x…" in shown and table.max_scroll_x == 0


async def test_widths_follow_the_terminal_width() -> None:
    app = OneTable()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(FittedTable)
        table.add_row("01:54", "y" * 60)
        await pilot.pause()
        narrow = table.ordered_columns[1].width
        await pilot.resize_terminal(120, 10)
        await wait_until(pilot, lambda: table.ordered_columns[1].width > narrow, message="wider column")
        assert table.ordered_columns[1].width == MAX_WIDTH
        await wait_until(pilot, lambda: "y" * (MAX_WIDTH - 1) + "…" in screen_text(app), message="redrawn wider")


async def test_strings_are_shown_as_plain_text_not_markup() -> None:
    app = OneTable()
    async with app.run_test() as pilot:
        app.query_one(FittedTable).add_row("[red]x", "[/foo]")
        await pilot.pause()
        assert "[red]x" in screen_text(app) and "[/foo]" in screen_text(app)


class TimesWhole(App[None]):
    def compose(self) -> ComposeResult:
        table = FittedTable(whole=("at",))
        table.add_columns("at", "actor", "target")
        yield table


async def test_a_column_named_whole_is_never_narrowed_to_fit() -> None:
    app = TimesWhole()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(FittedTable)
        table.add_row("2026-01-15 09:30", "a" * 30, "t" * 30)
        await pilot.pause()
        at, actor, target = table.ordered_columns
        assert at.width == len("2026-01-15 09:30") and "2026-01-15 09:30" in screen_text(app)
        assert actor.width < 30 and target.width < 30 and table.max_scroll_x == 0
