"""New token: name, role, site (the operator picks one, or none; a site-bound admin's own is
fixed), service (service tokens) and expiry. Once created, the token is shown in this same
dialog, this once, copyable with `c`; closing drops it. Dismisses with the CreatedToken's Token
(None when cancelled), never with the token itself."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Select, Static

from shared.limits import label_problem
from shared.models import CreatedToken, Role, Token, TokenCreate
from tui.client import ApiError, build
from tui.display import safe_text
from tui.ui.dialogs.form import FormActions
from tui.ui.dialogs.site_form import days_or_none
from tui.ui.keys import CANCEL, SAVE, bindings
from tui.ui.widgets.field import Field
from tui.ui.widgets.new_token import NewTokenPanel, ShowsNewToken
from tui.ui.widgets.safe_input import SafeInput

NO_SITE = "\x00none"
"""The site Select's value for a token bound to no site (no site name can hold a NUL)."""

ROLES = [(Text(f"{role.value}"), role.value) for role in (Role.viewer, Role.editor, Role.admin, Role.service)]


class TokenFormDialog(ShowsNewToken, FormActions, ModalScreen[Token | None]):
    BINDINGS = [*bindings("token", SAVE, CANCEL), Binding("c", "copy", "Copy token", id="token.copy", show=False)]

    def __init__(self) -> None:
        super().__init__()
        self._created: CreatedToken | None = None

    def compose(self) -> ComposeResult:
        bound = self.app.identity.site
        site_choices = [(safe_text(bound), bound)] if bound else [(Text("none: every site (the operator)"), NO_SITE)]
        with Vertical(classes="dialog-box form-box"):
            yield Static(Text("New token", style="bold"), classes="dialog-title")
            with VerticalScroll(id="form-body", can_focus=False):
                yield Field("Name *", SafeInput(id="name", placeholder="e.g. deploy-bot"))
                yield Field("Role", Select(ROLES, value=Role.viewer.value, allow_blank=False, id="role"))
                yield Field("Site", Select(site_choices, value=bound or NO_SITE, allow_blank=False, id="site",
                                           disabled=bound is not None))
                yield Field("Service (service tokens)", Select([], prompt="pick a site's service", id="service",
                                                                disabled=True))
                yield Field("Expires in days", SafeInput(id="days", placeholder="empty: never", restrict=r"[0-9]*"))
            yield NewTokenPanel(id="new-token")
            yield from self.form_actions()

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()
        if self.app.identity.site is None:
            self.call_api(self.app.client.list_sites, group="token-sites", done=self._sites_loaded)

    def _sites_loaded(self, sites) -> None:
        select = self.query_one("#site", Select)
        choices = [(Text("none: every site (the operator)"), NO_SITE)] + [(safe_text(s.name), s.name) for s in sites]
        select.set_options(choices)
        names = [s.name for s in sites]
        select.value = self.app.site if self.app.site in names else NO_SITE

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        shown = self.query_one(NewTokenPanel).shown
        if action == "copy":
            return shown
        if action == "save":
            return not shown
        return True

    @property
    def site(self) -> str | None:
        value = self.query_one("#site", Select).value
        return None if value in (NO_SITE, Select.BLANK) else str(value)

    @property
    def role(self) -> Role:
        return Role(self.query_one("#role", Select).value)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id in ("role", "site"):
            self._load_services()

    def _load_services(self) -> None:
        services = self.query_one("#service", Select)
        site = self.site
        if self.role is not Role.service or site is None:
            services.set_options([])
            services.disabled = True
            self._error("service", "A service token needs a site." if self.role is Role.service else "")
            return
        self._error("service", "")
        self.call_api(lambda: self.app.client.list_services(site).items, group="token-services",
                      done=self._services_loaded)

    def _services_loaded(self, items) -> None:
        services = self.query_one("#service", Select)
        services.set_options([(safe_text(s.name), s.name) for s in items])
        services.disabled = not items
        if not items:
            self._error("service", "This site has no services yet: create one in the Services tab.")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "name":
            self._error("name", label_problem(event.value) if event.value else "")

    def _body(self) -> TokenCreate:
        name = self.query_one("#name", Input).value
        if not name:
            raise ValueError("Give the token a name.")
        fields: dict = {"name": name, "role": self.role}
        if self.site is not None:
            fields["site"] = self.site
        if self.role is Role.service:
            service = self.query_one("#service", Select).value
            if service is Select.BLANK:
                raise ValueError("Pick the service the token fetches.")
            fields["service"] = service
        days = days_or_none(self.query_one("#days", Input).value)
        if days is not None:
            fields["expires_in_days"] = days
        return build(TokenCreate, **fields)

    def action_save(self) -> None:
        if self.saving("token-create"):  # a second token would be made, and never shown
            return
        try:
            body = self._body()
        except ValueError as problem:
            self._error("form", str(problem))
            return
        except ApiError as refused:
            self.report_api_error(refused)
            return
        self._error("form", "")
        self.call_api(self.app.client.create_token, body, group="token-create", done=self._created_token)

    def _created_token(self, created: CreatedToken) -> None:
        self._created = created  # the panel says it was created
        self.query_one("#form-body").display = False
        self.query_one("#save").parent.display = False
        self.query_one(NewTokenPanel).show_token(created)
        self.refresh_bindings()

    def action_cancel(self) -> None:
        if self._created is not None:
            token = Token.model_validate(self._created.model_dump(exclude={"token"}))
            self._created = None
            self.query_one(NewTokenPanel).forget()
            self.dismiss(token)
        else:
            super().action_cancel()

    def on_api_error(self, error: BaseException) -> bool:
        if isinstance(error, ApiError) and error.code in ("validation_error", "not_found", "forbidden"):
            messages = [f"{path}: {message}" for path, message in error.field_errors()]
            self._error("form", "\n".join(messages) or error.message)
            return True
        return False
