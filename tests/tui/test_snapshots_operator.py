"""SVG snapshots at 80x24 of the operator's tabs (Sites, Tokens) and their dialogs, on the frozen
server and site `shop` of test_snapshots.py. Token ids and tokens are numbered rather than random
here, so a token shown once looks the same on every run.

Update as there: `pytest tests/tui/test_snapshots_operator.py --snapshot-update`, then look at
the changed SVGs before committing them.
"""

from __future__ import annotations

import itertools

import pytest

from shared.models import Role, TokenCreate
from test_snapshots import SITE, _FrozenDatetime, _screen_shows, _tab_shows, admin, shoot, site  # noqa: F401 (fixtures)
from tui.ui.dialogs.confirm import ConfirmDialog
from tui.ui.dialogs.site_delete import DeleteSiteDialog
from tui.ui.dialogs.site_form import NewSiteDialog, SiteLimitsDialog
from tui.ui.dialogs.token_form import TokenFormDialog
from tui.ui.widgets import tokens_pane
from tui_helpers import screen_text, wait_until


@pytest.fixture
def secrets_server(tmp_path, monkeypatch):
    """test_snapshots.py's frozen server, minting numbered token ids and tokens."""
    import server.auth
    import server.context
    from server.embedded import EmbeddedServer

    ids, tokens = itertools.count(1), itertools.count(1)
    monkeypatch.setattr(server.auth, "new_token_id", lambda: f"tok_{next(ids):016x}")
    monkeypatch.setattr(server.auth, "new_token", lambda: f"ss_snapshot-{next(tokens):03d}-" + "x" * 32)
    monkeypatch.setattr(server.context, "datetime", _FrozenDatetime)
    monkeypatch.setattr(tokens_pane, "datetime", _FrozenDatetime)  # the Tokens tab tells expired tokens by its clock
    with EmbeddedServer.start(tmp_path, unix_socket=tmp_path / "api.sock") as running:
        yield running


@pytest.fixture
def tokens(admin, site):  # noqa: F811 (the fixtures imported above)
    """Two more tokens of `shop`: a viewer and the checkout service's."""
    admin.create_token(TokenCreate(name="support-desk", role=Role.viewer, site=SITE))
    admin.create_token(TokenCreate(name="checkout-runner", role=Role.service, site=SITE, service="checkout",
                                   expires_in_days=90))


async def _on_row(pilot, table: str, first: str) -> None:
    app = pilot.app
    shown = app.screen.query_one(f"#{table}")
    names = [str(shown.get_row_at(i)[0]).strip() for i in range(shown.row_count)]
    shown.move_cursor(row=names.index(first))
    await wait_until(pilot, lambda: first in screen_text(app).split("────")[-1], message=f"{first} highlighted")


async def _sites(pilot) -> None:
    await _tab_shows(pilot, "sites", SITE)
    await _on_row(pilot, "sites-table", SITE)


async def _tokens(pilot) -> None:
    await _tab_shows(pilot, "tokens", "checkout-runner")
    await _on_row(pilot, "tokens-table", "checkout-runner")


def test_sites_tab(tokens, shoot):  # noqa: F811
    assert shoot(_sites)


def test_tokens_tab(tokens, shoot):  # noqa: F811
    assert shoot(_tokens)


def test_new_site_dialog(shoot):  # noqa: F811
    async def new(pilot):
        await _sites(pilot)
        await pilot.press("n")
        await _screen_shows(pilot, NewSiteDialog, "first admin token")

    assert shoot(new)


def test_new_site_dialog_showing_its_first_token(shoot):  # noqa: F811
    async def created(pilot):
        await _sites(pilot)
        await pilot.press("n")
        await _screen_shows(pilot, NewSiteDialog, "first admin token")
        await pilot.press(*"customer-42", "ctrl+s")
        await _screen_shows(pilot, NewSiteDialog, "shown this once")

    assert shoot(created)


def test_site_limits_dialog(shoot):  # noqa: F811
    async def limits(pilot):
        await _sites(pilot)
        await pilot.press("e")
        await _screen_shows(pilot, SiteLimitsDialog, "Trash days")

    assert shoot(limits)


def test_delete_site_dialog(tokens, shoot):  # noqa: F811
    async def delete(pilot):
        await _sites(pilot)
        await pilot.press("d")
        await _screen_shows(pilot, DeleteSiteDialog, "cannot be undone")

    assert shoot(delete)


def test_new_token_form(shoot):  # noqa: F811
    async def new(pilot):
        await _tab_shows(pilot, "tokens", "admin")
        await pilot.press("n")
        await _screen_shows(pilot, TokenFormDialog, SITE)

    assert shoot(new)


def test_new_token_form_showing_the_token(shoot):  # noqa: F811
    async def created(pilot):
        await _tab_shows(pilot, "tokens", "admin")
        await pilot.press("n")
        await _screen_shows(pilot, TokenFormDialog, SITE)
        await pilot.press(*"deploy-bot", "ctrl+s")
        await _screen_shows(pilot, TokenFormDialog, "shown this once")

    assert shoot(created)


def test_confirm_revoke_token(tokens, shoot):  # noqa: F811
    async def revoke(pilot):
        await _tokens(pilot)
        await pilot.press("d")
        await _screen_shows(pilot, ConfirmDialog, "checkout-runner")

    assert shoot(revoke)
