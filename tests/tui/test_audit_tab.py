"""Issue 15, part 3 item 4: the Audit tab at 80x24, as the walkthrough used it.

The target reads whole, the action filter is a choice of the known actions, a target matches by
part, an empty filtered table says why, `enter` opens one event's every field, and `a` on the
Secrets tab shows the audit of exactly that secret."""

from __future__ import annotations

from textual.widgets import Input, Select

from shared.models import Role, SecretCreate
from tui.client import SiteSecretsClient
from tui.ui.dialogs.help import HelpDialog
from tui.ui.dialogs.message import MessageDialog
from tui.ui.messages import ShowAudit
from tui.ui.widgets.audit_pane import action_choices
from denialwrites import write_repeated_denial
from tui_helpers import make_token, screen_text, settled, show_tab, wait_until


def _rows(app) -> list[list[str]]:
    table = app.screen.query_one("#audit-table")
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def _audit(pilot, rows: int):
    await show_tab(pilot, "audit")
    app = pilot.app
    await wait_until(pilot, lambda: app.screen.query("#audit-table") and len(_rows(app)) >= rows,
                     message=f"{rows} audit rows")
    return app.screen.query_one("#audit-pane")


async def _filter_target(pilot, text: str) -> None:
    box = pilot.app.screen.query_one("#audit-target", Input)
    box.focus()
    box.value = text
    await pilot.press("enter")


async def test_audit_target_is_readable_at_80_columns(started, admin, site):
    token = make_token(admin, Role.admin, name="walkthrough-operator-account")
    other = SiteSecretsClient(admin.url, token)
    other.create_secret(site, None, SecretCreate(name="MAIN_DATABASE_PASSWORD", value="v"))
    other.close()
    async with started() as (app, pilot):
        await _audit(pilot, 1)
        lines = screen_text(app).splitlines()
        row = next(line for line in lines if "secret.create" in line)
        assert "site/MAIN_DATABASE_PASSWORD" in row and "walkthrou…" in row
        # The highlighted event's whole target, under the table.
        assert any("secret:site/MAIN_DATABASE_PASSWORD" in line for line in lines)


async def test_a_long_target_leaves_the_hint_under_the_table_in_view(started, admin, site):
    """A 200-character secret name filled the line under the table and pushed `enter`'s hint off."""
    admin.create_secret(site, None, SecretCreate(name="LONG_" + "X" * 200, value="v"))
    async with started() as (app, pilot):
        await _audit(pilot, 1)
        status = app.screen.query_one("#audit-status")
        line = str(status.render())  # what it draws, before anything (a toast) is drawn over it
        assert "secret:site/LONG_XXX" in line and line.endswith("enter: every field")
        assert len(line) <= status.content_size.width  # so nothing of it is cut


async def test_a_wide_character_actor_leaves_the_hint_in_view(started, admin, site):
    """Cut by characters, a CJK actor (two cells a character) overflowed the line under the table."""
    token = make_token(admin, Role.admin, name="運用チーム管理者アカウント" * 4)
    other = SiteSecretsClient(admin.url, token)
    other.create_secret(site, None, SecretCreate(name="LONG_" + "X" * 100, value="v"))
    other.close()
    async with started() as (app, pilot):
        await _audit(pilot, 1)
        status = app.screen.query_one("#audit-status")
        line = status.render()
        assert str(line).startswith("secret:site/LONG_XXX") and str(line).endswith("enter: every field")
        assert " by 運用チーム" in str(line)
        assert line.cell_length <= status.content_size.width


async def test_a_wide_character_actor_is_cut_to_its_column_in_cells(started, admin, site):
    token = make_token(admin, Role.admin, name="運用チーム管理者アカウント")
    other = SiteSecretsClient(admin.url, token)
    other.create_secret(site, None, SecretCreate(name="KEY", value="v"))
    other.close()
    async with started() as (app, pilot):
        await _audit(pilot, 1)
        [actor] = [row[3] for row in _rows(app) if row[2] == "secret.create"]
        assert actor == "運用チー…"  # ten cells, as an ASCII actor gets


async def test_action_filter_is_a_choice_of_the_known_actions(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="ONE", value="v"))
    admin.reveal(site, None, "ONE")
    assert ("secret.reveal" in [value for _, value in action_choices()]
            and "secret.*" in [value for _, value in action_choices()])
    async with started() as (app, pilot):
        pane = await _audit(pilot, 2)
        pane.query_one("#audit-action", Select).value = "secret.reveal"
        await wait_until(pilot, lambda: [row[2] for row in _rows(app)] == ["secret.reveal"], message="reveals only")
        pane.query_one("#audit-action", Select).value = "secret.*"
        await wait_until(pilot, lambda: [row[2] for row in _rows(app)] == ["secret.reveal", "secret.create"],
                         message="every secret action")


async def test_target_matches_by_part(started, admin, site):
    for name in ("MAIN_DB", "MAIN_DB_REPLICA", "CACHE_URL"):
        admin.create_secret(site, None, SecretCreate(name=name, value="v"))
    async with started() as (app, pilot):
        await _audit(pilot, 3)
        await _filter_target(pilot, "main_db")
        await wait_until(pilot, lambda: sorted(row[4] for row in _rows(app)) == ["site/MAIN_DB", "site/MAIN_DB_REPLICA"],
                         message="part, any case")
        await _filter_target(pilot, "secret:site/CA")
        await wait_until(pilot, lambda: [row[4] for row in _rows(app)] == ["site/CACHE_URL"], message="a target's start")


async def test_empty_filtered_table_says_why(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="ONE", value="v"))
    async with started() as (app, pilot):
        pane = await _audit(pilot, 1)
        pane.query_one("#audit-action", Select).value = "secret.reveal"
        await wait_until(pilot, lambda: "No events with action secret.reveal." in screen_text(app),
                         message="why it is empty")
        await _filter_target(pilot, "[red]x[/foo]")
        await wait_until(pilot, lambda: "No events with action secret.reveal, a target containing '[red]x[/foo]'"
                         in screen_text(app), message="why, with the typed text literally")


async def test_enter_opens_one_events_every_field(started, admin, site):
    token = make_token(admin, Role.admin, name="[red]eve[/foo]")
    other = SiteSecretsClient(admin.url, token)
    other.create_secret(site, "web" if False else None, SecretCreate(name="ONE", value="v"))
    other.close()
    async with started() as (app, pilot):
        await _audit(pilot, 1)
        app.screen.query_one("#audit-table").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog), message="event details")
        text = screen_text(app)
        for expected in ("secret.create", "secret:site/ONE", "[red]eve[/foo]", "details", '"version": 1'):
            assert expected in text, expected
        assert "v\"" not in text  # never a value
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, MessageDialog), message="closed")


async def test_a_denial_repeated_within_its_window_shows_how_many_attempts_it_stands_for(started, secrets_server, site):
    """The server writes a denial's repeats as one event with `details.repeated` (docs/API.md,
    "Repeated denials"): the action says how many attempts that one row stands for."""
    write_repeated_denial(secrets_server.state.store, site, "[red]viewer", repeats=1234)
    async with started() as (app, pilot):
        await _audit(pilot, 2)
        assert [row[2:4] for row in _rows(app)][:2] == [["secret.reveal ×1,234", "[red]view…"], ["secret.reveal", "[red]view…"]]


async def test_audit_of_this_secret_from_the_secrets_tab(started, admin, site):
    for name in ("MAIN_DB", "MAIN_DB_REPLICA"):
        admin.create_secret(site, None, SecretCreate(name=name, value="v"))
    admin.reveal(site, None, "MAIN_DB")
    async with started(rows=2) as (app, pilot):
        await pilot.press("a")  # on MAIN_DB, the first row
        await wait_until(pilot, lambda: app.screen.query_one("#tabs").active == "audit", message="audit tab")
        await wait_until(pilot, lambda: [row[2] for row in _rows(app)] == ["secret.reveal", "secret.create"]
                         and {row[4] for row in _rows(app)} == {"site/MAIN_DB"}, message="exactly that secret")
        assert app.screen.query_one("#audit-target", Input).value == "secret:site/MAIN_DB"


async def test_a_tab_being_left_gives_up_the_focus_at_once_so_it_never_comes_back(started, admin, site):
    # Textual hands the focus of a widget being hidden to a focusable sibling (the detail pane, the
    # filter box), and focus inside a tab shows that tab again: under load the Secrets tab came back
    # in place of the Audit tab, or flickered, as the new tab's table took the focus a moment later.
    admin.create_secret(site, None, SecretCreate(name="MAIN_DB", value="v"))
    async with started(rows=1) as (app, pilot):
        screen, shown = app.screen, []
        secrets_tab = screen.query_one("#secrets")
        screen.watch(screen.query_one("#tabs"), "active", lambda tab: shown.append(tab), init=False)
        screen.action_show_tab("audit")  # what 3 does, up to the moment the Secrets tab is hidden
        assert app.focused is None or secrets_tab not in app.focused.ancestors
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "audit-table", message="audit table")
        await settled(pilot)
        assert shown == ["audit"]
        await pilot.press("1")
        await wait_until(pilot, lambda: app.focused is screen.query_one("#secrets-table"), message="back on Secrets")
        shown.clear()
        screen.post_message(ShowAudit("secret:site/MAIN_DB"))  # what a on a secret does
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "audit-table", message="its audit")
        await settled(pilot)
        assert shown == ["audit"]


async def test_escape_leaves_an_audit_filter_and_keys_typed_there_stay_in_it(started, admin, site):
    async with started() as (app, pilot):
        pane = await _audit(pilot, 0)
        box = pane.query_one("#audit-target", Input)
        box.focus()
        await pilot.press("?", "x")
        await settled(pilot)
        assert box.value == "?x" and not isinstance(app.screen, MessageDialog)
        await pilot.press("escape")
        await wait_until(pilot, lambda: pane.query_one("#audit-table").has_focus, message="back on the table")
        await pilot.press("?")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpDialog), message="help from the table")


async def test_part_search_says_how_far_it_looked_and_m_looks_further(started, admin, site, monkeypatch):
    from tui import auditview

    monkeypatch.setattr(auditview, "SCAN_PAGE", 2)
    monkeypatch.setattr(auditview, "SCAN_LIMIT", 2)
    for name in ("OLDEST", "B", "C", "D"):
        admin.create_secret(site, None, SecretCreate(name=name, value="v"))
    async with started() as (app, pilot):
        await _audit(pilot, 4)
        await _filter_target(pilot, "oldest")
        await wait_until(pilot, lambda: "No events with a target containing 'oldest' in the newest 2 (m: older)."
                         in screen_text(app), message="how far it looked")
        await pilot.press("m")
        await wait_until(pilot, lambda: [row[4] for row in _rows(app)] == ["site/OLDEST"], message="found further back")


def test_a_target_filter_is_exact_only_for_the_target_the_tui_filled_in():
    from tui.auditview import TargetQuery, target_query

    assert target_query("secret:site/A", exact="secret:site/A") == TargetQuery(server="secret:site/A")
    assert target_query("secret:site/A") == TargetQuery(server="secret:site/A*")
    assert target_query("secret:app/web/*") == TargetQuery(server="secret:app/web/*")
    assert target_query(" Main ") == TargetQuery(part="main")
    assert target_query("") == TargetQuery()


async def test_older_events_still_coming_when_the_filter_changes_stay_out_of_the_new_list(started, admin, site, monkeypatch):
    import threading

    from tui.ui.widgets.audit_pane import AuditPane

    for number in range(6):
        admin.create_secret(site, None, SecretCreate(name=f"S{number}", value="v"))
    monkeypatch.setattr(AuditPane, "PAGE_SIZE", 3)
    async with started() as (app, pilot):
        real, asked, release = app.client.audit, [], threading.Event()

        def slow_older_pages(site_, **query):  # a slow link: the next older page takes its time
            if query.get("before"):
                asked.append(query)
                release.wait(30)
            return real(site_, **query)

        app.client.audit = slow_older_pages
        pane = await _audit(pilot, 3)
        await wait_until(pilot, lambda: asked, message="older events asked for (the table's end is in view)")
        pane.query_one("#audit-action", Select).value = "site.create"
        await wait_until(pilot, lambda: [row[2] for row in _rows(app)] == ["site.create"], message="filtered")
        release.set()
        await wait_until(pilot, lambda: not pane.calls_running(), message="the older page came")
        await settled(pilot)
        assert [row[2] for row in _rows(app)] == ["site.create"]


async def test_a_filter_the_server_could_not_answer_shows_no_rows_of_the_last_one(started, admin, site):
    # The rows of the filter before stayed under the new one typed in the boxes, as if they matched.
    from tui.client import ServerUnreachable

    admin.create_secret(site, None, SecretCreate(name="ONE", value="v"))
    async with started() as (app, pilot):
        await _audit(pilot, 2)
        fetch = app.client.audit

        def lost(*args, **kwargs):
            raise ServerUnreachable(app.client.url, "connection refused")

        app.client.audit = lost
        app.client.health = lost  # no reconnect meanwhile
        await _filter_target(pilot, "ONE")
        await wait_until(pilot, lambda: "server cannot be reached" in screen_text(app), message="says why")
        assert _rows(app) == []
        app.client.audit = fetch
        await pilot.press("r")
        await wait_until(pilot, lambda: len(_rows(app)) == 1 and "secret:site/ONE" in screen_text(app),
                         message="the filter's rows")


# ------------------------------------------------------------ the operator's whole log


def _columns(app) -> list[str]:
    table = app.screen.query_one("#audit-table")
    return [column.label.plain for column in table.columns.values()]


async def test_the_operator_switches_to_the_whole_servers_log_and_back(started, admin, site):
    """Who deleted a site with its contents is only in the operator's log (`GET /v1/audit`)."""
    gone = f"{site}-gone"
    admin.request("POST", "/v1/sites", None, json={"name": gone})
    admin.create_secret(gone, None, SecretCreate(name="KEPT", value="v"))
    deleter = SiteSecretsClient(admin.url, make_token(admin, Role.admin, name="[b]op[/b]"))
    deleter.delete_site(gone, cascade=True)
    deleter.close()
    admin.create_secret(site, None, SecretCreate(name="HERE", value="v"))
    async with started() as (app, pilot):
        await _audit(pilot, 1)
        assert "a All sites" in screen_text(app)  # the footer offers it to the operator
        assert "site" not in _columns(app) and not any(row[2] == "site.delete" for row in _rows(app))
        await pilot.press("a")
        await wait_until(pilot, lambda: any(row[2] == "site.delete" and row[4] == gone for row in _rows(app)),
                         message="the site's deletion, with its site")
        assert _columns(app) == ["at", "outcome", "action", "actor", "site", "target"]
        assert [row[3] for row in _rows(app) if row[2] == "site.delete"] == ["[b]op[/b]"]  # who, literally
        assert "Whole server's log" in screen_text(app)
        assert "a This site" in screen_text(app) and "v Verify" not in screen_text(app)
        assert any(row[4] == site and row[5] == "site/HERE" for row in _rows(app))  # every site's events
        await pilot.press("a")
        await wait_until(pilot, lambda: "site" not in _columns(app) and _rows(app)
                         and not any(row[2] == "site.delete" for row in _rows(app)), message="the site's log again")
        assert "Whole server's log" not in screen_text(app)
        assert "a All sites" in screen_text(app)


async def test_filters_apply_to_the_whole_log(started, admin, site):
    gone = f"{site}-gone"
    admin.request("POST", "/v1/sites", None, json={"name": gone})
    admin.delete_site(gone, cascade=True)
    admin.create_secret(site, None, SecretCreate(name="HERE", value="v"))
    async with started() as (app, pilot):
        pane = await _audit(pilot, 1)
        await pilot.press("a")
        await wait_until(pilot, lambda: "site" in _columns(app) and _rows(app), message="whole log")
        pane.query_one("#audit-action", Select).value = "site.delete"
        await wait_until(pilot, lambda: _rows(app) and {row[2] for row in _rows(app)} == {"site.delete"},
                         message="deletions only")
        await _filter_target(pilot, f"site:{gone}")
        await wait_until(pilot, lambda: [row[4] for row in _rows(app)] == [gone], message="that site's deletion")


async def test_the_audit_of_a_secret_shows_the_open_sites_log(started, admin, site):
    """`a` on the Secrets tab asks the site's log, even when the whole log was shown last."""
    admin.create_secret(site, None, SecretCreate(name="ONE", value="v"))
    async with started(rows=1) as (app, pilot):
        await _audit(pilot, 1)
        await pilot.press("a")
        await wait_until(pilot, lambda: "site" in _columns(app), message="whole log")
        app.screen.post_message(ShowAudit("secret:site/ONE"))
        await wait_until(pilot, lambda: "site" not in _columns(app) and [row[4] for row in _rows(app)] == ["site/ONE"],
                         message="the secret's events in the site's log")


async def test_a_site_bound_admin_is_never_offered_the_whole_log(started, admin, site):
    from shared.models import TokenCreate

    bound = admin.create_token(TokenCreate(name="bound-admin", role=Role.admin, site=site)).token
    admin.create_secret(site, None, SecretCreate(name="ONE", value="v"))
    async with started(bound) as (app, pilot):
        await _audit(pilot, 1)
        assert "All sites" not in screen_text(app)
        await pilot.press("a")
        await settled(pilot)
        assert "site" not in _columns(app) and "Whole server's log" not in screen_text(app)
        assert not any("All sites" in title for title, _, _ in app.screen.query_one("#audit-pane").palette_commands())


async def test_older_events_of_the_whole_log_page_in_from_the_whole_log(started, admin, site, monkeypatch):
    from tui.ui.widgets.audit_pane import AuditPane

    for number in range(6):
        admin.create_secret(site, None, SecretCreate(name=f"S{number}", value="v"))
    monkeypatch.setattr(AuditPane, "PAGE_SIZE", 3)
    async with started() as (app, pilot):
        real, sites_asked = app.client.audit, []

        def recorded(site_, **query):
            sites_asked.append((site_, bool(query.get("before"))))
            return real(site_, **query)

        app.client.audit = recorded
        await _audit(pilot, 3)
        await pilot.press("a")
        pane = app.screen.query_one("#audit-pane")
        await wait_until(pilot, lambda: "site" in _columns(app) and len(_rows(app)) >= 3, message="whole log")

        def oldest_shown() -> bool:  # the first event the server ever wrote: the default site's creation
            return any(row[2] == "site.create" and row[4] == "default" for row in _rows(app))

        for _ in range(100):  # `end` brings the table's end into view, which asks for older events
            if oldest_shown():
                break
            shown = len(_rows(app))
            await pilot.press("end")
            await wait_until(pilot, lambda: len(_rows(app)) > shown or not pane._next, message="an older page")
        assert oldest_shown()
        ids = list(pane._rows)
        assert len(ids) == len(set(ids)) > 3
        assert (None, True) in sites_asked  # older pages asked of the whole log, not the site's
        assert not [asked for asked in sites_asked[sites_asked.index((None, False)):] if asked[0] is not None]
