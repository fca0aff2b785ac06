"""New / edit secret: name, scope, type, value, description and rotation period, checked as you type.

With a type chosen the value is a form generated from the type's schema (`SchemaForm`), or raw
JSON (`ctrl+r`, and always for schemas a form cannot express). Editing a typed secret whose type
stays, the form is partial: blank fields keep their stored value and the save sends only the
fields typed, as a `value_patch` (raw JSON then is that patch). `ctrl+g` fills the value, or the
password field the cursor is in, with a random value shown once. The dialog saves through the API
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
from tui.rotation import rotation_days_problem
from tui.ui.keys import CANCEL, SAVE, Key, bindings
from tui.ui.dialogs.form import FormActions
from tui.client import ApiError, build
from tui import jsontext
from tui.display import safe_str, safe_text
from tui.ui.widgets.field import Field
from tui.ui.widgets.field_error import FieldError
from tui.schema_fields import error_field, form_fields
from tui.sitedata import SiteData
from tui.ui.widgets.schema_form import SchemaForm
from tui.ui.widgets.value_editor import ValueEditor
from tui.ui.widgets.safe_input import SafeInput


class SecretFormDialog(FormActions, ModalScreen[Secret | None]):
    BINDINGS = bindings("form", SAVE, CANCEL, Key("ctrl+t", "toggle_mask", "Show/hide value", name="show"),
                        Key("ctrl+r", "toggle_raw", "Raw JSON", name="raw"),
                        Key("ctrl+g", "generate", "Generate value", name="generate"))

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
            with VerticalScroll(id="form-body", can_focus=False):
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
                yield Static(id="value-label", classes="field-label")
                yield ValueEditor(self.limits.max_value_bytes, id="value",
                                  placeholder="leave empty to keep the current value" if editing else "")
                with Vertical(id="typed"):
                    yield TextArea(id="raw", soft_wrap=True, tab_behavior="focus")
                    yield FieldError(id="raw-error")
                yield FieldError(id="value-error")
                yield Field("Description", SafeInput(value=self.secret.description if editing else "",
                                                     id="description"))
                days = str(self.secret.rotate_every_days or "") if editing else ""
                yield Field("Rotate every (days)", SafeInput(value=days, id="rotate", type="integer",
                                                             placeholder="blank: no rotation policy"))
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
        # editing: the user came to change the value, so typing goes there; Description is a tab away
        (self._value_widget() if self.secret else self.query_one("#name")).focus()

    def _value_widget(self):
        """Where the value is typed as the form stands: the first field of a typed secret's form,
        its raw JSON, or the value editor."""
        if self.raw_mode:
            return self.query_one("#raw", TextArea)
        forms = self.query(SchemaForm)
        return forms.first().widget(0) if forms else self.query_one("#value-text", TextArea)

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
            partial = self.secret is not None and key == self.secret.type
            form = SchemaForm(fields, partial=partial, id="schema-form")
            await self.query_one("#typed").mount(form, before=0)
        self.raw_mode = kind is not None and not fields
        self._show_raw()

    def _partial(self) -> bool:
        """True when the save sends only the fields typed (`value_patch`)."""
        forms = self.query(SchemaForm)
        return bool(forms) and forms.first().partial

    def _raw_hidden(self) -> bool:
        """True when the raw JSON is hidden as the form's masked fields are: ctrl+r must not show
        in clear a password typed into its masked field; ctrl+t shows both."""
        forms = self.query(SchemaForm)
        return (self.raw_mode and self.query_one("#value", ValueEditor).masked and bool(forms)
                and any(spec.secret for spec in forms.first().fields))

    def _show_raw(self) -> None:
        self.query_one("#raw", TextArea).display = self.raw_mode
        self.query_one("#raw", TextArea).set_class(self._raw_hidden(), "masked")
        for form in self.query(SchemaForm):
            form.display = not self.raw_mode
        self.query_one("#value-label", Static).update(self._value_label())

    def _value_label(self) -> Text:
        """What the value's label says the save does with it."""
        editing = self.secret is not None
        if self._partial() and self.raw_mode:
            label = Text("Value: JSON of only the fields to change (null removes one)", style="bold")
        elif self._partial():
            label = Text("Value: blank fields keep their current value", style="bold")
        else:
            label = Text("Value (leave empty to keep the current one)" if editing else "Value", style="bold")
            if not editing:
                label.append(" *", style="bold red")
            if not self.query_one("#typed").display:
                label.append("  ctrl+g generates", style="dim")
        if self._raw_hidden():
            label.append("  hidden: ctrl+t shows it", style="dim")
        return label

    def action_toggle_raw(self) -> None:
        forms = self.query(SchemaForm)
        if not forms:
            return
        form = forms.first()
        raw = self.query_one("#raw", TextArea)
        try:
            if self.raw_mode:
                form.set_value(jsontext.parse(raw.text or "{}"))
            else:
                raw.text = json.dumps(form.value(), indent=2, ensure_ascii=False)
        except ValueError:
            self.notify("Fix the value first: it cannot be converted.", severity="warning", markup=False)
            return
        self.raw_mode = not self.raw_mode
        self._show_raw()

    def action_generate(self) -> None:
        """A random value for the value editor or the focused password field, shown once."""
        editor = self.query_one("#value", ValueEditor)
        forms = self.query(SchemaForm)
        index = forms.first().secret_field_of(self.focused) if forms and not self.raw_mode else None
        try:
            if editor.display:
                length = editor.generate()
            elif index is not None:
                length = forms.first().generate(index)
            else:
                self.notify("ctrl+g fills a password field: move the cursor to one first.", markup=False)
                return
        except ValueError as problem:  # a schema whose length bounds no value meets
            self.notify(f"Cannot generate: {safe_str(str(problem))}.", severity="error", markup=False)
            return
        self.notify(f"Generated {length} random characters; they show here until you save or cancel: "
                    "set the same value at the provider.", markup=False, timeout=10)

    def action_toggle_mask(self) -> None:
        editor = self.query_one("#value", ValueEditor)
        editor.toggle_mask()
        for form in self.query(SchemaForm):
            form.set_masked(editor.masked)
        self._show_raw()

    # ------------------------------------------------------------ live checks

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "name":
            problem = secret_name_problem(event.value, self.limits.max_name_length)
            self._error("name", problem if event.value else "")
        elif event.input.id == "description":
            self._error("description", description_problem(event.value) or "")
        elif event.input.id == "rotate":
            self._error("rotate", rotation_days_problem(event.value))

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

    def _patch(self) -> dict[str, Any] | None:
        """The fields typed in a partial form (or its raw JSON), or None when nothing was."""
        if not self.raw_mode:
            return self.query_one(SchemaForm).value() or None
        raw = self.query_one("#raw", TextArea).text
        if not raw.strip():
            return None
        if _json_problem(raw) or not isinstance(fields := jsontext.parse(raw), dict):
            raise ValueError("The fields to change must be a JSON object.")
        return fields or None

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
        rotate = self.query_one("#rotate", Input).value
        if rotation_days_problem(rotate):
            raise ValueError("Fix the rotation period first.")
        days = int(rotate) if rotate else None
        if self.secret is None:
            return build(SecretCreate, name=name, value=self._value() or "", description=description,
                         **({"type": key} if key else {}), **({"rotate_every_days": days} if days else {}))
        changed: dict[str, Any] = {"expected_version": self.secret.version}
        patch = self._patch() if self._partial() else None
        value = None if self._partial() else self._value()
        if patch is not None:
            changed["value_patch"] = patch
        if value is not None:
            changed["value"] = value
        if days != self.secret.rotate_every_days:
            changed["rotate_every_days"] = days  # None, sent as null, removes the policy
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
            said = self.app.error_text(error)  # a full site: which limit, and who raises it
            self._error("form", said)
            self.notify(safe_str(said), severity="error", markup=False)
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
    return jsontext.problem(text)
