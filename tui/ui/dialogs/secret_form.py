"""New / edit secret: name, scope, type, value and description, checked as you type.

With a type chosen the value is a form generated from the type's schema (`SchemaForm`), or raw
JSON (`ctrl+r`, and always for schemas a form cannot express). The dialog saves through the API
itself so a server error leaves every field as it was: validation errors go beside the field
their JSON Pointer names, a version conflict offers to reload. Dismisses with the saved Secret.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Select, Static, TextArea

from shared.limits import description_problem, secret_name_problem
from shared.models import Secret, SecretCreate, SecretUpdate
from tui.ui.keys import CANCEL, SAVE, Key, bindings
from tui.ui.dialogs.form import FormActions
from tui.client import ApiError, build
from tui.display import safe_str, safe_text
from tui.ui.widgets.field import Field, field_label
from tui.ui.widgets.field_error import FieldError
from tui.schema_fields import error_field, form_fields
from tui.sitedata import SiteData
from tui.ui.widgets.schema_form import SchemaForm
from tui.ui.widgets.value_editor import ValueEditor
from tui.ui.widgets.safe_input import SafeInput


class SecretFormDialog(FormActions, ModalScreen[Secret | None]):
    BINDINGS = bindings("form", SAVE, CANCEL, Key("ctrl+t", "toggle_mask", "Show/hide value", name="show"),
                        Key("ctrl+r", "toggle_raw", "Raw JSON", name="raw"))

    def __init__(self, data: SiteData, secret: Secret | None = None):
        super().__init__()
        self.data = data
        self.secret = secret
        self.limits = data.site.limits
        self.types = {kind.key: kind for kind in data.types}
        self.raw_mode = False

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        editing = self.secret is not None
        with Vertical(classes="dialog-box form-box"):
            yield Static(self._title(), classes="dialog-title", id="form-title")
            with VerticalScroll(id="form-body"):
                yield Field("Name", SafeInput(value=self.secret.name if editing else "", id="name", disabled=editing,
                                              placeholder="e.g. DATABASE_URL"), required=True)
                scopes = [(Text("site (every app may use it)"), "")]
                scopes += [(safe_text(f"app {app.name}"), app.name) for app in self.data.apps]
                yield Field(self._scope_label(), Select(scopes, value=(self.secret.app or "") if editing else "",
                                            allow_blank=False, id="scope", disabled=editing))
                kinds = [(Text("none (plain text)"), "")]
                kinds += [(safe_text(f"{kind.name} ({kind.key})"), kind.key) for kind in self.data.types]
                yield Field("Type", Select(kinds, value=(self.secret.type or "") if editing else "",
                                           allow_blank=False, id="type"))
                # The value's error line goes under the typed form too, so this is no Field.
                yield field_label("Value (leave empty to keep the current one)" if editing else "Value",
                                  required=not editing)
                yield ValueEditor(self.limits.max_value_bytes, id="value",
                                  placeholder="leave empty to keep the current value" if editing else "")
                with Vertical(id="typed"):
                    yield TextArea(id="raw", soft_wrap=True, tab_behavior="focus")
                    yield FieldError(id="raw-error")
                yield FieldError(id="value-error")
                yield Field("Description", SafeInput(value=self.secret.description if editing else "",
                                                     id="description"))
            yield from self.form_actions()

    def _scope_label(self) -> Text:
        """"Scope", with where the apps it offers come from while the scope can still be chosen."""
        label = Text("Scope", style="bold")
        if self.secret is None:
            where = "a in the Services tab makes apps" if self.app.is_admin else "an admin makes apps"
            label.append(f"  site, or an app ({where})", style="dim")
        return label

    def _title(self) -> Text:
        if self.secret is None:
            return Text("New secret", style="bold")
        title = Text("Edit ", style="bold")
        title.append_text(safe_text(self.secret.name, style="bold"))
        title.append(f" (version {self.secret.version})")
        return title

    async def on_mount(self) -> None:
        self._shown_type: str | None = None
        await self._type_changed(self.query_one("#type", Select).value or "")
        self.query_one("#description" if self.secret else "#name").focus()

    # ------------------------------------------------------------ typed value

    async def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "type":
            await self._type_changed(event.value if isinstance(event.value, str) else "")

    async def _type_changed(self, key: str) -> None:
        if key == self._shown_type:
            return
        self._shown_type = key
        await self.query(SchemaForm).remove()
        kind = self.types.get(key)
        self.query_one("#value", ValueEditor).display = kind is None
        self.query_one("#typed").display = kind is not None
        fields = form_fields(kind.schema_) if kind else None
        if fields:
            form = SchemaForm(fields, id="schema-form")
            await self.query_one("#typed").mount(form, before=0)
        self.raw_mode = kind is not None and not fields
        self._show_raw()

    def _show_raw(self) -> None:
        self.query_one("#raw", TextArea).display = self.raw_mode
        for form in self.query(SchemaForm):
            form.display = not self.raw_mode

    def action_toggle_raw(self) -> None:
        forms = self.query(SchemaForm)
        if not forms:
            return
        form = forms.first()
        raw = self.query_one("#raw", TextArea)
        try:
            if self.raw_mode:
                form.set_value(json.loads(raw.text or "{}"))
            else:
                raw.text = json.dumps(form.value(), indent=2, ensure_ascii=False)
        except ValueError:
            self.notify("Fix the value first: it cannot be converted.", severity="warning", markup=False)
            return
        self.raw_mode = not self.raw_mode
        self._show_raw()

    def action_toggle_mask(self) -> None:
        editor = self.query_one("#value", ValueEditor)
        editor.toggle_mask()
        for form in self.query(SchemaForm):
            form.set_masked(editor.masked)

    # ------------------------------------------------------------ live checks

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "name":
            problem = secret_name_problem(event.value, self.limits.max_name_length)
            self._error("name", problem if event.value else "")
        elif event.input.id == "description":
            self._error("description", description_problem(event.value) or "")

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if event.text_area.id == "raw":
            self._error("raw", _json_problem(event.text_area.text))

    # ------------------------------------------------------------ saving

    def action_save(self) -> None:
        client, site, secret = self.app.client, self.app.site, self.secret
        if secret is None:
            scope = self.query_one("#scope", Select).value or None
            self.send(self._body, client.create_secret, site, scope, group="form-save")
        else:
            self.send(self._body, client.update_secret, site, secret.app, secret.name, group="form-save")

    def _value(self) -> str | None:
        """The value to send, or None when editing and nothing was entered (keep the old one)."""
        key = self.query_one("#type", Select).value or ""
        if key not in self.types:
            text = self.query_one("#value", ValueEditor).text
            return text if text or self.secret is None else None
        if self.raw_mode:
            raw = self.query_one("#raw", TextArea).text
            if not raw.strip() and self.secret is not None:
                return None
            if _json_problem(raw):
                raise ValueError("The value is not valid JSON.")
            return raw
        form = self.query_one(SchemaForm)
        if self.secret is not None and not form.has_input():
            return None
        return json.dumps(form.value(), ensure_ascii=False)

    def _body(self) -> SecretCreate | SecretUpdate:
        """The request body; raises ValueError naming what must be fixed first, or the ApiError
        `build` raises for a field the request model refuses."""
        name = self.query_one("#name", Input).value
        description = self.query_one("#description", Input).value
        key = self.query_one("#type", Select).value or None
        if self.secret is None and secret_name_problem(name, self.limits.max_name_length):
            raise ValueError("Fix the name first.")
        if description_problem(description):
            raise ValueError("Fix the description first.")
        if self.query_one("#value", ValueEditor).over_limit() and key is None:
            raise ValueError(f"The value is over the site's limit of {self.limits.max_value_bytes:,} bytes.")
        value = self._value()
        if self.secret is None:
            return build(SecretCreate, name=name, value=value or "", description=description,
                         **({"type": key} if key else {}))
        changed: dict[str, Any] = {"expected_version": self.secret.version}
        if value is not None:
            changed["value"] = value
        if description != self.secret.description:
            changed["description"] = description
        if key != self.secret.type:
            changed["type"] = key  # None, sent as null, removes the type
        return build(SecretUpdate, **changed)

    # ------------------------------------------------------------ server errors

    def on_api_error(self, error: BaseException) -> bool:
        if not isinstance(error, ApiError):
            return False
        if error.code == "version_conflict" and self.secret is not None:
            self._offer_reload()
        elif error.code == "validation_error" and error.field_errors():
            self._place_errors(error)
        else:
            self._error("form", error.message)
            self.notify(safe_str(error.message), severity="error", markup=False)
        return True

    def _place_errors(self, error: ApiError) -> None:
        forms = self.query(SchemaForm)
        names = {spec.name for spec in forms.first().fields} if forms and not self.raw_mode else set()
        by_field: dict[str, str] = {}
        general = []
        for path, message in error.field_errors():
            field = error_field(path, message, names)
            if field is not None:
                by_field.setdefault(field, message)
            elif path in ("/name", "/description") and not names:
                self._error(path[1:], message)
            else:
                general.append(f"{path or '/'}: {message}" if path else message)
        if forms:
            forms.first().show_errors(by_field)
        target = "raw" if self.raw_mode else "value"
        self._error(target, "\n".join(general))
        self._error("form", error.message)

    def _offer_reload(self) -> None:
        from tui.ui.dialogs.confirm import ConfirmDialog

        question = Text("Someone changed ")
        question.append_text(safe_text(self.secret.name, style="bold"))
        question.append(" since you opened it. Reload its current version? What you typed stays here.")
        self.app.push_screen(ConfirmDialog("Changed by someone else", question, "Reload"),
                             lambda yes: self._reload() if yes else None)

    def _reload(self) -> None:
        secret = self.secret
        self.call_api(self.app.client.get_secret, self.app.site, secret.app, secret.name,
                      group="form-reload", done=self._reloaded)

    def _reloaded(self, fresh: Secret) -> None:
        self.secret = fresh
        self.query_one("#form-title", Static).update(self._title())
        self._error("form", f"Reloaded: now version {fresh.version}. Save again to replace it.")


def _json_problem(text: str) -> str:
    if not text.strip():
        return ""
    try:
        json.loads(text)
    except ValueError as error:
        return f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
    return ""
