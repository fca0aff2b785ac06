"""Apps of the site (admins): create one, and set whether its services may bind site-level secrets.

`t` flips the highlighted app's setting (the dialog opens on the list, so `t` works at once); the
form below the table creates an app (name checked as you type). Dismisses with True when anything changed, so the screens reload what depends on apps.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DataTable, Input, Static

from shared.limits import is_slug
from shared.models import App, AppCreate, AppUpdate
from tui.ui.api import ApiCaller
from tui.client import ApiError, build
from tui.display import safe_str, safe_text, short_time
from tui.sitedata import NAME_RULE
from tui.ui.widgets.field import Field
from tui.ui.widgets.fitted_table import FittedTable
from tui.ui.widgets.safe_input import SafeInput


class AppsDialog(ApiCaller, ModalScreen[bool]):
    BINDINGS = [
        Binding("t", "toggle", "Toggle site secrets", id="apps.toggle"),
        Binding("ctrl+s", "create", "Create", id="apps.create"),
        Binding("escape", "close", "Close", id="apps.close"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="dialog")
        self.apps: list[App] = []
        self.changed = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box form-box", id="apps-box"):
            title = Text("Apps of site ", style="bold")
            title.append_text(safe_text(self.app.site, style="bold"))
            yield Static(title, classes="dialog-title")
            table = FittedTable(id="apps-table", cursor_type="row", zebra_stripes=True)
            table.add_columns("app", "its services may use site secrets", "created")
            yield table
            yield Static(Text("t flips the highlighted app's setting; tab goes on to New app.", style="dim"))
            yield Field("New app", SafeInput(id="app-name", placeholder="e.g. web"))
            yield Checkbox("its services may use site-level secrets", value=True, id="app-site-secrets")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Create (ctrl+s)", variant="primary", id="create")
                yield Button("Close (esc)", id="close")

    def on_mount(self) -> None:
        self.load()
        self.query_one("#apps-table", DataTable).focus()  # so `t` toggles at once; tab reaches "New app"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle":  # `t` types into the name box when it has focus
            return not isinstance(self.focused, Input)
        return True

    def load(self, select: str | None = None) -> None:
        self.call_api(self.app.client.list_apps, self.app.site, group="apps-load",
                      done=lambda apps: self._loaded(apps, select))

    def _loaded(self, apps: list[App], select: str | None) -> None:
        table = self.query_one("#apps-table", DataTable)
        current = self.highlighted()
        select = select or (current.name if current else None)
        self.apps = sorted(apps, key=lambda a: a.name)
        table.clear()
        for app in self.apps:
            allowed = Text("yes", style="green") if app.site_secrets else Text("no", style="yellow")
            table.add_row(safe_text(app.name), allowed, Text(short_time(app.created_at)), key=app.name)
        names = [app.name for app in self.apps]
        if select in names:
            table.move_cursor(row=names.index(select))

    def highlighted(self) -> App | None:
        table = self.query_one("#apps-table", DataTable)
        if table.row_count == 0 or not 0 <= table.cursor_row < len(self.apps):
            return None
        return self.apps[table.cursor_row]

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "app-name":
            self._say(self._name_problem(event.value) if event.value else "")

    def _name_problem(self, name: str) -> str:
        if not is_slug(name):
            return f"An app name is {NAME_RULE}."
        if any(app.name == name for app in self.apps):
            return f"There is already an app {safe_str(name)!r}."
        return ""

    def _say(self, message: str) -> None:
        self.query_one(Field).error = message

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_create()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_create() if event.button.id == "create" else self.action_close()

    def action_create(self) -> None:
        name = self.query_one("#app-name", Input).value
        problem = self._name_problem(name) if name else "Give the app a name."
        if problem:
            self._say(problem)
            return
        if self.still_saving("apps-create", "apps-toggle"):
            return
        allowed = self.query_one("#app-site-secrets", Checkbox).value
        try:
            body = build(AppCreate, name=name, site_secrets=allowed)
        except ApiError as refused:
            self.report_api_error(refused)
            return
        self.call_api(self.app.client.create_app, self.app.site, body, group="apps-create", done=self._created)

    def _created(self, app: App) -> None:
        self.changed = True
        self.query_one("#app-name", Input).value = ""
        self._say("")
        self.notify(f"Created app {safe_str(app.name)}.", markup=False)
        self.load(select=app.name)

    def action_toggle(self) -> None:
        app = self.highlighted()
        if app is None or self.still_saving("apps-create", "apps-toggle"):
            return
        self.call_api(self.app.client.update_app, self.app.site, app.name, AppUpdate(site_secrets=not app.site_secrets),
                      group="apps-toggle", done=self._toggled)

    def _toggled(self, app: App) -> None:
        self.changed = True
        self._loaded([app if known.name == app.name else known for known in self.apps], app.name)  # before the reload
        state = "may" if app.site_secrets else "may no longer"
        self.notify(f"Services of {safe_str(app.name)} {state} use site-level secrets.", markup=False)
        self.load(select=app.name)

    def action_close(self) -> None:
        """Close; a new app's name typed but not created is dropped only after "Discard changes?"."""
        if self.still_saving("apps-create", "apps-toggle"):
            return
        if not self.query_one("#app-name", Input).value:
            self.dismiss(self.changed)
            return
        from tui.ui.dialogs.confirm import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(self.changed)

        self.app.push_screen(ConfirmDialog("Discard changes?", Text("The new app's name is not created yet. Discard it?"),
                                           "Discard"), answered)

    def on_api_error(self, error: BaseException) -> bool:
        if isinstance(error, ApiError) and error.code in ("already_exists", "validation_error", "limit_exceeded"):
            self._say(self.app.error_text(error))  # in the dialog, where a toast would fade
            return True
        if isinstance(error, ApiError) and error.code == "secret_in_use":  # `t` on an app whose services use site secrets
            from tui.ui.dialogs.message import MessageDialog

            services = [str(name) for name in error.details.get("services") or []]  # shown through safe_text
            self.app.push_screen(MessageDialog("Site secrets in use", "These services of the app bind site-level "
                                               "secrets; change their bindings (b) first:", services))
            return True
        return False
