"""What a newcomer's walkthrough at 80x24 found (issue 15, parts 2 and 3), each reproduced:
empty panes say what to press, a viewer is told it cannot reveal, a 200-character name leaves the
other columns on screen, every table moves like a pager and every tab filters with `/`, the help
explains focus and each tab's filter, and the header, footer and detail panes read right."""

from __future__ import annotations

from shared.models import AppCreate, Role, SecretCreate, SecretTypeCreate, SecretUpdate, ServiceCreate
from tui.ui.dialogs.help import HelpDialog, local_server_text
from tui_helpers import make_token, screen_text, show_tab, wait_until

LONG_NAME = "LONG_" + "x" * 195


def _lines(app) -> list[str]:
    return screen_text(app).splitlines()


def _rows(app, table: str) -> list[str]:
    found = app.screen.query(f"#{table}")
    if not found:
        return []
    return [found.first().get_row_at(i)[0].plain for i in range(found.first().row_count)]


# ------------------------------------------------------------ empty panes and viewers

async def test_empty_site_says_press_n_to_create_a_secret(started):
    async with started(rows=0) as (app, pilot):
        await wait_until(pilot, lambda: "No secrets yet — press n to create one" in screen_text(app),
                         message="empty Secrets tab hint")
        assert "No secret selected" not in screen_text(app)
        await show_tab(pilot, "types")
        await wait_until(pilot, lambda: "No secret types yet — press n to create one" in screen_text(app),
                         message="empty Types tab hint")
        await show_tab(pilot, "services")
        await wait_until(pilot, lambda: "No services yet — press n to create one" in screen_text(app),
                         message="empty Services tab hint")


async def test_read_only_empty_site_offers_no_key_it_cannot_use(started):
    async with started(rows=0, read_only=True) as (app, pilot):
        await wait_until(pilot, lambda: "No secrets yet." in screen_text(app), message="empty hint")
        assert "press n" not in screen_text(app)


async def test_a_filter_that_hides_every_row_says_so_and_how_to_clear_it(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="ALPHA", value="v"))
    async with started(rows=1) as (app, pilot):
        await pilot.press("slash", "z", "z", "[", "r", "e", "d", "]")
        await wait_until(pilot, lambda: "No secrets match zz[red]: escape clears the filter" in screen_text(app),
                         message="no-match hint, markup shown literally")


async def test_viewer_is_told_viewers_cannot_reveal(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="HIDDEN", value="v"))
    async with started(token=make_token(admin, Role.viewer), rows=1) as (app, pilot):
        await wait_until(pilot, lambda: "viewers cannot reveal values" in screen_text(app), message="viewer hint")
        assert "(s shows it)" not in screen_text(app)


# ------------------------------------------------------------ item 1: a very long name

async def test_a_200_character_name_leaves_every_column_on_screen_until_deleted(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name=LONG_NAME, value="v"))
    admin.create_secret(site, None, SecretCreate(name="SHORT", value="v"))
    async with started(rows=2) as (app, pilot):
        table = app.screen.query_one("#secrets-table")
        text = screen_text(app)
        header = next(line for line in _lines(app) if "name" in line and "scope" in line)
        for column in ("scope", "type", "ver", "updated", "used by"):
            assert column in header, column
        assert "LONG_xxx" in text and "x…" in text and table.max_scroll_x == 0
        # the detail pane shows the whole name (wrapped), the table's cut row does not
        assert text.count("x") >= 195 + 10
        admin.delete_secret(site, None, LONG_NAME)
        await pilot.press("r")
        await wait_until(pilot, lambda: table.row_count == 1, message="long row gone")
        assert table.ordered_columns[0].width == len("SHORT")


# ------------------------------------------------------------ item 5: moving and filtering

async def test_every_table_moves_like_a_pager(started, admin, site):
    for number in range(100):
        admin.create_secret(site, None, SecretCreate(name=f"S{number:03}", value="v"))
    async with started(rows=100) as (app, pilot):
        table = app.screen.query_one("#secrets-table")
        await pilot.press("G")
        await wait_until(pilot, lambda: table.cursor_row == 99, message="G: last row")
        await pilot.press("g")
        await wait_until(pilot, lambda: table.cursor_row == 0, message="g: first row")
        await pilot.press("end")
        await wait_until(pilot, lambda: table.cursor_row == 99, message="end: last row")
        await pilot.press("home")
        await wait_until(pilot, lambda: table.cursor_row == 0, message="home: first row")
        await pilot.press("j", "j", "k")
        await wait_until(pilot, lambda: table.cursor_row == 1, message="j j k")
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: table.cursor_row > 5, message="page down")
        await wait_until(pilot, lambda: "S001" not in screen_text(app) and table.cursor_row < 99,
                         message="a page further, not the end")
        await pilot.press("pageup")
        await wait_until(pilot, lambda: table.cursor_row == 1 or table.cursor_row == 0, message="page up")


async def test_tab_and_shift_tab_move_the_focus_between_a_tabs_boxes_and_its_table(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="API_KEY", value="v"))
    async with started(rows=1) as (app, pilot):

        async def focus_goes(key: str, selector: str) -> None:
            await pilot.press(key)
            await wait_until(pilot, lambda: app.focused is app.screen.query_one(selector), message=f"{key} to {selector}")

        await focus_goes("slash", "#secrets-filter")
        await focus_goes("tab", "#secrets-table")
        await focus_goes("shift+tab", "#secrets-filter")
        await focus_goes("tab", "#secrets-table")  # where the tab keys work again
        await show_tab(pilot, "audit")
        await focus_goes("slash", "#audit-action")
        await focus_goes("tab", "#audit-actor")  # the actor and target boxes, from the keyboard alone
        await focus_goes("tab", "#audit-target")
        await focus_goes("tab", "#audit-table")
        await focus_goes("shift+tab", "#audit-target")


async def test_tab_never_stops_on_the_tab_bar_where_no_key_of_the_tab_works(started, admin, site):
    """The tab bar took the focus one `tab` past the detail pane: the footer went blank, and `n`,
    `e`, `d`, `r` did nothing until another `tab`. Tabs are switched with 1-6."""
    from textual.widgets import Tabs

    admin.create_secret(site, None, SecretCreate(name="API_KEY", value="v"))
    async with started(rows=1) as (app, pilot):
        for tab in ("secrets", "tokens"):
            await show_tab(pilot, tab)
            visited = []
            for _ in range(4):
                await pilot.press("tab")
                await wait_until(pilot, lambda: app.focused is not None, message="something focused")
                visited.append(app.focused)
            assert not any(isinstance(widget, Tabs) for widget in visited), visited
            assert app.screen.query_one(f"#{tab} DataTable") in visited


async def test_slash_filters_the_types_and_services_tabs(started, admin, site):
    admin.create_type(site, SecretTypeCreate(key="db", name="Database", schema={"type": "object"}))
    admin.create_type(site, SecretTypeCreate(key="smtp", name="Mail server", schema={"type": "object"}))
    admin.create_app(site, AppCreate(name="web"))
    admin.create_secret(site, None, SecretCreate(name="API_KEY", value="v"))
    admin.create_service(site, ServiceCreate(name="checkout", app="web", secrets=[{"name": "API_KEY"}]))
    admin.create_service(site, ServiceCreate(name="mailer", secrets=[]))
    async with started(rows=1) as (app, pilot):
        await show_tab(pilot, "types")
        await wait_until(pilot, lambda: _rows(app, "types-table") == ["Database", "Mail server"], message="types")
        await pilot.press("slash", "M", "A", "I", "L")
        await wait_until(pilot, lambda: _rows(app, "types-table") == ["Mail server"], message="types filtered")
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(_rows(app, "types-table")) == 2, message="types filter cleared")
        await show_tab(pilot, "services")
        await wait_until(pilot, lambda: _rows(app, "services-table") == ["checkout", "mailer"], message="services")
        await pilot.press("slash", *"api_key")
        await wait_until(pilot, lambda: _rows(app, "services-table") == ["checkout"],
                         message="services filtered by a bound secret")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.focused is app.screen.query_one("#services-table"),
                         message="enter: back to the table")


# ------------------------------------------------------------ item 7: the help screen

async def test_help_explains_focus_moving_and_each_tabs_filter(started):
    async with started(rows=0) as (app, pilot):
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpDialog), message="help")
        text = screen_text(app)
        for expected in ("focus", "tab / shift+tab", "g home / G end", "j k", "pgup / pgdn",
                         "Sites (the operator) / Tokens (admins)",
                         "Secrets", "part of a name, description, type or scope", "Secret Types",
                         "part of a name, key or description", "Services", "Audit"):
            assert expected in text, expected
        assert "sitesecrets local" not in text  # only under `local`


async def test_help_under_local_says_how_another_shell_connects(started, secrets_server):
    token_file = "/srv/someone/sitesecrets/[red]local-admin.token"
    async with started(rows=0, local_token_file=token_file) as (app, pilot):
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpDialog), message="help")
        help_text = local_server_text(secrets_server.url, token_file).plain
        for line in (f"export SITESECRETS_URL={secrets_server.url}", f"TOKEN_FILE={token_file}",
                     "sitesecrets --token-file $TOKEN_FILE ls",
                     "sitesecrets run --token-file $TOKEN_FILE --service NAME -- CMD"):
            assert f"  {line}\n" in help_text
        await pilot.press("end")
        await wait_until(pilot, lambda: "sitesecrets --token-file $TOKEN_FILE ls" in screen_text(app),
                         message="local section, scrolled to")
        assert "local-admin.token" in screen_text(app) and "[red]" in screen_text(app)


def test_help_names_the_token_file_under_home_with_a_tilde(monkeypatch):
    monkeypatch.setenv("HOME", "/home/ann")
    text = local_server_text("unix:///tmp/sitesecrets-ab12/server.sock",
                             "/home/ann/.local/share/sitesecrets/local-admin.token").plain
    assert "  TOKEN_FILE=~/.local/share/sitesecrets/local-admin.token\n" in text
    assert all(len(line) <= 72 for line in text.splitlines())  # the dialog is 72 cells wide inside


# ------------------------------------------------------------ item 8: glitches at 80 columns

async def test_header_keeps_its_fields_apart_and_points_to_help(started, site):
    async with started(rows=0) as (app, pilot):
        header = _lines(app)[0]
        assert f"│ site {site} │ admin (admin) │ ● online" in header
        assert header.rstrip().endswith("? help")


async def test_footer_shows_whole_labels_on_every_tab(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="A", value="v"))
    whole = {"secrets": "n New  e Edit  d Delete  s Show/hide  c Copy  r Refresh  / Filter",
             "types": "n New  e Edit  d Delete  r Refresh  / Filter",
             "audit": "r Refresh  / Filter",
             "services": "n New  b Bindings  d Delete  a Apps  r Refresh  / Filter"}
    async with started(rows=1) as (app, pilot):
        for tab, keys in whole.items():
            await show_tab(pilot, tab)
            await wait_until(pilot, lambda: keys in _lines(app)[-1], message=f"{tab} footer")
            assert _lines(app)[-1].rstrip().endswith("▏^p palette")


async def test_services_table_keeps_its_bindings_column_on_screen(started, admin, site):
    admin.create_app(site, AppCreate(name="web"))
    names = [f"A_RATHER_LONG_SECRET_NAME_{n}" for n in range(4)]
    for name in names:
        admin.create_secret(site, None, SecretCreate(name=name, value="v"))
    admin.create_service(site, ServiceCreate(name="checkout", app="web", secrets=[{"name": n} for n in names]))
    admin.request("GET", f"/v1/sites/{site}/services/checkout/env", None)
    admin.update_secret(site, None, names[0], SecretUpdate(value="changed"))
    async with started(rows=4) as (app, pilot):
        await show_tab(pilot, "services")
        await wait_until(pilot, lambda: _rows(app, "services-table") == ["checkout"], message="services")
        table = app.screen.query_one("#services-table")
        header = next(line for line in _lines(app) if "name" in line and "status" in line)
        assert "bindings" in header and table.max_scroll_x == 0
        assert "A_RATHER_LONG_SECRET_NAME_3 (site): loaded v1 · current v1" in screen_text(app) or \
            "A_RATHER_LONG_SECRET_NAME_0 (site): loaded v1 · current v2" in screen_text(app)


async def test_detail_pane_keeps_service_and_versions_apart(started, admin, site):
    admin.create_app(site, AppCreate(name="web"))
    admin.create_secret(site, None, SecretCreate(name="API_KEY", value="v"))
    admin.create_service(site, ServiceCreate(name="web", app="web", secrets=[{"name": "API_KEY"}]))
    async with started(rows=1) as (app, pilot):
        await wait_until(pilot, lambda: "web: loaded never · current v1" in screen_text(app), message="used by")


async def test_a_boolean_field_of_a_typed_form_is_named_once(started, admin, site):
    from textual.widgets import Select

    from tui.ui.dialogs.secret_form import SecretFormDialog

    admin.create_type(site, SecretTypeCreate(key="db", name="Database", schema={
        "type": "object", "properties": {"tls_enabled": {"type": "boolean"}}}))
    async with started(rows=0) as (app, pilot):
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog), message="form")
        app.screen.query_one("#type", Select).value = "db"
        await wait_until(pilot, lambda: app.screen.query("#schema-form"), message="generated form")
        await wait_until(pilot, lambda: "▐X▌ yes" in screen_text(app), message="checkbox")
        assert screen_text(app).count("tls_enabled") == 1
