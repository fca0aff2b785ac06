"""Typed secrets: the form generated from a type's schema, the raw JSON editor, and server
validation errors placed beside the field their JSON Pointer names."""

from __future__ import annotations

import json

import pytest

from textual.widgets import Checkbox, Input, Select

from shared.models import SecretTypeCreate
from tui.ui.dialogs.secret_form import SecretFormDialog
from tui_helpers import screen_text, wait_until

DB_SCHEMA = {
    "type": "object",
    "required": ["host", "password"],
    "properties": {
        "host": {"type": "string"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "password": {"type": "string", "writeOnly": True},
        "engine": {"enum": ["postgresql", "mysql"]},
        "tls": {"type": "boolean"},
    },
    "additionalProperties": False,
}


async def _open_typed_form(pilot, admin, site):
    admin.create_type(site, SecretTypeCreate(key="db", name="Database", schema=DB_SCHEMA))
    app = pilot.app
    await pilot.press("r")
    await wait_until(pilot, lambda: app.screen.query_one("#secrets-pane").data.types, message="types loaded")
    await pilot.press("n")
    await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog))
    form = app.screen
    form.query_one("#name", Input).value = "MAIN_DB"
    form.query_one("#type", Select).value = "db"
    await wait_until(pilot, lambda: form.query("#schema-form"), message="generated form")
    return form


async def test_typed_secret_created_through_generated_form(started, admin, site):
    async with started() as (app, pilot):
        form = await _open_typed_form(pilot, admin, site)
        await wait_until(pilot, lambda: all(label in screen_text(app) for label in ("host *", "password *", "port")),
                         message="labels drawn")
        form.query_one("#field-0", Input).value = "db.internal"
        form.query_one("#field-1", Input).value = "5432"
        form.query_one("#field-2", Input).focus()
        await pilot.press(*"pw-typed")
        form.query_one("#field-3", Select).value = 0
        form.query_one("#field-4", Checkbox).value = True
        # writeOnly: what was typed shows as one mask character per character
        await wait_until(pilot, lambda: "•" * len("pw-typed") in screen_text(app), message="masked password")
        assert "pw-typed" not in screen_text(app)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="saved")
    value = json.loads(admin.reveal(site, None, "MAIN_DB").value)
    assert value == {"host": "db.internal", "port": 5432, "password": "pw-typed", "engine": "postgresql", "tls": True}
    assert admin.get_secret(site, None, "MAIN_DB").type == "db"


async def test_a_password_typed_in_the_form_stays_hidden_in_the_raw_json_until_ctrl_t(started, admin, site):
    async with started() as (app, pilot):
        form = await _open_typed_form(pilot, admin, site)
        form.query_one("#field-0", Input).value = "db.internal"
        form.query_one("#field-2", Input).focus()
        await pilot.press(*"pw-typed")
        await wait_until(pilot, lambda: "•" * len("pw-typed") in screen_text(app), message="masked password")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: form.query_one("#raw").display and "ctrl+t shows it" in screen_text(app),
                         message="raw JSON, hidden")
        assert json.loads(form.query_one("#raw").text)["password"] == "pw-typed"
        assert "pw-typed" not in screen_text(app) and "db.internal" not in screen_text(app)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: "pw-typed" in screen_text(app), message="shown when asked")
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: "pw-typed" not in screen_text(app), message="hidden again")


async def test_server_schema_error_shown_beside_its_field(started, admin, site):
    async with started() as (app, pilot):
        form = await _open_typed_form(pilot, admin, site)
        form.query_one("#field-0", Input).value = "db.internal"
        form.query_one("#field-1", Input).value = "70000"  # over the schema's maximum
        form.query_one("#field-2", Input).value = "pw"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: str(form.query_one("#field-error-1").render()).strip(), message="port error")
        assert "65535" in str(form.query_one("#field-error-1").render())
        assert str(form.query_one("#field-error-0").render()).strip() == ""
        assert isinstance(app.screen, SecretFormDialog)
        assert form.query_one("#field-1", Input).value == "70000"  # nothing lost
    assert admin.list_secrets(site) == []


async def test_typed_secret_through_raw_json_with_schema_error_then_fixed(started, admin, site):
    async with started() as (app, pilot):
        form = await _open_typed_form(pilot, admin, site)
        form.query_one("#field-0", Input).value = "h"
        await pilot.press("ctrl+r")
        raw = form.query_one("#raw")
        await wait_until(pilot, lambda: raw.display, message="raw editor")
        assert json.loads(raw.text) == {"host": "h"}
        raw.text = '{"host": "h", "password": "p", "port": "not a number"}'
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "/port" in str(form.query_one("#raw-error").render()), message="pointer")
        assert "integer" in str(form.query_one("#raw-error").render())
        raw.text = '{"host": "h", "password": "p", "port": 5432}'
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="saved")
    assert json.loads(admin.reveal(site, None, "MAIN_DB").value)["port"] == 5432


async def test_raw_json_editor_checks_json_live(started, admin, site):
    async with started() as (app, pilot):
        form = await _open_typed_form(pilot, admin, site)
        await pilot.press("ctrl+r")
        form.query_one("#raw").text = '{"host": '
        await wait_until(pilot, lambda: "not valid JSON" in str(form.query_one("#raw-error").render()),
                         message="live JSON check")


@pytest.mark.parametrize(("text", "why"), [
    ('{"host": "h", "port": ' + "1" * 5000 + "}", "digits"),
    ('{"host": ' + "[" * 100_000, "deeply"),
], ids=["long-number", "deep"])
async def test_raw_json_the_parser_cannot_take_is_a_sentence_not_a_crash(started, admin, site, text, why):
    async with started() as (app, pilot):
        form = await _open_typed_form(pilot, admin, site)
        await pilot.press("ctrl+r")
        form.query_one("#raw").text = text
        await wait_until(pilot, lambda: why in str(form.query_one("#raw-error").render()), message="the reason")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, SecretFormDialog)
    assert [s.name for s in admin.list_secrets(site)] == []
