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


class NameFirst(App[None]):
    def compose(self) -> ComposeResult:
        table = FittedTable(widest=("name",))
        table.add_columns("name", "used by")
        yield table


async def test_a_column_named_widest_takes_the_room_the_others_leave() -> None:
    app = NameFirst()
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(FittedTable)
        table.add_row("n" * 60, "u" * 60)
        await pilot.pause()
        name, used_by = table.ordered_columns
        assert name.width == 60  # whole, past MAX_WIDTH: the other column gave way instead
        assert used_by.width == 80 - 2 - 4 - 60  # 2: scrollbar, 4: padding
        assert "n" * 60 in screen_text(app) and table.max_scroll_x == 0
        await pilot.resize_terminal(40, 10)  # no room: the others at their floor, then the name
        await wait_until(pilot, lambda: used_by.width == len("used by"), message="narrowed")
        assert name.width == 40 - 2 - 4 - len("used by") and table.max_scroll_x == 0


# ------------------------------------------------------------ the Secrets table

LONG = "STRIPE_WEBHOOK_SIGNING_SECRET"  # 29 cells: what 80 columns leave with the others at their floor
LONGER = "STRIPE_CONNECT_PLATFORM_ACCOUNT_WEBHOOK_SIGNING_SECRET_V2"  # 56 cells, past MAX_WIDTH


def _secret_with_services(admin, site: str, name: str) -> None:
    """`name`, typed and bound to services with long names: columns that compete for the width."""
    from shared.models import SecretCreate, SecretTypeCreate, ServiceCreate

    if not any(kind.key == "webhook-signing-key" for kind in admin.list_types(site)):
        admin.create_type(site, SecretTypeCreate(key="webhook-signing-key", name="Webhook", schema={"type": "string"}))
    admin.create_secret(site, None, SecretCreate(name=name, value="\"v\"", type="webhook-signing-key"))
    for service in ("checkout-webhooks", "billing-reconciler"):
        admin.create_service(site, ServiceCreate(name=f"{service}-{len(name)}", secrets=[{"name": name}]))


async def test_a_secret_name_takes_the_width_the_other_columns_leave_at_80x24(started, admin, site):
    _secret_with_services(admin, site, LONG)
    async with started(rows=1, size=(80, 24)) as (app, _):
        [row] = [line for line in screen_text(app).splitlines() if "site" in line and "STRIPE" in line]
        assert LONG in row


async def test_a_secret_name_longer_than_any_column_bound_shows_whole_at_120x40(started, admin, site):
    _secret_with_services(admin, site, LONGER)
    async with started(rows=1, size=(120, 40)) as (app, _):
        assert LONGER in screen_text(app).splitlines()[4]


async def test_a_name_too_long_for_the_table_ends_in_an_ellipsis_and_reads_whole_in_the_detail(started, admin, site):
    from shared.models import SecretCreate

    name = "A" * 200
    admin.create_secret(site, None, SecretCreate(name=name, value="v"))
    async with started(rows=1, size=(80, 24)) as (app, pilot):
        table_row = screen_text(app).splitlines()[4]
        assert "A…" in table_row and name not in table_row
        squeezed = "".join(screen_text(app).split())  # the detail wraps the name over lines
        assert f"name{name}scope" in squeezed
