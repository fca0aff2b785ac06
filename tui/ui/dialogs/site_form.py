"""New site (with its first admin token, shown once in this same dialog) and a site's limits.

`NewSiteDialog` creates the site and, unless unticked, an admin token bound to it; the token is
then shown in place of the form, copyable with `c`, and dropped when the dialog closes. It
dismisses with the new Site (None when cancelled). `SiteLimitsDialog` sends only the limits
changed (a blank one goes back to the server's default) and dismisses with the updated Site.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Static

from shared.limits import is_slug, label_problem
from shared.models import CreatedToken, LimitsUpdate, Role, Site, SiteCreate, SiteUpdate, TokenCreate
from tui.client import ApiError, SiteSecretsClient, build
from tui.display import safe_str, safe_text
from tui.sitedata import NAME_RULE
from tui.sitelimits import LIMIT_FIELDS, used_of
from tui.ui.dialogs.form import FormActions
from tui.ui.keys import CANCEL, SAVE, bindings
from tui.ui.widgets.field import Field
from tui.ui.widgets.new_token import NewTokenPanel, ShowsNewToken
from tui.ui.widgets.safe_input import SafeInput


def days_or_none(text: str) -> int | None:
    """A whole number of days typed in a box, or None for an empty box; ValueError otherwise."""
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValueError("Days are a whole number (or empty: never).")
    return int(text)


def create_site_and_token(client: SiteSecretsClient, site: SiteCreate,
                          token: TokenCreate | None) -> tuple[Site, CreatedToken | None, ApiError | None]:
    """Create `site`, then `token` for it: a refused token does not undo the site, it is returned
    beside it so the dialog can say so (runs in a worker)."""
    created = client.create_site(site)
    if token is None:
        return created, None, None
    try:
        return created, client.create_token(token), None
    except ApiError as refused:
        return created, None, refused


class NewSiteDialog(ShowsNewToken, FormActions, ModalScreen[Site | None]):
    BINDINGS = [*bindings("site", SAVE, CANCEL), Binding("c", "copy", "Copy token", id="site.copy", show=False)]

    def __init__(self, taken: list[str] | None = None) -> None:
        super().__init__()
        self._taken = set(taken or [])
        self._created: Site | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box form-box"):
            yield Static(Text("New site", style="bold"), classes="dialog-title")
            with VerticalScroll(id="form-body", can_focus=False):
                yield Field("Name *", SafeInput(id="name", placeholder="e.g. customer-42"))
                yield Checkbox("Create its first admin token (shown once)", value=True, id="with-token")
                yield Field("Token name", SafeInput(id="token-name", placeholder="default: <site>-admin"))
                yield Field("Token expires in days", SafeInput(id="token-days", placeholder="empty: never"))
            yield NewTokenPanel(id="new-token")
            yield from self.form_actions()

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        shown = self.query_one(NewTokenPanel).shown
        if action == "copy":
            return shown
        if action == "save":
            return not shown and self._created is None
        return True

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "name":
            self._error("name", self._name_problem(event.value) if event.value else "")
        elif event.input.id == "token-name":
            self._error("token-name", label_problem(event.value) if event.value else "")

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        for box in ("#token-name", "#token-days"):
            self.query_one(box, Input).disabled = not event.value

    def _name_problem(self, name: str) -> str:
        if not is_slug(name):
            return f"A site name is {NAME_RULE}."
        return f"There is already a site {safe_str(name)!r}." if name in self._taken else ""

    def _bodies(self) -> tuple[SiteCreate, TokenCreate | None]:
        name = self.query_one("#name", Input).value
        problem = self._name_problem(name) if name else "Give the site a name."
        if problem:
            raise ValueError(problem)
        if not self.query_one("#with-token", Checkbox).value:
            return build(SiteCreate, name=name), None
        token_name = self.query_one("#token-name", Input).value or f"{name}-admin"
        days = days_or_none(self.query_one("#token-days", Input).value)
        extra = {} if days is None else {"expires_in_days": days}
        return build(SiteCreate, name=name), build(TokenCreate, name=token_name, role=Role.admin, site=name, **extra)

    def action_save(self) -> None:
        if self.saving("site-create"):  # sent again, it was refused as "already exists"
            return
        try:
            site, token = self._bodies()
        except ValueError as problem:
            self._error("form", str(problem))
            return
        except ApiError as refused:
            self.report_api_error(refused)
            return
        self._error("form", "")
        self.call_api(create_site_and_token, self.app.client, site, token, group="site-create", done=self._created_site)

    def _created_site(self, result: tuple[Site, CreatedToken | None, ApiError | None]) -> None:
        site, token, refused = result
        self._created = site
        if refused is not None:
            self.app.show_error(f"The site was created, but not its admin token: {refused.message}", refused.code)
        if token is None:  # nothing to show here: say it where the dialog was
            self.notify(f"Created site {safe_str(site.name)}.", markup=False)
            self.dismiss(site)
            return
        self.query_one("#form-body").display = False
        self.query_one("#save").parent.display = False
        lead = Text("Created site ")
        lead.append_text(safe_text(site.name, style="bold"))
        lead.append(" and its first admin token.\n")
        self.query_one(NewTokenPanel).show_token(token, lead)
        self.refresh_bindings()

    def action_cancel(self) -> None:
        if self._created is not None:
            self.query_one(NewTokenPanel).forget()
            self.dismiss(self._created)
        else:
            super().action_cancel()

    def on_api_error(self, error: BaseException) -> bool:
        if isinstance(error, ApiError) and error.code in ("already_exists", "validation_error"):
            messages = [f"{path}: {message}" for path, message in error.field_errors()]
            self._error("form", "\n".join(messages) or error.message)
            return True
        return False


class SiteLimitsDialog(FormActions, ModalScreen[Site | None]):
    BINDINGS = bindings("limits", SAVE, CANCEL)

    def __init__(self, site: Site) -> None:
        super().__init__()
        self.site = site

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box form-box"):
            title = Text("Limits of site ", style="bold")
            title.append_text(safe_text(self.site.name, style="bold"))
            yield Static(title, classes="dialog-title")
            with VerticalScroll(id="form-body", can_focus=False):
                yield Static(Text("Empty: the server's default.", style="dim"))
                for field in LIMIT_FIELDS:
                    value = getattr(self.site.limits, field.key)
                    used = used_of(field.key, self.site)  # what the limit is set against
                    label = field.label if used is None else f"{field.label} ({used} now)"
                    yield Field(label, SafeInput(value=str(value), id=field.key, restrict=r"[0-9]*"))
            yield from self.form_actions()

    def on_mount(self) -> None:
        self.query_one(f"#{LIMIT_FIELDS[0].key}", Input).focus()

    def _body(self) -> SiteUpdate:
        changes: dict[str, int | None] = {}
        for field in LIMIT_FIELDS:
            text = self.query_one(f"#{field.key}", Input).value.strip()
            value = int(text) if text else None
            if value != getattr(self.site.limits, field.key):
                changes[field.key] = value
        if not changes:
            raise ValueError("Nothing changed.")
        return build(SiteUpdate, limits=build(LimitsUpdate, **changes))

    def action_save(self) -> None:
        self.send(self._body, self.app.client.update_site, self.site.name, group="limits-save")

    def on_api_error(self, error: BaseException) -> bool:
        if not isinstance(error, ApiError) or error.code != "validation_error":
            return False
        for field in LIMIT_FIELDS:
            self._error(field.key, "")
        unplaced = []
        for path, message in error.field_errors():
            key = path.rstrip("/").rsplit("/", 1)[-1]
            if any(f.key == key for f in LIMIT_FIELDS):
                self._error(key, message)
            else:
                unplaced.append(f"{path}: {message}")
        self._error("form", "\n".join(unplaced) or "Fix the limits marked above.")
        return True
