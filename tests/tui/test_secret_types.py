"""The Secret Types tab: create from a template, invalid schemas, edit conflicts, delete."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from shared.models import SecretCreate, SecretTypeCreate
from tui.ui.dialogs.confirm import ConfirmDialog
from tui.ui.dialogs.message import MessageDialog
from tui.ui.dialogs.type_form import TypeFormDialog
from tui_helpers import screen_text, show_tab, wait_until


async def _types_tab(pilot):
    app = pilot.app
    await show_tab(pilot, "types")
    return app.screen.query_one("#types-pane")


async def test_create_type_from_template_and_see_schema(started, admin, site):
    async with started() as (app, pilot):
        pane = await _types_tab(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, TypeFormDialog))
        form = app.screen
        await pilot.press(*"smtp")
        form.query_one("#template", Select).value = "SMTP server"
        await wait_until(pilot, lambda: form.query_one("#name", Input).value == "SMTP server", message="named")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, TypeFormDialog), message="saved")
        await wait_until(pilot, lambda: pane.types and pane.types[0].key == "smtp", message="listed")
        await wait_until(pilot, lambda: "SMTP server" in screen_text(app) and '"host"' in screen_text(app),
                         message="name and schema drawn")
    kind = admin.list_types(site)[0]
    assert kind.key == "smtp" and "password" in kind.schema_["properties"]


async def test_type_create_with_invalid_schema_is_refused_with_reason(started, admin, site):
    async with started() as (app, pilot):
        await _types_tab(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, TypeFormDialog))
        form = app.screen
        form.query_one("#key", Input).value = "bad"
        form.query_one("#name", Input).value = "Bad"
        form.query_one("#schema").text = '{"type": "objectx"}'
        await wait_until(pilot, lambda: "not a valid JSON Schema" in str(form.query_one("#schema-error").render()),
                         message="local schema check")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "Fix the schema first" in str(form.query_one("#form-error").render()),
                         message="refused before sending")
        assert isinstance(app.screen, TypeFormDialog)
        # The server refuses what a local check can't see: a $ref outside the schema.
        form.query_one("#schema").text = '{"$ref": "https://example.com/schema.json"}'
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "schema" in str(form.query_one("#schema-error").render()).lower()
                         and str(form.query_one("#form-error").render()).startswith("Not saved"), message="server refusal")
        assert isinstance(app.screen, TypeFormDialog)
    assert admin.list_types(site) == []


async def test_type_edit_that_breaks_secrets_lists_them(started, admin, site):
    admin.create_type(site, SecretTypeCreate(key="db", name="DB", schema={"type": "object"}))
    admin.create_secret(site, None, SecretCreate(name="OLD_DB", type="db", value="{}"))
    async with started() as (app, pilot):
        pane = await _types_tab(pilot)
        await wait_until(pilot, lambda: pane.types, message="types")
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, TypeFormDialog))
        app.screen.query_one("#schema").text = '{"type": "object", "required": ["host"]}'
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog), message="conflict list")
        assert "OLD_DB (site)" in screen_text(app)
    assert admin.list_types(site)[0].schema_ == {"type": "object"}


async def test_type_delete_in_use_lists_secrets_and_unused_type_deletes(started, admin, site):
    admin.create_type(site, SecretTypeCreate(key="a", name="Used", schema={"type": "object"}))
    admin.create_type(site, SecretTypeCreate(key="b", name="Unused", schema={"type": "object"}))
    admin.create_secret(site, None, SecretCreate(name="USES_A", type="a", value="{}"))
    async with started() as (app, pilot):
        pane = await _types_tab(pilot)
        await wait_until(pilot, lambda: len(pane.types) == 2, message="types")
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog), message="in use")
        assert "USES_A (site)" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, MessageDialog), message="closed")
        await pilot.press("down", "d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: len(pane.types) == 1, message="deleted")
    assert [kind.key for kind in admin.list_types(site)] == ["a"]


async def test_a_schema_longer_than_the_pane_is_read_to_its_end_from_the_keyboard(started, admin, site):
    properties = {f"field_{number:02}": {"type": "string"} for number in range(20)}
    admin.create_type(site, SecretTypeCreate(key="big", name="Big", schema={"type": "object", "properties": properties}))
    async with started() as (app, pilot):
        await _types_tab(pilot)
        await wait_until(pilot, lambda: "field_00" in screen_text(app), message="schema shown")
        assert "field_19" not in screen_text(app)
        await pilot.press("tab")
        await wait_until(pilot, lambda: app.focused is app.screen.query_one("#type-detail"), message="tab: the schema")
        await pilot.press("end")
        await wait_until(pilot, lambda: "field_19" in screen_text(app), message="the schema's last field")


async def test_a_type_says_how_many_secrets_use_it_in_words(started, admin, site):
    admin.create_type(site, SecretTypeCreate(key="plain", name="Plain", schema={"type": "string"}))
    admin.create_secret(site, None, SecretCreate(name="ONE", value='"v"', type="plain"))
    async with started() as (app, pilot):
        await show_tab(pilot, "types")
        await wait_until(pilot, lambda: "Plain (plain), used by" in screen_text(app), message="type shown")
        assert "Plain (plain), used by 1 secret " in screen_text(app)


@pytest.mark.parametrize(("schema", "why"), [
    ('{"maximum": ' + "9" * 5000 + "}", "digits"),
    ('{"enum": ' + "[" * 100_000, "deeply"),
    ('{"not": ' * 600 + "{}" + "}" * 600, "deeply"),
], ids=["long-number", "deep-json", "deep-schema"])
async def test_a_schema_the_checks_cannot_take_is_a_sentence_not_a_crash(started, admin, site, schema, why):
    async with started() as (app, pilot):
        await _types_tab(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, TypeFormDialog))
        form = app.screen
        form.query_one("#schema").text = schema
        await wait_until(pilot, lambda: why in str(form.query_one("#schema-error").render()), message="the reason")
        assert app.is_running and isinstance(app.screen, TypeFormDialog)
