"""New / edit secret type: key, name, description and the JSON Schema, checked as you type
(it must parse and be a valid JSON Schema), with starting templates for new types.

Saves through the API itself so nothing typed is lost on a server error; on `type_conflict` it
lists the secrets the new schema would break. Dismisses with the saved SecretType.
"""

from __future__ import annotations

import json

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Select, Static, TextArea

from shared.limits import description_problem, type_key_problem
from shared.models import SecretType, SecretTypeCreate, SecretTypeUpdate
from tui.ui.keys import CANCEL, SAVE, bindings
from tui.ui.dialogs.form import FormActions
from tui.client import ApiError, build
from tui import jsontext
from tui.display import json_text, safe_str, safe_text
from tui.sitedata import secret_names
from tui.ui.widgets.field import Field
from tui.templates import TEMPLATES
from tui.ui.widgets.safe_input import SafeInput


def schema_problem(text: str) -> str:
    """Why `text` is not a usable JSON Schema, or "" when it is."""
    try:
        schema = jsontext.parse(text)
    except jsontext.NotJson as error:
        return str(error)
    if not isinstance(schema, dict):
        return "a schema must be a JSON object"
    from jsonschema import SchemaError, validators

    try:
        validators.validator_for(schema).check_schema(schema)
    except SchemaError as error:
        where = "/" + "/".join(str(part) for part in error.path) if error.path else "the schema"
        return f"not a valid JSON Schema at {where}: {error.message}"
    except RecursionError:  # several frames per level: a schema that parses may still nest too deeply to check
        return "the schema nests too deeply to check"
    return ""


class TypeFormDialog(FormActions, ModalScreen[SecretType | None]):
    BINDINGS = bindings("type", SAVE, CANCEL)

    def __init__(self, kind: SecretType | None = None):
        super().__init__()
        self.kind = kind

    def compose(self) -> ComposeResult:
        kind = self.kind
        with Vertical(classes="dialog-box form-box"):
            title = Text("New secret type", style="bold") if kind is None else safe_text(f"Edit type {kind.key}")
            yield Static(title, classes="dialog-title")
            with VerticalScroll(id="form-body", can_focus=False):
                yield Field("Key *", SafeInput(value=kind.key if kind else "", id="key", disabled=kind is not None,
                                               placeholder="e.g. database"))
                yield Field("Name *", SafeInput(value=kind.name if kind else "", id="name",
                                                placeholder="e.g. Database credentials"))
                yield Field("Description", SafeInput(value=kind.description if kind else "", id="description"))
                if kind is None:
                    templates = [(Text(title), title) for title in TEMPLATES]
                    yield Select(templates, prompt="start from a template", id="template")
                text = json_text(kind.schema_) if kind else '{\n  "type": "object",\n  "properties": {}\n}'
                yield Field("JSON Schema *", TextArea(text, id="schema", tab_behavior="focus"))  # escape cancels, as in every field
            yield from self.form_actions()

    def on_mount(self) -> None:
        self.query_one("#name" if self.kind else "#key", Input).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "template" and event.value in TEMPLATES:
            self.query_one("#schema", TextArea).text = json.dumps(TEMPLATES[event.value], indent=2)
            if not self.query_one("#name", Input).value:
                self.query_one("#name", Input).value = str(event.value)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "key":
            self._error("key", type_key_problem(event.value) if event.value else "")
        elif event.input.id == "description":
            self._error("description", description_problem(event.value) or "")

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._error("schema", schema_problem(event.text_area.text))

    def _body(self) -> SecretTypeCreate | SecretTypeUpdate:
        """The request body; raises ValueError naming what must be fixed first, or the ApiError
        `build` raises for a field the request model refuses."""
        key = self.query_one("#key", Input).value
        name = self.query_one("#name", Input).value
        description = self.query_one("#description", Input).value
        text = self.query_one("#schema", TextArea).text
        if self.kind is None and type_key_problem(key):
            raise ValueError("Fix the key first.")
        if not name.strip():
            raise ValueError("Give the type a name.")
        if description_problem(description):
            raise ValueError("Fix the description first.")
        problem = schema_problem(text)
        if problem:
            self._error("schema", problem)
            raise ValueError("Fix the schema first.")
        fields = {"name": name, "schema": json.loads(text), "description": description}
        return build(SecretTypeUpdate, **fields) if self.kind else build(SecretTypeCreate, key=key, **fields)

    def action_save(self) -> None:
        client, site = self.app.client, self.app.site
        if self.kind is None:
            self.send(self._body, client.create_type, site, group="type-save")
        else:
            self.send(self._body, client.update_type, site, self.kind.key, group="type-save")

    def on_api_error(self, error: BaseException) -> bool:
        if not isinstance(error, ApiError):
            return False
        if error.code == "type_conflict":
            from tui.ui.dialogs.message import MessageDialog

            self.app.push_screen(MessageDialog(
                "Schema would break secrets",
                "These secrets no longer validate against the new schema; change them first:",
                secret_names(error.details.get("secrets"))))
        else:
            messages = [f"{path}: {message}" for path, message in error.field_errors()]
            said = self.app.error_text(error)  # a full site: which limit, and who raises it
            self._error("schema" if messages else "form", "\n".join(messages) or said)
            self.notify(safe_str(said), severity="error", markup=False)
        return True
