"""A creation refused because the site is full (409 `limit_exceeded`) says which limit, and how
to raise it: the operator where in the TUI, anyone else that only the hosting operator can."""

from __future__ import annotations

from textual.widgets import Input

from shared.models import LimitsUpdate, Role, SecretCreate, SiteUpdate, TokenCreate
from tui.ui.dialogs.apps import AppsDialog
from tui.ui.dialogs.secret_form import SecretFormDialog
from tui.ui.widgets.field import Field
from tui.ui.widgets.field_error import FieldError
from tui_helpers import screen_text, show_tab, wait_until


def full(admin, site: str, **limits: int) -> None:
    admin.update_site(site, SiteUpdate(limits=LimitsUpdate(**limits)))


async def test_the_operator_is_told_where_to_raise_a_full_sites_secret_limit(started, admin, site):
    full(admin, site, max_secrets=1)
    admin.create_secret(site, None, SecretCreate(name="ONE", value="v"))
    async with started(rows=1) as (app, pilot):
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog), message="form")
        app.screen.query_one("#name", Input).value = "TWO"
        app.screen.query_one("#value").text = "v"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "Not saved" in screen_text(app), message="refused")
        said = app.screen.query_one("#form-error", FieldError).message
        assert said == f"Not saved: site {site!r} already holds its limit of secrets: 1. Raise Max secrets in the Sites tab (5, then e)."
    assert [s.name for s in admin.list_secrets(site)] == ["ONE"]


async def test_a_site_admin_is_told_only_the_hosting_operator_raises_the_app_limit(started, admin, site):
    full(admin, site, max_apps=1)
    admin.request("POST", f"/v1/sites/{site}/apps", None, json={"name": "web"})
    token = admin.create_token(TokenCreate(name="site-admin", role=Role.admin, site=site)).token
    async with started(token=token) as (app, pilot):
        await show_tab(pilot, "services")
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AppsDialog) and app.screen.focused is not None,
                         message="apps dialog")
        app.screen.query_one("#app-name", Input).value = "api"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "limit of apps: 1" in app.screen.query_one(Field).error, message="said in the dialog")
        assert "Only the hosting operator can raise max_apps (max apps)" in app.screen.query_one(Field).error
