"""What each role may do: read-only mode and viewer tokens hide changes; only admins see Audit."""

from __future__ import annotations

from shared.models import Role, SecretCreate
from tui.ui.dialogs.secret_form import SecretFormDialog
from tui_helpers import make_token, running, screen_text, settled, wait_until


def _footer(app) -> str:
    return screen_text(app).splitlines()[-1]


def _footer_keys(app) -> set[str]:
    return {word for word in ("New", "Edit", "Delete", "Show/hide", "Copy", "Refresh") if word in _footer(app)}


async def test_read_only_mode_hides_every_changing_key(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="KEEP", value="v"))
    async with started(read_only=True, rows=1) as (app, pilot):
        await wait_until(pilot, lambda: _footer_keys(app) == {"Show/hide", "Copy", "Refresh"}, message="footer")
        assert "read-only" in screen_text(app).splitlines()[0]
        await pilot.press("n", "e", "d")
        await settled(pilot)
        assert not isinstance(app.screen, SecretFormDialog)
        assert app.screen.query_one("#secrets-table").row_count == 1
        await pilot.press("2")
        await wait_until(pilot, lambda: app.screen.query("#types-pane") and "Refresh" in _footer(app),
                         message="types tab and its footer")
        assert "New" not in _footer(app) and "Delete" not in _footer(app)
    assert [secret.name for secret in admin.list_secrets(site)] == ["KEEP"]


async def test_viewer_token_cannot_reveal_or_change(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="HIDDEN", value="viewer-must-not-see"))
    async with started(token=make_token(admin, Role.viewer), rows=1) as (app, pilot):
        await wait_until(pilot, lambda: _footer_keys(app) == {"Refresh"}, message="footer")
        await pilot.press("s", "c", "n")
        await settled(pilot)
        assert "viewer-must-not-see" not in screen_text(app)
        assert not isinstance(app.screen, SecretFormDialog)
        assert "Audit" not in screen_text(app).splitlines()[1]
    assert admin.audit(site, action="secret.reveal").items == []


async def test_admin_sees_audit_tab_newest_first_and_filters(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="ONE", value="v"))
    admin.create_secret(site, None, SecretCreate(name="TWO", value="v"))
    admin.reveal(site, None, "ONE")
    async with started() as (app, pilot):
        await pilot.press("3")
        await wait_until(pilot, lambda: app.screen.query("#audit-table") and
                         app.screen.query_one("#audit-table").row_count >= 3, message="audit rows")
        table = app.screen.query_one("#audit-table")
        assert [str(table.get_row_at(i)[2]) for i in range(3)] == ["secret.reveal", "secret.create", "secret.create"]
        app.screen.query_one("#audit-action").value = "secret.reveal"
        await wait_until(pilot, lambda: table.row_count == 1, message="filtered")
        assert str(table.get_row_at(0)[4]) == "site/ONE"  # the action names the kind: secret


async def test_audit_loads_more_when_scrolled_to_the_end(make_app, admin, site):
    for number in range(12):
        admin.create_secret(site, None, SecretCreate(name=f"S{number}", value="v"))
    expected = len(admin.audit(site, limit=100).items)
    app = make_app()
    app_pane_size = 5
    async with running(app) as (app, pilot):
        from tui.ui.widgets.audit_pane import AuditPane

        AuditPane.PAGE_SIZE = app_pane_size
        try:
            await pilot.press("3")
            await wait_until(pilot, lambda: app.screen.query("#audit-table") and
                             app.screen.query_one("#audit-table").row_count >= 5, message="first page")
            table = app.screen.query_one("#audit-table")
            while table.row_count < expected:
                shown = table.row_count
                await pilot.press("ctrl+end")  # the cursor to the last row loaded: the next page comes
                await wait_until(pilot, lambda: table.row_count > shown, message=f"a page after {shown} rows")
            assert table.row_count == expected
        finally:
            AuditPane.PAGE_SIZE = 50
