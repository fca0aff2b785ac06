"""The operator's tabs: Sites (usage against limits, new site with its first admin token shown once,
limits, delete after typing the name, enter opens a site) and Tokens (list, create shown once,
revoke behind a confirm), and who gets them."""

from __future__ import annotations

import sqlite3

import pytest
from textual.widgets import Button, Checkbox, Input

from shared.models import Role, SecretCreate, SecretTypeCreate, ServiceCreate, TokenCreate
from tui.client import ApiError, SiteSecretsClient
from tui.display import clipped
from tui.ui.dialogs.confirm import ConfirmDialog
from tui.ui.dialogs.site_delete import DeleteSiteDialog
from tui.ui.dialogs.site_form import NewSiteDialog, SiteLimitsDialog
from tui.ui.dialogs.token_form import TokenFormDialog
from tui.ui.textual_private import notification_messages
from tui_helpers import running, screen_text, settled, wait_until

_names = iter(range(1, 10_000))


def fresh(prefix: str = "op") -> str:
    return f"{prefix}-{next(_names)}"


def bound_token(admin, role: Role, site: str, name: str | None = None) -> str:
    return admin.create_token(TokenCreate(name=name or f"{role.value}-of-{site}", role=role, site=site)).token


def rows(app, table: str) -> list[list[str]]:
    shown = app.screen.query_one(f"#{table}")
    return [[str(cell).strip() for cell in shown.get_row_at(i)] for i in range(shown.row_count)]


def row_of(app, table: str, first: str) -> list[str] | None:
    return next((row for row in rows(app, table) if row[0] == first), None)


async def open_tab(pilot, key: str, tab: str) -> None:
    """Press `key` and wait for `tab`'s pane to be built and loaded."""
    app = pilot.app
    await pilot.press(key)
    await wait_until(pilot, lambda: app.screen.query(f"#{tab}-pane") and app.screen.query_one(f"#{tab}-pane").data is not None
                     and app.screen.query_one("#tabs").active == tab, message=f"{tab} tab loaded")


async def highlight(pilot, table: str, first: str) -> None:
    """Move the cursor of `table` to the row whose first cell is `first`."""
    app = pilot.app
    await wait_until(pilot, lambda: row_of(app, table, first) is not None, message=f"row {first}")
    shown = app.screen.query_one(f"#{table}")
    shown.move_cursor(row=[row[0] for row in rows(app, table)].index(first))
    shown.focus()
    await wait_until(pilot, lambda: first in screen_text(app).split("────")[-1], message=f"{first} highlighted")


def recording_clipboard(app) -> list[str]:
    copies: list[str] = []
    original = app.copy_to_clipboard
    app.copy_to_clipboard = lambda text: (copies.append(text), original(text))
    return copies


# ------------------------------------------------------------ who gets the tabs


async def test_the_new_tabs_are_built_only_when_first_opened(started):
    async with started() as (app, pilot):
        assert not app.screen.query("#sites-pane") and not app.screen.query("#tokens-pane")
        assert "5 Sites" in screen_text(app).splitlines()[1] and "6 Tokens" in screen_text(app).splitlines()[1]
        await open_tab(pilot, "6", "tokens")
        assert not app.screen.query("#sites-pane")


async def test_a_site_bound_admin_gets_tokens_of_its_site_only_and_no_sites_tab(started, admin, site):
    other = fresh()
    admin.request("POST", "/v1/sites", None, json={"name": other})
    bound_token(admin, Role.viewer, other, name="elsewhere")
    bound_token(admin, Role.editor, site, name="mine")
    async with started(token=bound_token(admin, Role.admin, site)) as (app, pilot):
        tabs = screen_text(app).splitlines()[1]
        assert "Sites" not in tabs and "6 Tokens" in tabs
        await pilot.press("5")
        await settled(pilot)
        assert not app.screen.query("#sites-pane")
        await open_tab(pilot, "6", "tokens")
        shown = rows(app, "tokens-table")
        assert {row[2] for row in shown} == {site}
        assert {row[0] for row in shown} >= {"mine"} and "elsewhere" not in {row[0] for row in shown}


async def test_a_viewer_gets_neither_tab(started, admin, site):
    async with started(token=bound_token(admin, Role.viewer, site)) as (app, pilot):
        tabs = screen_text(app).splitlines()[1]
        assert "Sites" not in tabs and "Tokens" not in tabs
        await pilot.press("5", "6")
        await settled(pilot)
        assert not app.screen.query("#sites-pane") and not app.screen.query("#tokens-pane")


async def test_an_unbound_editor_gets_neither_tab(started, admin):
    editor = admin.create_token(TokenCreate(name="roaming-editor", role=Role.editor)).token
    async with started(token=editor) as (app, pilot):
        tabs = screen_text(app).splitlines()[1]
        assert "Sites" not in tabs and "Tokens" not in tabs


# ------------------------------------------------------------ Sites


async def test_sites_tab_shows_usage_against_limits(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="ONE", value="héllo"))
    admin.create_service(site, ServiceCreate(name="api", secrets=[{"name": "ONE"}]))
    async with started() as (app, pilot):
        await open_tab(pilot, "5", "sites")
        assert row_of(app, "sites-table", site)[1:5] == ["1/100", "6 B", "1", "0"]
        await highlight(pilot, "sites-table", site)
        shown = " ".join(screen_text(app).split())
        assert "1/100 secrets (1%) 6 B of values, ≤64.0 KiB each" in shown
        assert "0/100 apps" in shown and "1/500 services" in shown
        assert "0/100 types" in shown and "0/1,000 tokens" in shown


async def test_a_sites_detail_reads_whole_at_80_columns_with_the_largest_limits(tmp_path):
    # A host whose operator raised every default (serve --max-secrets 1000000 ...) and a site
    # named at the longest a name may be: each line under the table wrapped and the last was cut.
    from server.config import Settings as ServerSettings
    from server.embedded import EmbeddedServer
    from shared.limits import Limits
    from tui.settings import Settings
    from tui.ui.app import SiteSecretsApp

    big = Limits(max_secrets=1_000_000, max_value_bytes=67_108_864, max_apps=1_000_000, max_services=1_000_000,
                 max_types=1_000_000, max_tokens=1_000_000, max_name_length=2048, max_versions=1000,
                 trash_days=3650)
    data = tmp_path / "data"
    EmbeddedServer.start(data).stop()  # initialised, then served with the raised defaults
    with EmbeddedServer.start(data, settings=ServerSettings(data_dir=data, limits=big)) as server:
        client = SiteSecretsClient(server.url, server.admin_token)
        name = "customer-" + "x" * 54
        client.request("POST", "/v1/sites", None, json={"name": name})
        client.create_secret(name, None, SecretCreate(name="ONE", value="v"))
        app = SiteSecretsApp(client, Settings(url=server.url, refresh_seconds=0), client.whoami())
        async with running(app) as (app, pilot):
            await open_tab(pilot, "5", "sites")
            await pilot.press("o")  # sorted by secrets used: the longest words of the sort
            await wait_until(pilot, lambda: "sorted by secrets used" in screen_text(app), message="sorted")
            app.screen.query_one("#sites-table").move_cursor(row=0)  # the fuller site sorts first
            await wait_until(pilot, lambda: "customer-xxx" in screen_text(app).split("────")[-1], message="detail")
            lines = screen_text(app).splitlines()
            first = next(i for i, line in enumerate(lines) if "enter opens it in the other tabs" in line)
            detail = [" ".join(line.split()) for line in lines[first:first + 6]]
            assert detail[0].startswith("customer-xxx") and "…" in detail[0]
            assert detail[1:] == ["1/1,000,000 secrets (0%) 1 B of values, ≤64.0 MiB each",
                                  "0/1,000,000 apps 0/1,000,000 services",
                                  "0/1,000,000 types 0/1,000,000 tokens",
                                  "names ≤2,048 · keeps 1,000 versions · trash 3,650 days",
                                  "sorted by secrets used (o)"]
            assert "Limits" in lines[-1]  # the footer is still there, under all of it
        client.close()


async def test_sites_tab_shows_which_limit_each_site_is_nearest(started, admin, site):
    """An operator sees at a glance which tenant is near which cap, not only its secrets."""
    admin.update_site(site, _limits(max_apps=2))
    admin.request("POST", f"/v1/sites/{site}/apps", None, json={"name": "web"})
    admin.request("POST", f"/v1/sites/{site}/apps", None, json={"name": "api"})
    async with started() as (app, pilot):
        await open_tab(pilot, "5", "sites")
        assert row_of(app, "sites-table", site)[-1] == "apps 100%"
        await highlight(pilot, "sites-table", site)
        assert "2/2 apps" in screen_text(app) and "0/1,000 tokens" in screen_text(app)


async def test_sort_by_fullest_puts_the_site_nearest_any_limit_first(started, admin, site):
    admin.update_site(site, _limits(max_types=1))
    admin.create_type(site, SecretTypeCreate(key="k", name="K", schema={"type": "string"}))
    async with started() as (app, pilot):
        await open_tab(pilot, "5", "sites")
        await pilot.press("o", "o", "o", "o", "o")  # from name: secrets, value bytes, services, tokens, fullest
        await wait_until(pilot, lambda: "sorted by fullest" in screen_text(app), message="sorted by fullest")
        shares = [int(row[-1].split()[-1].rstrip("%")) for row in rows(app, "sites-table")]
        assert shares == sorted(shares, reverse=True)  # other tests' sites share the server
        assert row_of(app, "sites-table", site)[-1] == "types 100%"


async def test_limits_dialog_says_what_each_limit_counts_now(started, admin, site):
    admin.request("POST", f"/v1/sites/{site}/apps", None, json={"name": "web"})
    admin.create_secret(site, None, SecretCreate(name="ONE", value="v"))
    async with started() as (app, pilot):
        await open_tab(pilot, "5", "sites")
        await highlight(pilot, "sites-table", site)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, SiteLimitsDialog), message="limits dialog")
        shown = screen_text(app)
        assert "Max secrets (1 now)" in shown and "Max apps (1 now)" in shown


async def test_a_wide_character_token_name_is_cut_in_cells_and_the_dates_stay_on_screen(started, admin, site):
    """Cut by characters, thirteen CJK characters (under the 16 a name keeps) took 26 cells and pushed
    'last used' off the screen."""
    bound_token(admin, Role.viewer, site, name="運用チーム管理者アカウント")
    async with started() as (app, pilot):
        await open_tab(pilot, "6", "tokens")
        [line] = [line for line in screen_text(app).splitlines() if "運用" in line and "viewer" in line]
        assert "運用チーム管理… viewer" in line and line.rstrip().endswith("never")


async def test_a_long_token_name_leaves_its_expiry_in_view(started, admin, site):
    """The line under the table had room for three lines: a 128-character name took two and
    pushed 'expires' and 'last used' out of sight."""
    name = "deploy-" + "x" * 121
    bound_token(admin, Role.viewer, site, name=name)
    async with started() as (app, pilot):
        await open_tab(pilot, "6", "tokens")
        await wait_until(pilot, lambda: row_of(app, "tokens-table", clipped(name, 16).plain), message="listed")
        table = app.screen.query_one("#tokens-table")
        table.move_cursor(row=[row[0] for row in rows(app, "tokens-table")].index(clipped(name, 16).plain))
        await wait_until(pilot, lambda: "x" * 60 in screen_text(app), message="its detail shown")
        assert "expires never · last used never" in screen_text(app)


async def test_sites_tab_opens_on_the_site_open_in_the_other_tabs(started, admin, site):
    admin.request("POST", "/v1/sites", None, json={"name": f"0-{site}"})  # a site sorted before it
    async with started() as (app, pilot):
        await open_tab(pilot, "5", "sites")
        pane = app.screen.query_one("#sites-pane")
        assert pane.highlighted_key() == site
        assert "open in the other tabs" in screen_text(app)


async def test_sites_filter_with_slash_keeps_matching_names(started, admin, site):
    async with started() as (app, pilot):
        await open_tab(pilot, "5", "sites")
        await pilot.press("slash", *site)
        await wait_until(pilot, lambda: [row[0] for row in rows(app, "sites-table")] == [site], message="filtered")
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(rows(app, "sites-table")) > 1, message="filter cleared")


async def test_sort_puts_the_fullest_site_first(started, admin, site):
    admin.update_site(site, _limits(max_secrets=2))
    admin.create_secret(site, None, SecretCreate(name="ONE", value="v"))
    async with started() as (app, pilot):
        await open_tab(pilot, "5", "sites")
        await pilot.press("o")  # by secrets used
        await wait_until(pilot, lambda: rows(app, "sites-table")[0][0] == site, message="fullest first")
        assert "sorted by secrets used" in screen_text(app)


def _limits(**limits):
    from shared.models import LimitsUpdate, SiteUpdate

    return SiteUpdate(limits=LimitsUpdate(**limits))


async def test_new_site_shows_its_first_admin_token_once_and_copies_it(started, admin):
    name = fresh("new")
    async with started() as (app, pilot):
        copies = recording_clipboard(app)
        await open_tab(pilot, "5", "sites")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NewSiteDialog), message="new site dialog")
        await pilot.press(*name, "ctrl+s")
        await wait_until(pilot, lambda: "shown this once" in screen_text(app), message="token shown")
        [token] = [word for word in screen_text(app).split() if word.startswith("ss_")]
        await pilot.press("c")
        await wait_until(pilot, lambda: copies == [token], message="token copied")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, NewSiteDialog) and
                         row_of(app, "sites-table", name) is not None, message="dialog closed, site listed")
        assert token not in screen_text(app)
        assert row_of(app, "sites-table", name)[4] == "1"
    who = SiteSecretsClient(admin.url, token)
    try:
        assert (who.whoami().role, who.whoami().site, who.whoami().name) == (Role.admin, name, f"{name}-admin")
    finally:
        who.close()


async def test_new_site_without_a_token_creates_none(started, admin):
    name = fresh("bare")
    async with started() as (app, pilot):
        await open_tab(pilot, "5", "sites")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NewSiteDialog), message="new site dialog")
        app.screen.query_one("#with-token", Checkbox).value = False
        await pilot.press(*name, "ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, NewSiteDialog), message="dialog closed")
        assert "ss_" not in screen_text(app)
    assert admin.get_site(name).usage.tokens == 0


async def test_new_site_of_a_taken_name_is_refused_in_the_form(started, admin, site):
    async with started() as (app, pilot):
        await open_tab(pilot, "5", "sites")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NewSiteDialog), message="new site dialog")
        await pilot.press(*site, "ctrl+s")
        await wait_until(pilot, lambda: f"There is already a site '{site}'." in screen_text(app), message="refused")
        assert isinstance(app.screen, NewSiteDialog)
    assert admin.get_site(site).usage.tokens == 0


async def test_edit_limits_sends_what_changed(started, admin, site):
    admin.update_site(site, _limits(trash_days=5))
    async with started() as (app, pilot):
        await open_tab(pilot, "5", "sites")
        await highlight(pilot, "sites-table", site)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, SiteLimitsDialog), message="limits dialog")
        app.screen.query_one("#max_secrets", Input).value = "7"
        app.screen.query_one("#max_versions", Input).value = "3"
        app.screen.query_one("#trash_days", Input).value = ""  # back to the server's default
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SiteLimitsDialog), message="saved")
        await wait_until(pilot, lambda: row_of(app, "sites-table", site)[1] == "0/7", message="table updated")
    limits = admin.get_site(site).limits
    assert (limits.max_secrets, limits.max_versions, limits.trash_days, limits.max_value_bytes) == (7, 3, 30, 65536)


async def test_limits_dialog_sets_how_long_the_audit_log_is_kept(started, admin, site):
    async with started() as (app, pilot):
        await open_tab(pilot, "5", "sites")
        await highlight(pilot, "sites-table", site)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, SiteLimitsDialog), message="limits dialog")
        app.screen.query_one("#audit_retention_days", Input).value = "30"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SiteLimitsDialog), message="saved")
    assert admin.get_site(site).limits.audit_retention_days == 30


async def test_a_limit_out_of_range_is_marked_and_nothing_changes(started, admin, site):
    async with started() as (app, pilot):
        await open_tab(pilot, "5", "sites")
        await highlight(pilot, "sites-table", site)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, SiteLimitsDialog), message="limits dialog")
        app.screen.query_one("#max_versions", Input).value = "0"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "greater than or equal to 1" in screen_text(app), message="field marked")
        assert isinstance(app.screen, SiteLimitsDialog)
    assert admin.get_site(site).limits.max_versions == 10


async def test_delete_site_goes_ahead_only_once_its_name_is_typed(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="DOOMED", value="v"))
    bound = bound_token(admin, Role.viewer, site)
    async with started() as (app, pilot):
        await open_tab(pilot, "5", "sites")
        await highlight(pilot, "sites-table", site)
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DeleteSiteDialog), message="delete dialog")
        dialog = app.screen
        question = str(dialog.query_one("#question").render())
        assert "1 secret (" in question and "1 token, revoked" in question
        assert dialog.query_one("#yes", Button).disabled
        await pilot.press(*site[:-1], "enter")  # one letter short
        await wait_until(pilot, lambda: "That is not the site's name." in screen_text(app), message="refused")
        assert admin.get_site(site).usage.secrets == 1
        await pilot.press(site[-1])
        await wait_until(pilot, lambda: not dialog.query_one("#yes", Button).disabled, message="button enabled")
        await pilot.press("enter")
        await wait_until(pilot, lambda: row_of(app, "sites-table", site) is None, message="site gone from the table")
    with pytest.raises(ApiError) as gone:
        admin.get_site(site)
    assert gone.value.code == "not_found"
    refused = SiteSecretsClient(admin.url, bound)
    try:
        with pytest.raises(ApiError) as revoked:
            refused.whoami()
        assert revoked.value.code == "unauthorized"
    finally:
        refused.close()


async def test_deleting_a_site_someone_else_deleted_takes_its_row_away(started, admin, site):
    """The operator's intent holds (the site is gone), so its row goes and the toast says why,
    instead of an error over a row that stayed until `r`."""
    async with started(notifications=True) as (app, pilot):
        await open_tab(pilot, "5", "sites")
        await highlight(pilot, "sites-table", site)
        admin.delete_site(site, cascade=True)  # another operator, meanwhile
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DeleteSiteDialog), message="delete dialog")
        await pilot.press(*site, "enter")
        await wait_until(pilot, lambda: row_of(app, "sites-table", site) is None, message="site gone from the table")
        await wait_until(pilot, lambda: any("already deleted elsewhere" in m for m in notification_messages(app)),
                         message="said why")


async def test_escape_in_the_delete_dialog_keeps_the_site(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="KEPT", value="v"))
    async with started() as (app, pilot):
        await open_tab(pilot, "5", "sites")
        await highlight(pilot, "sites-table", site)
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DeleteSiteDialog), message="delete dialog")
        await pilot.press(*site, "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, DeleteSiteDialog), message="closed")
        await settled(pilot)
    assert admin.get_site(site).usage.secrets == 1


async def test_enter_opens_the_site_in_the_other_tabs(started, admin, site):
    other = fresh("other")
    admin.request("POST", "/v1/sites", None, json={"name": other})
    admin.create_secret(other, None, SecretCreate(name="OTHER_SECRET", value="v"))
    async with started() as (app, pilot):
        assert app.site == site
        await open_tab(pilot, "5", "sites")
        await highlight(pilot, "sites-table", other)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.site == other and app.screen.query_one("#tabs").active == "secrets",
                         message="switched")
        await wait_until(pilot, lambda: "OTHER_SECRET" in screen_text(app), message="its secrets shown")
        assert f"site {other}" in screen_text(app).splitlines()[0]


# ------------------------------------------------------------ Tokens


async def test_tokens_tab_lists_name_role_site_service_and_dates(started, admin, site):
    admin.create_service(site, ServiceCreate(name="worker"))
    admin.create_token(TokenCreate(name="runner", role=Role.service, site=site, service="worker", expires_in_days=30))
    async with started() as (app, pilot):
        await open_tab(pilot, "6", "tokens")
        name, role, where, service, created, expires, used = row_of(app, "tokens-table", "runner")
        assert (role, where, service, used) == ("service", site, "worker", "never")
        assert created[:4].isdigit() and expires[:4].isdigit() and expires > created


async def test_an_expired_token_says_it_is_refused_and_will_be_removed(started, admin, site, secrets_server):
    """The server lists an expired token for a week, then removes it: the tab says which is which,
    so an admin sees at once why a client stopped working."""
    made = admin.create_token(TokenCreate(name="lapsed", role=Role.viewer, site=site, expires_in_days=1))
    state = secrets_server.state
    row = state.store.read(lambda tx: tx.get_token(made.id))
    moved = state.tokens.seal(row._replace(expires_at="2026-01-02T03:04:05Z"))  # time cannot be made to pass
    with sqlite3.connect(state.settings.db_path) as conn:
        conn.execute("UPDATE tokens SET expires_at = ?, mac = ? WHERE id = ?", (moved.expires_at, moved.mac, made.id))
    async with started() as (app, pilot):
        await open_tab(pilot, "6", "tokens")
        await highlight(pilot, "tokens-table", "lapsed")
        assert "expired 2026-01-02 03:04: refused, and removed 7 days after" in screen_text(app)


async def test_create_token_shows_it_once_and_copies_it(started, admin, site):
    async with started() as (app, pilot):
        copies = recording_clipboard(app)
        await open_tab(pilot, "6", "tokens")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, TokenFormDialog), message="token form")
        await pilot.press(*"deploy-bot", "ctrl+s")
        await wait_until(pilot, lambda: "shown this once" in screen_text(app), message="token shown")
        [token] = [word for word in screen_text(app).split() if word.startswith("ss_")]
        await pilot.press("c")
        await wait_until(pilot, lambda: copies == [token], message="copied")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, TokenFormDialog) and
                         row_of(app, "tokens-table", "deploy-bot") is not None, message="listed")
        assert token not in screen_text(app)
        assert row_of(app, "tokens-table", "deploy-bot")[1:3] == ["viewer", site]


async def test_revoke_asks_first_and_then_the_token_is_refused(started, admin, site):
    doomed = bound_token(admin, Role.viewer, site, name="doomed")
    async with started() as (app, pilot):
        await open_tab(pilot, "6", "tokens")
        await highlight(pilot, "tokens-table", "doomed")
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="confirm")
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDialog), message="cancelled")
        await settled(pilot)
        assert row_of(app, "tokens-table", "doomed") is not None
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="confirm again")
        await pilot.press("y")
        await wait_until(pilot, lambda: row_of(app, "tokens-table", "doomed") is None, message="revoked")
    client = SiteSecretsClient(admin.url, doomed)
    try:
        with pytest.raises(ApiError):
            client.whoami()
    finally:
        client.close()


# ------------------------------------------------------------ untrusted text


@pytest.mark.parametrize("name", ["[red]x", "[/foo]", "[@click=quit]q"])
async def test_a_token_name_with_markup_shows_literally(started, admin, site, name):
    admin.create_token(TokenCreate(name=name, role=Role.viewer, site=site))
    async with started() as (app, pilot):
        await open_tab(pilot, "6", "tokens")
        await highlight(pilot, "tokens-table", name)
        assert name in screen_text(app).split("────")[-1]  # the detail line, whole
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="confirm")
        assert f"Revoke the token {name} (viewer" in screen_text(app)
        await pilot.press("n")


async def test_a_new_sites_token_name_with_markup_shows_literally(started, admin):
    name = fresh("mark")
    async with started() as (app, pilot):
        await open_tab(pilot, "5", "sites")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NewSiteDialog), message="new site dialog")
        app.screen.query_one("#token-name", Input).value = "[red]x[/foo]"
        await pilot.press(*name, "ctrl+s")
        await wait_until(pilot, lambda: "shown this once" in screen_text(app), message="token shown")
        assert "Token [red]x[/foo] (admin" in screen_text(app)


async def test_a_site_name_with_markup_from_a_foreign_server_shows_literally(make_app, admin, site):
    # Our server refuses such names; a compromised or foreign one might send them.
    from shared.models import Site

    real = admin.get_site(site)
    foreign = Site.model_construct(**{**dict(real), "name": "[red]x[/foo]"})
    app = make_app()
    app.client.list_sites = lambda: [foreign]
    async with running(app) as (app, pilot):
        await open_tab(pilot, "5", "sites")
        await wait_until(pilot, lambda: "[red]x[/foo]  enter opens it in the other tabs" in screen_text(app),
                         message="name literal in the detail")
        assert row_of(app, "sites-table", "[red]x[/foo]") is not None
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DeleteSiteDialog), message="delete dialog")
        assert "This deletes site [red]x[/foo] and everything" in screen_text(app)
        await pilot.press("escape")
        await settled(pilot)
        assert app.is_running and app.return_code is None


async def test_site_and_service_names_from_a_foreign_server_are_spelled_out_in_the_token_form(make_app, admin, site):
    from shared.models import Service, Site
    from tui_helpers import terminal_bytes

    hostile = "evil\x1b]52;c;SGFja2Vk\x07\u202e"  # a clipboard write and a bidi override
    real = admin.get_site(site)
    app = make_app()
    app.client.list_sites = lambda: [Site.model_construct(**{**dict(real), "name": hostile})]
    app.client.list_services = lambda _site: type("L", (), {"items": [Service.model_construct(name=hostile + "svc")]})()
    async with running(app) as (app, pilot):
        await open_tab(pilot, "6", "tokens")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, TokenFormDialog), message="token form")
        form = app.screen
        spelled = "evil\\x1b]52;c;SGFja2Vk\\x07\\u202e"
        form.query_one("#site").focus()
        await pilot.press("enter")  # the list of sites
        await wait_until(pilot, lambda: spelled in screen_text(app), message="the site's name, spelled out")
        await pilot.press("escape")
        form.query_one("#role").value = Role.service.value
        form.query_one("#site").value = hostile
        await wait_until(pilot, lambda: not form.query_one("#service").disabled, message="services loaded")
        form.query_one("#service").value = hostile + "svc"
        await wait_until(pilot, lambda: spelled + "svc" in screen_text(app), message="the service's name, spelled out")
        sent = terminal_bytes(app)
        assert "\x1b]52" not in sent and "\u202e" not in sent


async def test_a_site_bound_admin_creates_tokens_for_its_own_site(started, admin, site):
    async with started(token=bound_token(admin, Role.admin, site)) as (app, pilot):
        await open_tab(pilot, "6", "tokens")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, TokenFormDialog), message="token form")
        assert app.screen.query_one("#site").disabled
        await pilot.press(*"site-helper", "ctrl+s")
        await wait_until(pilot, lambda: "shown this once" in screen_text(app), message="token shown")
        await pilot.press("escape")
        await wait_until(pilot, lambda: row_of(app, "tokens-table", "site-helper") is not None, message="listed")
        assert row_of(app, "tokens-table", "site-helper")[2] == site


async def test_read_only_mode_hides_the_changing_keys_of_both_tabs(started, admin, site):
    async with started(read_only=True) as (app, pilot):
        await open_tab(pilot, "5", "sites")
        await wait_until(pilot, lambda: "Sort" in screen_text(app).splitlines()[-1], message="sites footer")
        footer = screen_text(app).splitlines()[-1]
        assert "New" not in footer and "Limits" not in footer and "Delete" not in footer
        await pilot.press("n", "d")
        await settled(pilot)
        assert not isinstance(app.screen, (NewSiteDialog, DeleteSiteDialog))
        await open_tab(pilot, "6", "tokens")
        await wait_until(pilot, lambda: "Refresh" in screen_text(app).splitlines()[-1], message="tokens footer")
        assert "Revoke" not in screen_text(app).splitlines()[-1]


async def _delete_site_from_the_tab(pilot, name: str) -> None:
    app = pilot.app
    await highlight(pilot, "sites-table", name)
    await pilot.press("d")
    await wait_until(pilot, lambda: isinstance(app.screen, DeleteSiteDialog), message="delete dialog")
    await pilot.press(*name, "enter")
    await wait_until(pilot, lambda: not isinstance(app.screen, DeleteSiteDialog), message="delete sent")


async def test_deleting_a_second_site_before_the_first_is_answered_still_leaves_the_deleted_open_site(
        started, admin, site):
    # The newer delete dropped the first's answer: the other tabs stayed on the site just deleted.
    import threading

    other = fresh("other")
    admin.request("POST", "/v1/sites", None, json={"name": other})
    async with started() as (app, pilot):
        release, delete_site = threading.Event(), app.client.delete_site

        def held(name, **options):
            if name == site:
                release.wait(30)
            return delete_site(name, **options)

        app.client.delete_site = held
        await open_tab(pilot, "5", "sites")
        try:
            await _delete_site_from_the_tab(pilot, site)  # the site open in the other tabs
            await _delete_site_from_the_tab(pilot, other)
            await wait_until(pilot, lambda: row_of(app, "sites-table", other) is None, message="other deleted")
        finally:
            release.set()
        await wait_until(pilot, lambda: app.site not in (site, other), message="a site that exists is open")
        await wait_until(pilot, lambda: row_of(app, "sites-table", site) is None, message="gone from the table")


async def test_revoking_a_token_someone_else_revoked_takes_its_row_away(started, admin, site):
    doomed = admin.create_token(TokenCreate(name="doomed", role=Role.viewer, site=site))
    async with started() as (app, pilot):
        await open_tab(pilot, "6", "tokens")
        await highlight(pilot, "tokens-table", "doomed")
        admin.revoke_token(doomed.id)  # meanwhile, elsewhere
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="confirm")
        await pilot.press("y")
        await wait_until(pilot, lambda: row_of(app, "tokens-table", "doomed") is None, message="row gone")


def test_deleting_a_site_says_what_goes_in_words_and_nothing_of_what_it_does_not_hold():
    from datetime import datetime, timezone

    from shared.models import Site, SiteUsage
    from tui.ui.dialogs.site_delete import what_goes

    empty = Site.model_construct(name="shop", created_at=datetime.now(timezone.utc), secret_count=0,
                                 usage=SiteUsage(secrets=0, value_bytes=0, services=0, tokens=0))
    assert what_goes(empty).plain == ("This deletes site shop and everything in it: no secrets; no services; its "
                                      "apps and types; and no tokens. It cannot be undone.")
    one = empty.model_copy(update={"usage": SiteUsage(secrets=1, value_bytes=7, services=1, tokens=1)})
    assert what_goes(one).plain == ("This deletes site shop and everything in it: 1 secret (7 B), wiped with every "
                                    "kept version and the trash; 1 service; its apps and types; and 1 token, "
                                    "revoked. It cannot be undone.")
