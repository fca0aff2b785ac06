"""New service (name checked as you type, app, bindings) or a service's bindings.

The bindings picker offers only what the server would accept: the service's app's secrets, and
site-level ones only where that app allows them (a service of no app binds site-level secrets).
A binding the service already holds to a secret that does not exist yet stays on offer. Saves
through the API itself, so a refusal leaves the form as it was; dismisses with the saved Service.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from shared.limits import is_slug
from shared.models import Service, ServiceCreate, ServiceUpdate
from tui.ui.keys import CANCEL, SAVE, bindings
from tui.ui.dialogs.form import FormActions
from tui.client import ApiError, build
from tui.display import safe_str, safe_text
from tui.sitedata import NAME_RULE, ServicesData, bindable, id_of, ref_label, ref_of
from tui.ui.widgets.field import Field, field_label
from tui.ui.widgets.safe_input import SafeInput


class ServiceFormDialog(FormActions, ModalScreen[Service | None]):
    BINDINGS = bindings("service", SAVE, CANCEL)

    def __init__(self, data: ServicesData, service: Service | None = None):
        super().__init__()
        self.data = data
        self.service = service

    def compose(self) -> ComposeResult:
        service = self.service
        with Vertical(classes="dialog-box form-box", id="service-form"):
            title = Text("New service", style="bold") if service is None else safe_text(
                f"Bindings of service {service.name}", style="bold")
            yield Static(title, classes="dialog-title")
            if service is None:
                yield Field("Name *", SafeInput(id="service-name", placeholder="e.g. api"))
                apps = [(Text("none (binds site-level secrets only)"), "")]
                apps += [(safe_text(app.name), app.name) for app in self.data.apps]
                yield Field("App", Select(apps, value="", allow_blank=False, id="service-app"))
            # The picker takes the room left (1fr), which a Field (height auto) would not give it.
            yield field_label("Secrets it binds (space toggles)")
            yield Static(id="bindings-note")
            yield SelectionList[str](id="service-bindings")
            yield from self.form_actions()

    def on_mount(self) -> None:
        chosen = {id_of(ref) for ref in self.service.secrets} if self.service else set()
        self._offer(self.service.app if self.service else None, chosen)
        self.query_one("#service-name" if self.service is None else "#service-bindings").focus()

    def _offer(self, app_name: str | None, chosen: set[str]) -> None:
        """Fill the picker with what a service of `app_name` may bind, `chosen` ones ticked."""
        picker = self.query_one("#service-bindings", SelectionList)
        picker.clear_options()
        allowed = bindable(self.data.secrets, self.data.app(app_name))
        keys = {id_of(secret) for secret in allowed}
        options = [Selection(safe_text(ref_label(secret)), id_of(secret),
                             id_of(secret) in chosen) for secret in allowed]
        # Bindings to secrets that do not exist yet are kept on offer rather than dropped unseen.
        for ref in self.service.secrets if self.service else []:
            key = id_of(ref)
            if key not in keys and not any(id_of(s) == key for s in self.data.secrets):
                label = safe_text(ref_label(ref))
                label.append(" · does not exist yet", style="yellow")
                options.append(Selection(label, key, key in chosen))
        picker.add_options(options)
        if options:  # so the first space toggles the first secret
            picker.highlighted = 0
        why = self._why_not_offered(app_name, bool(options))
        note = self.query_one("#bindings-note", Static)
        note.update(why)
        note.display = bool(why.plain)

    def _why_not_offered(self, app_name: str | None, offered: bool) -> Text:
        """Why site-level secrets are left out (the app refuses them), or why nothing is offered."""
        app = self.data.app(app_name)
        why = Text(style="dim")
        if app is not None and not app.site_secrets:
            why.append("Site secrets are not offered: services of app ")
            why.append_text(safe_text(app.name, style="bold"))
            why.append(" may not use them (a in the Services tab changes that)")
            why.append("; it has no secrets of its own yet." if not offered else ".")
        elif not offered:
            why.append("No secrets to bind yet: create them in the Secrets tab (1, then n).")
        return why

    # ------------------------------------------------------------ live checks

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "service-name":
            self._error("service-name", self._name_problem(event.value) if event.value else "")

    def _name_problem(self, name: str) -> str:
        if not is_slug(name):
            return f"A service name is {NAME_RULE}."
        if any(service.name == name for service in self.data.services):
            return f"There is already a service {safe_str(name)!r}."
        return ""

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "service-app":
            picker = self.query_one("#service-bindings", SelectionList)
            self._offer(str(event.value) or None, set(picker.selected))

    # ------------------------------------------------------------ save

    def action_save(self) -> None:
        refs = [ref_of(key) for key in self.query_one("#service-bindings", SelectionList).selected]
        client, site = self.app.client, self.app.site
        if self.service is not None:
            self.send(lambda: build(ServiceUpdate, secrets=refs), client.update_service, site, self.service.name,
                      group="service-save")
            return
        name = self.query_one("#service-name", Input).value
        problem = self._name_problem(name) if name else "Give the service a name."
        if problem:
            self._error("service-name", problem)
            return
        app = str(self.query_one("#service-app", Select).value) or None
        extra = {"app": app} if app else {}
        self.send(lambda: build(ServiceCreate, name=name, secrets=refs, **extra), client.create_service, site,
                  group="service-save")

    def on_api_error(self, error: BaseException) -> bool:
        if not isinstance(error, ApiError):
            return False
        if error.code == "already_exists" and self.service is None:
            self._error("service-name", error.message)
            return True
        if error.code == "validation_error":
            messages = [f"{path}: {message}" for path, message in error.field_errors()]
            self._error("form", "\n".join(messages) or error.message)
            self.notify(safe_str(error.message), severity="error", markup=False)
            return True
        return False
