"""Rotation in the TUI: the due marker and filter of the Secrets tab, the rotation period in the
form, the generate key, and the typed edit that sends only the fields typed (`value_patch`)."""

from __future__ import annotations

import json
from datetime import timedelta

from textual.widgets import Input, Select, TextArea

from shared.models import SecretCreate, SecretTypeCreate
from tui import rotation
from tui.generate import ALPHABET
from tui.ui.dialogs.secret_form import SecretFormDialog
from tui.ui.textual_private import notification_messages
from tui_helpers import screen_text, secrets_rows, settled, wait_until

DB_SCHEMA = {
    "type": "object",
    "required": ["host", "password"],
    "properties": {
        "host": {"type": "string"},
        "port": {"type": "integer"},
        "password": {"type": "string", "writeOnly": True, "minLength": 48},
        "tls": {"type": "boolean"},
    },
    "additionalProperties": False,
}
STORED = {"host": "db.internal", "port": 5432, "password": "old-password", "tls": True}


def _column(app, name: str) -> list[str]:
    table = app.screen.query_one("#secrets-table")
    index = [str(column.label) for column in table.ordered_columns].index(name)
    return [str(table.get_row_at(row)[index]) for row in range(table.row_count)]


async def _form(pilot, key: str) -> SecretFormDialog:
    app = pilot.app
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog), message="form")
    return app.screen


# ------------------------------------------------------------ due marker and filter


async def test_rotation_column_marks_due_and_overdue_and_o_filters_them(started, admin, site, monkeypatch):
    admin.create_secret(site, None, SecretCreate(name="DAILY", value="a", rotate_every_days=1))
    admin.create_secret(site, None, SecretCreate(name="MONTHLY", value="b", rotate_every_days=33))
    admin.create_secret(site, None, SecretCreate(name="YEARLY", value="c", rotate_every_days=365))
    admin.create_secret(site, None, SecretCreate(name="NEVER", value="d"))
    later = rotation.now() + timedelta(days=2)  # DAILY is a day late, MONTHLY due in 31 calendar days
    monkeypatch.setattr(rotation, "now", lambda: later)
    async with started(rows=4) as (app, pilot):
        assert _column(app, "rotation") == ["OVERDUE", "due in 31 d", "-", "due in 363 d"]
        assert "OVERDUE" in screen_text(app)
        assert "due in 31 d" in screen_text(app)
        await pilot.press("o")
        await wait_until(pilot, lambda: [name for name, _ in secrets_rows(app)] == ["DAILY"], message="due only")
        assert "Due for rotation within 30 days" in screen_text(app)
        assert "rotation" in screen_text(app) and "OVERDUE" in screen_text(app)
        await pilot.press("o")
        await wait_until(pilot, lambda: len(secrets_rows(app)) == 4, message="all again")
        assert "Due for rotation" not in screen_text(app)


async def test_a_long_secret_name_never_cuts_the_rotation_marker_at_80x24(started, admin, site):
    """A name too long for the table anyway took the rotation column down to `due in …` on every
    row, the one column a rotation review scans."""
    admin.create_secret(site, None, SecretCreate(name="MONTHLY", value="b", rotate_every_days=300))
    admin.create_secret(site, None, SecretCreate(name="VERY_LONG_NAME_" + "X" * 120, value="a"))
    async with started(rows=2) as (app, _):
        row = screen_text(app).splitlines()[4]  # the first row, under the tab bar and the header
        assert "MONTHLY" in row and "due in 300 d" in row


async def test_due_filter_with_nothing_due_says_so_not_that_the_site_is_empty(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="YEARLY", value="c", rotate_every_days=365))
    admin.create_secret(site, None, SecretCreate(name="NEVER", value="d"))
    async with started(rows=2) as (app, pilot):
        await pilot.press("o")
        await wait_until(pilot, lambda: secrets_rows(app) == [], message="due only")
        await wait_until(pilot, lambda: "Nothing is due for rotation within 30 days: o shows all." in screen_text(app),
                         message="why the table is empty")
        assert "No secrets yet" not in screen_text(app) and "press n" not in screen_text(app)


async def test_no_rotation_column_without_a_policy(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="PLAIN", value="a"))
    async with started(rows=1) as (app, pilot):
        columns = [str(column.label) for column in app.screen.query_one("#secrets-table").ordered_columns]
        assert "rotation" not in columns


async def test_detail_shows_the_rotation_policy(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="KEY", value="a", rotate_every_days=90))
    async with started(rows=1) as (app, pilot):
        assert "every 90 d · due" in screen_text(app)


async def test_form_sets_changes_and_removes_the_rotation_period(started, admin, site):
    async with started(rows=0) as (app, pilot):
        form = await _form(pilot, "n")
        form.query_one("#name", Input).value = "KEY"
        form.query_one("#value").text = "v"
        form.query_one("#rotate", Input).value = "0"
        await wait_until(pilot, lambda: "a whole number of days, 1 to 3650" in screen_text(app), message="checked")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "Fix the rotation period first." in screen_text(app), message="refused")
        assert admin.list_secrets(site) == []
        form.query_one("#rotate", Input).value = "90"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog)
                         and secrets_rows(app) == [("KEY", "site")], message="created")
        assert admin.get_secret(site, None, "KEY").rotate_every_days == 90
        form = await _form(pilot, "e")
        assert form.query_one("#rotate", Input).value == "90"
        form.query_one("#rotate", Input).value = ""
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="saved")
        await wait_until(pilot, lambda: "rotation" not in [str(c.label) for c in
                                                           app.screen.query_one("#secrets-table").ordered_columns])
    secret = admin.get_secret(site, None, "KEY")
    assert secret.rotate_every_days is None and secret.version == 1  # the value was left alone


# ------------------------------------------------------------ generate


async def test_generate_fills_the_value_and_shows_it_once(started, admin, site):
    async with started(rows=0, notifications=True) as (app, pilot):
        form = await _form(pilot, "n")
        form.query_one("#name", Input).value = "API_KEY"
        form.query_one("#value-text", TextArea).focus()
        await pilot.press("ctrl+g")
        editor = form.query_one("#value")
        await wait_until(pilot, lambda: len(editor.text) == 32, message="generated")
        assert set(editor.text) <= set(ALPHABET) and not editor.masked
        await wait_until(pilot, lambda: editor.text in screen_text(app), message="shown in the form")
        assert any("Generated 32 random characters" in message for message in notification_messages(app))
        assert not any(editor.text in message for message in notification_messages(app))
        value = editor.text
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog)
                         and secrets_rows(app) == [("API_KEY", "site")], message="saved")
        assert value not in screen_text(app)  # once: the table and detail show it masked
    assert admin.reveal(site, None, "API_KEY").value == value


async def test_generate_in_a_password_field_uses_the_schema_length(started, admin, site):
    admin.create_type(site, SecretTypeCreate(key="db", name="Database", schema=DB_SCHEMA))
    async with started(rows=0, notifications=True) as (app, pilot):
        form = await _form(pilot, "n")
        form.query_one("#name", Input).value = "MAIN_DB"
        form.query_one("#type", Select).value = "db"
        await wait_until(pilot, lambda: form.query("#schema-form"), message="typed form")
        host, password = form.query_one("#field-0", Input), form.query_one("#field-2", Input)
        host.focus()
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: any("move the cursor to one" in m for m in notification_messages(app)))
        assert host.value == ""
        password.focus()
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: len(password.value) == 48, message="generated (minLength 48)")
        assert not password.password
        await wait_until(pilot, lambda: password.value[:30] in screen_text(app), message="shown")
        host.value = "db.internal"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog)
                         and secrets_rows(app) == [("MAIN_DB", "site")], message="saved")
    assert json.loads(admin.reveal(site, None, "MAIN_DB").value)["password"] == password.value


# ------------------------------------------------------------ typed edit: value_patch


async def test_typed_edit_sends_only_the_fields_typed_and_keeps_the_others(started, admin, site):
    admin.create_type(site, SecretTypeCreate(key="db", name="Database", schema=DB_SCHEMA))
    stored = dict(STORED, password="p" * 48)
    admin.create_secret(site, None, SecretCreate(name="MAIN_DB", type="db", value=json.dumps(stored)))
    async with started(rows=1) as (app, pilot):
        form = await _form(pilot, "e")
        await wait_until(pilot, lambda: form.query("#schema-form"), message="typed form")
        text = screen_text(app)
        assert "blank fields keep their current value" in text
        assert "host *" not in text and "password *" not in text  # nothing is required: blank keeps it
        form.query_one("#field-2", Input).value = "n" * 48
        form.query_one("#field-3", Select).value = False  # a boolean can be set to false, or left as is
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: form.raw_mode, message="raw JSON")
        assert json.loads(form.query_one("#raw", TextArea).text) == {"password": "n" * 48, "tls": False}
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not form.raw_mode, message="form again")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="saved")
    assert json.loads(admin.reveal(site, None, "MAIN_DB").value) == dict(STORED, password="n" * 48, tls=False)
    update = admin.audit(site, action="secret.update").items[0]
    assert update.details.get("patched") is True


async def test_typed_edit_with_nothing_typed_keeps_the_value(started, admin, site):
    admin.create_type(site, SecretTypeCreate(key="db", name="Database", schema=DB_SCHEMA))
    stored = dict(STORED, password="p" * 48)
    admin.create_secret(site, None, SecretCreate(name="MAIN_DB", type="db", value=json.dumps(stored)))
    async with started(rows=1) as (app, pilot):
        form = await _form(pilot, "e")
        await wait_until(pilot, lambda: form.query("#schema-form"), message="typed form")
        form.query_one("#description", Input).value = "main database"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SecretFormDialog), message="saved")
    secret = admin.get_secret(site, None, "MAIN_DB")
    assert secret.version == 1 and secret.description == "main database"
    assert json.loads(admin.reveal(site, None, "MAIN_DB").value) == stored


async def test_typed_edit_error_from_the_merged_value_goes_beside_its_field(started, admin, site):
    admin.create_type(site, SecretTypeCreate(key="db", name="Database", schema=DB_SCHEMA))
    stored = dict(STORED, password="p" * 48)
    admin.create_secret(site, None, SecretCreate(name="MAIN_DB", type="db", value=json.dumps(stored)))
    async with started(rows=1) as (app, pilot):
        form = await _form(pilot, "e")
        await wait_until(pilot, lambda: form.query("#schema-form"), message="typed form")
        form.query_one("#field-2", Input).value = "short"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: form.query_one("#field-error-2").render().plain, message="field error")
        await settled(pilot)
        assert app.screen is form
    assert json.loads(admin.reveal(site, None, "MAIN_DB").value) == stored
