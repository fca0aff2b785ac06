"""One shape for the tabs and forms: a pane asks and the main screen acts (messages), keys keep the
ids users remap them by, and a form field's error line shows untrusted text literally."""

from __future__ import annotations

from textual.app import App, ComposeResult

from shared.models import SecretCreate, ServiceCreate
from tui.ui.dialogs.secret_form import SecretFormDialog
from tui.ui.messages import DeleteSecret, DeleteService, SecretsChanged, ServicesChanged
from tui.ui.widgets.field import Field
from tui.sitedata import secret_id
from tui.ui.widgets.safe_input import SafeInput
from tui_helpers import loaded, screen_text, secrets_rows, wait_until

def _posted(messages: list, kind: type) -> list:
    """Each message of `kind` once (the hook sees a message again at every node it bubbles to)."""
    return list({id(message): message for message in messages if isinstance(message, kind)}.values())


BINDING_IDS = {
    "tui.ui.widgets.secrets_pane.SecretsPane": ["secrets.new", "secrets.edit", "secrets.delete", "secrets.reveal",
                                                "secrets.copy", "secrets.refresh", "secrets.filter",
                                                "secrets.clear_filter", "secrets.history", "secrets.due",
                                                "secrets.trash", "secrets.audit"],
    "tui.ui.widgets.types_pane.TypesPane": ["types.new", "types.edit", "types.delete", "types.refresh",
                                            "types.filter", "types.clear_filter"],
    "tui.ui.widgets.services_pane.ServicesPane": ["services.new", "services.bindings", "services.delete",
                                                  "services.apps", "services.refresh", "services.filter",
                                                  "services.clear_filter"],
    "tui.ui.widgets.fitted_table.FittedTable": ["table.down", "table.up", "table.first", "table.last"],
    "tui.ui.widgets.audit_pane.AuditPane": ["audit.refresh", "audit.filter", "audit.verify", "audit.whole_log",
                                            "audit.site_log", "audit.more", "audit.leave_filter"],
    "tui.ui.dialogs.secret_form.SecretFormDialog": ["form.save", "form.cancel", "form.show", "form.raw",
                                                    "form.generate"],
    "tui.ui.dialogs.history.HistoryDialog": ["history.reveal", "history.rollback", "history.close"],
    "tui.ui.dialogs.trash.TrashDialog": ["trash.restore", "trash.purge", "trash.close"],
    "tui.ui.dialogs.type_form.TypeFormDialog": ["type.save", "type.cancel"],
    "tui.ui.dialogs.service_form.ServiceFormDialog": ["service.save", "service.cancel"],
}


def test_panes_and_forms_keep_the_binding_ids_users_remap_keys_by():
    import importlib

    for path, ids in BINDING_IDS.items():
        module, name = path.rsplit(".", 1)
        cls = getattr(importlib.import_module(module), name)
        assert [binding.id for binding in cls.BINDINGS] == ids, path


async def test_confirmed_delete_is_posted_to_the_screen_which_deletes_and_reloads(make_app, admin, site):
    admin.create_secret(site, None, SecretCreate(name="GONE", value="v"))
    posted = []
    app = make_app()
    async with app.run_test(size=(80, 24), message_hook=posted.append) as pilot:
        await loaded(pilot, rows=1)
        await pilot.press("d")
        await wait_until(pilot, lambda: "Delete the secret GONE" in screen_text(app), message="asked")
        assert not any(isinstance(message, DeleteSecret) for message in posted)  # nothing before the yes
        await pilot.press("y")
        await wait_until(pilot, lambda: secrets_rows(app) == [], message="reloaded")
    assert [message.secret.name for message in _posted(posted, DeleteSecret)] == ["GONE"]
    assert admin.list_secrets(site) == []


async def test_saved_form_is_posted_as_a_change_that_highlights_what_was_saved(make_app, admin, site):
    admin.create_secret(site, None, SecretCreate(name="A_FIRST", value="v"))
    posted = []
    app = make_app()
    async with app.run_test(size=(80, 24), message_hook=posted.append) as pilot:
        await loaded(pilot, rows=1)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog), message="form")
        app.screen.query_one("#name").value = "B_SECOND"
        app.screen.query_one("#value").text = "v"
        await pilot.press("ctrl+s")
        pane = app.screen.query_one("#secrets-pane")
        await wait_until(pilot, lambda: len(secrets_rows(app)) == 2 and pane.highlighted().name == "B_SECOND",
                         message="new secret highlighted")
    assert [message.select for message in _posted(posted, SecretsChanged)] == [secret_id(None, "B_SECOND")]


async def test_deleted_service_reloads_the_secrets_tab_that_names_its_users(make_app, admin, site):
    admin.create_secret(site, None, SecretCreate(name="USED", value="v"))
    admin.create_service(site, ServiceCreate(name="api", secrets=[{"name": "USED"}]))
    posted = []
    app = make_app()
    async with app.run_test(size=(80, 24), message_hook=posted.append) as pilot:
        await loaded(pilot, rows=1)
        table = app.screen.query_one("#secrets-table")
        assert str(table.get_row_at(0)[5]) == "api"
        await pilot.press("4")
        await wait_until(pilot, lambda: app.screen.query("#services-pane")
                         and app.screen.query_one("#services-pane").data is not None, message="services")
        await wait_until(pilot, lambda: "Refresh" in screen_text(app).splitlines()[-1], message="footer drawn")
        await pilot.press("d")
        await wait_until(pilot, lambda: "Delete the service api" in screen_text(app), message="asked")
        await pilot.press("y")
        await wait_until(pilot, lambda: str(table.get_row_at(0)[5]) == "-", message="used-by cleared")
    assert [message.service.name for message in _posted(posted, DeleteService)] == ["api"]
    assert _posted(posted, ServicesChanged) == []  # the screen that deleted it reloads what shows it


class _OneField(App[None]):
    def compose(self) -> ComposeResult:
        yield Field("Name", SafeInput(id="name"), required=True)


async def test_field_error_line_shows_untrusted_text_literally_and_hides_when_cleared():
    app = _OneField()
    async with app.run_test(size=(60, 8)) as pilot:
        field = app.query_one(Field)
        error = app.query_one("#name-error")
        assert not error.display
        field.error = "[red]x[/red] [@click=app.quit]q"
        await wait_until(pilot, lambda: "[red]x[/red] [@click=app.quit]q" in screen_text(app), message="literal")
        assert "Name *" in screen_text(app)
        field.error = ""
        await wait_until(pilot, lambda: not error.display, message="hidden")


async def test_a_changed_type_reaches_the_secret_form_without_a_refresh(make_app, admin, site):
    from shared.models import SecretTypeCreate
    from tui.ui.messages import TypesChanged

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, rows=0)
        pane = app.screen.query_one("#secrets-pane")
        admin.create_type(site, SecretTypeCreate(key="apikey", name="API key", schema={"type": "string"}))
        app.screen.post_message(TypesChanged(select="apikey"))  # as the type form posts it on save
        await wait_until(pilot, lambda: pane.data is not None and "apikey" in [t.key for t in pane.data.types],
                         message="the Secrets tab's types reloaded")
