"""SVG snapshots of every screen and dialog at 80x24, so a visual regression fails a test.

Each test starts its own embedded server with the clock frozen (every stored time, and so every
time shown, is `FROZEN_NOW`), seeds the same site `shop`, drives the App to one screen and
compares it with tests/tui/__snapshots__/test_snapshots/<test>.svg. Nothing else varies: cursors
don't blink, the reveal countdown reads a fixed clock, the theme is fixed, and the shot is taken
only when no call is running (the header would say "working…").

A change meant to alter what is drawn: `pytest tests/tui/test_snapshots.py --snapshot-update`,
then look at the changed SVGs (the failure report links them) before committing them.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from textual.widgets import Input, Select, TextArea

from datetime import timedelta

from shared.models import AppCreate, SecretCreate, SecretTypeCreate, SecretUpdate, ServiceCreate
from tui import rotation
from tui.client import SiteSecretsClient
from tui.ui.dialogs.apps import AppsDialog
from tui.ui.dialogs.confirm import ConfirmDialog
from tui.ui.dialogs.help import HelpDialog
from tui.ui.dialogs.history import HistoryDialog
from tui.ui.dialogs.message import MessageDialog
from tui.ui.dialogs.secret_form import SecretFormDialog
from tui.ui.dialogs.service_form import ServiceFormDialog
from tui.ui.dialogs.trash import TrashDialog
from tui.ui.dialogs.type_form import TypeFormDialog
from tui.ui.widgets import value_view
from tui_helpers import loaded, screen_text, show_tab, wait_until

FROZEN_NOW = datetime(2026, 1, 15, 9, 30, tzinfo=timezone.utc)
SITE = "shop"
DB_SCHEMA = {
    "type": "object",
    "required": ["host", "password"],
    "properties": {
        "host": {"type": "string"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "password": {"type": "string", "writeOnly": True},
        "tls": {"type": "boolean"},
    },
    "additionalProperties": False,
}


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return FROZEN_NOW if tz is not None else FROZEN_NOW.replace(tzinfo=None)


@pytest.fixture
def secrets_server(tmp_path, monkeypatch):
    """A server of this test's own (so no other test's calls show in its audit log), whose clock
    is frozen at FROZEN_NOW from its first stored row on."""
    import server.context
    from server.embedded import EmbeddedServer

    monkeypatch.setattr(server.context, "datetime", _FrozenDatetime)
    with EmbeddedServer.start(tmp_path, unix_socket=tmp_path / "api.sock") as running:
        yield running


@pytest.fixture
def admin(secrets_server):
    client = SiteSecretsClient(secrets_server.url, secrets_server.admin_token)
    yield client
    client.close()


@pytest.fixture
def site(admin) -> str:
    """The site `shop`: an app, a type, three secrets (one typed), a service bound to two."""
    admin.request("POST", "/v1/sites", None, json={"name": SITE})
    admin.create_app(SITE, AppCreate(name="web", site_secrets=True))
    admin.create_type(SITE, SecretTypeCreate(key="db", name="Database", description="A database login",
                                             schema=DB_SCHEMA))
    admin.create_type(SITE, SecretTypeCreate(key="smtp", name="Mail server", schema={"type": "object"}))
    admin.create_secret(SITE, None, SecretCreate(name="API_KEY", value="sk-live-4242",
                                                  description="Payment provider key"))
    admin.create_secret(SITE, "web", SecretCreate(name="SESSION_SECRET", value="keep-me-safe"))
    admin.create_secret(SITE, None, SecretCreate(name="MAIN_DB", type="db", value=json.dumps(
        {"host": "db.internal", "port": 5432, "password": "pw-9931", "tls": True})))
    admin.create_service(SITE, ServiceCreate(name="checkout", app="web",
                                             secrets=[{"name": "API_KEY"}, {"name": "SESSION_SECRET", "app": "web"}]))
    return SITE


@pytest.fixture
def shoot(make_app, snap_compare, monkeypatch):
    """`shoot(scenario, **settings)`: start an App on `shop`, run `scenario(pilot)` once the
    Secrets tab is loaded, then compare the steady screen with this test's snapshot."""
    # The countdown of a revealed value reads this clock: frozen, it always shows the full time.
    monkeypatch.setattr(value_view, "time", SimpleNamespace(monotonic=lambda: 1000.0))

    def take(scenario=None, **settings) -> bool:
        async def run_before(pilot) -> None:
            pilot.app.theme = "textual-dark"
            await loaded(pilot, rows=3)
            if scenario is not None:
                await scenario(pilot)
            await _steady(pilot)

        return snap_compare(make_app(**settings), terminal_size=(80, 24), run_before=run_before)

    return take


async def _steady(pilot) -> None:
    """No call running, and no cursor that blinks, on any screen."""
    app = pilot.app
    await wait_until(pilot, lambda: app.busy == 0, message="no call running")
    for screen in app.screen_stack:
        for field in screen.query("Input, TextArea"):
            field.cursor_blink = False
    await pilot.pause()


async def _screen_shows(pilot, screen_type, text: str) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, screen_type) and text in screen_text(app),
                     message=f"{screen_type.__name__} showing {text!r}")


async def _tab_shows(pilot, tab: str, text: str) -> None:
    await show_tab(pilot, tab)
    await wait_until(pilot, lambda: text in screen_text(pilot.app), message=f"{tab} tab showing {text!r}")


# ------------------------------------------------------------ the four tabs

def test_secrets_tab_with_the_value_masked(shoot):
    assert shoot()


def test_secrets_tab_with_the_value_revealed(shoot):
    async def reveal(pilot):
        await pilot.press("s")
        await wait_until(pilot, lambda: "sk-live-4242" in screen_text(pilot.app), message="value shown")

    assert shoot(reveal, reveal_seconds=30)


def test_types_tab(shoot):
    assert shoot(lambda pilot: _tab_shows(pilot, "types", "A database login"))


def test_audit_tab(shoot):
    assert shoot(lambda pilot: _tab_shows(pilot, "audit", "service.create"))


def test_services_tab(shoot):
    assert shoot(lambda pilot: _tab_shows(pilot, "services", "checkout"))


def test_help(shoot):
    async def help_(pilot):
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, HelpDialog), message="help")

    assert shoot(help_)


# ------------------------------------------------------------ forms

def test_new_secret_form(shoot):
    async def new(pilot):
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, SecretFormDialog), message="form")

    assert shoot(new)


def test_edit_secret_form(shoot):
    async def edit(pilot):
        await pilot.press("e")
        await _screen_shows(pilot, SecretFormDialog, "API_KEY")

    assert shoot(edit)


def test_typed_secret_form(shoot):
    async def typed(pilot):
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, SecretFormDialog), message="form")
        form = pilot.app.screen
        form.query_one("#name", Input).value = "REPLICA_DB"
        form.query_one("#type", Select).value = "db"
        await wait_until(pilot, lambda: form.query("#schema-form"), message="generated form")

    assert shoot(typed)


def test_new_type_form(shoot):
    async def new(pilot):
        await _tab_shows(pilot, "types", "A database login")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, TypeFormDialog), message="form")
        await wait_until(pilot, lambda: pilot.app.screen.query(TextArea), message="schema editor")

    assert shoot(new)


def test_new_service_form(shoot):
    async def new(pilot):
        await _tab_shows(pilot, "services", "checkout")
        await pilot.press("n")
        await _screen_shows(pilot, ServiceFormDialog, "API_KEY")

    assert shoot(new)


def test_apps_dialog(shoot):
    async def apps(pilot):
        await _tab_shows(pilot, "services", "checkout")
        await pilot.press("a")
        await _screen_shows(pilot, AppsDialog, "web")

    assert shoot(apps)


# ------------------------------------------------------------ confirmations and refusals

def test_confirm_delete_secret(shoot):
    async def delete(pilot):
        await pilot.press("down", "d")
        await _screen_shows(pilot, ConfirmDialog, "MAIN_DB")

    assert shoot(delete)


def test_secret_in_use_refusal(shoot):
    async def refused(pilot):
        await pilot.press("d")
        await _screen_shows(pilot, ConfirmDialog, "API_KEY")
        await pilot.press("y")
        await _screen_shows(pilot, MessageDialog, "checkout")

    assert shoot(refused)


def test_confirm_delete_type(shoot):
    async def delete(pilot):
        await _tab_shows(pilot, "types", "A database login")
        await pilot.press("d")
        await _screen_shows(pilot, ConfirmDialog, "db")

    assert shoot(delete)


def test_confirm_delete_service(shoot):
    async def delete(pilot):
        await _tab_shows(pilot, "services", "checkout")
        await pilot.press("d")
        await _screen_shows(pilot, ConfirmDialog, "checkout")

    assert shoot(delete)


# ------------------------------------------------------------ the time dimension: history, trash, rotation

def _two_more_versions(admin) -> None:
    """API_KEY v2 with a new value, v3 with the first one back (so v3 is "same as v1")."""
    admin.update_secret(SITE, None, "API_KEY", SecretUpdate(value="sk-live-5000"))
    admin.update_secret(SITE, None, "API_KEY", SecretUpdate(value="sk-live-4242"))


async def _history(pilot) -> None:
    await pilot.press("h")
    await _screen_shows(pilot, HistoryDialog, "same as v1")


def test_history_dialog(shoot, admin, site):
    _two_more_versions(admin)
    assert shoot(_history)


def test_history_dialog_with_an_old_value_revealed(shoot, admin, site):
    _two_more_versions(admin)

    async def reveal(pilot):
        await _history(pilot)
        await pilot.press("down", "s")
        await wait_until(pilot, lambda: "sk-live-5000" in screen_text(pilot.app), message="v2 shown")

    assert shoot(reveal, reveal_seconds=30)


def test_rollback_confirm(shoot, admin, site):
    _two_more_versions(admin)

    async def rollback(pilot):
        await _history(pilot)
        await pilot.press("down", "r")
        await _screen_shows(pilot, ConfirmDialog, "back to version 2")

    assert shoot(rollback)


def test_trash_dialog(shoot, admin, site):
    admin.create_secret(SITE, "web", SecretCreate(name="OLD_TOKEN", value="gone"))
    admin.delete_secret(SITE, "web", "OLD_TOKEN")

    async def trash(pilot):
        await pilot.press("T")
        await _screen_shows(pilot, TrashDialog, "OLD_TOKEN")

    assert shoot(trash)


def test_secrets_tab_with_due_markers(shoot, admin, site, monkeypatch):
    admin.update_secret(SITE, None, "API_KEY", SecretUpdate(rotate_every_days=30))
    admin.update_secret(SITE, "web", "SESSION_SECRET", SecretUpdate(rotate_every_days=7))
    later = FROZEN_NOW + timedelta(days=10)  # SESSION_SECRET three days late, API_KEY due in 20 days
    monkeypatch.setattr(rotation, "now", lambda: later)
    assert shoot(lambda pilot: _screen_shows(pilot, type(pilot.app.screen), "OVERDUE"))


def test_typed_edit_form_keeps_blank_fields(shoot):
    async def edit(pilot):
        await pilot.press("down", "e")
        await _screen_shows(pilot, SecretFormDialog, "blank fields keep their current value")

    assert shoot(edit)
