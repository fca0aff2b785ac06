"""Markup in every displayed field shows literally, runs no action and crashes nothing: the
command palette, notifications, edit forms, and the secret detail's services (the Services tab
has its own case in test_services.py; the tables, values, types and audit in
test_filter_and_untrusted_text.py)."""

from __future__ import annotations

from datetime import datetime, timezone

from textual.command import CommandPalette

from shared.models import LoadedVersion, Secret, SecretCreate, SecretRef, SecretTypeCreate, Service
from tui.ui.dialogs.secret_form import SecretFormDialog
from tui.ui.dialogs.type_form import TypeFormDialog
from tui_helpers import running, screen_text, settled, wait_until

MARKUP = "[@click=app.quit]q[/] [link=https://x]y[/link] x[/bold]"


async def test_markup_in_names_from_a_foreign_server_is_literal_in_palette_and_detail(make_app, site):
    # Our server refuses such names; a compromised or foreign one might send them.
    now = datetime.now(timezone.utc)
    secret = Secret.model_construct(name=MARKUP, app=None, type=None, description="", version=2, created_at=now,
                                    updated_at=now, created_by="a", updated_by="a", used_by=[MARKUP],
                                    last_used_at=None)
    service = Service.model_construct(name=MARKUP, app=None, secrets=[SecretRef.model_construct(name=MARKUP, app=None)],
                                      loaded_at=now, restart_required=True, stale=[],
                                      loaded_versions=[LoadedVersion.model_construct(name=MARKUP, app=None, version=1)])
    app = make_app()
    app.client.list_secrets = lambda _site: [secret]
    app.client.list_services = lambda _site: type("L", (), {"items": [service]})()
    async with running(app, rows=1, size=(120, 30)) as (app, pilot):
        await wait_until(pilot, lambda: f"{MARKUP}: loaded v1 · current v2  restart needed" in screen_text(app),
                         message="service in the detail, literally")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), message="palette")
        await pilot.press(*"Go to secret")
        await wait_until(pilot, lambda: f"Go to secret {MARKUP} (site)" in screen_text(app), message="literal hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, CommandPalette), message="palette closed")
        assert app.is_running and app.return_code is None


async def test_markup_in_a_short_error_notification_is_literal(started):
    async with started(notifications=True) as (app, pilot):
        app.call_later(app.show_error, MARKUP, "[red]code")
        # A toast wraps its text: each piece shows literally on its line.
        await wait_until(pilot, lambda: "[@click=app.quit]q[/]" in screen_text(app), message="literal toast")
        assert "[link=https://x]y[/link]" in screen_text(app) and "x[/bold]" in screen_text(app)
        assert "[red]code" in screen_text(app)
        await settled(pilot)
        assert app.is_running and app.return_code is None


async def test_markup_in_edit_forms_is_literal(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="S", value="v", description=MARKUP))
    admin.create_type(site, SecretTypeCreate(key="k", name=MARKUP, schema={"type": "object"}, description=MARKUP))
    async with started(rows=1, size=(120, 30)) as (app, pilot):
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog), message="secret form")
        await wait_until(pilot, lambda: MARKUP in screen_text(app), message="description literal")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="form closed")
        await pilot.press("2")
        await wait_until(pilot, lambda: app.screen.query("#types-pane") and app.screen.query_one("#types-pane").types,
                         message="types")
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, TypeFormDialog), message="type form")
        await wait_until(pilot, lambda: screen_text(app).count(MARKUP) >= 2, message="name and description literal")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, TypeFormDialog), message="form closed")
        assert app.is_running and app.return_code is None
