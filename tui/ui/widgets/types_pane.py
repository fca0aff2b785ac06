"""The Secret Types tab: a table of the site's types, the highlighted type's schema as
syntax-highlighted JSON, and new / edit / delete."""

from __future__ import annotations

import json
from typing import Any, Callable

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from shared.models import SecretType
from tui.ui.api import ApiCaller
from tui.client import ApiError
from tui.display import safe_str, safe_text
from tui.sitedata import secret_names
from tui.ui.widgets.fitted_table import FittedTable

CHANGING = {"new", "edit", "delete"}


def schema_text(schema: dict[str, Any]) -> str:
    """The schema as indented JSON with control characters spelled out (it is untrusted)."""
    return safe_str(json.dumps(schema, indent=2, ensure_ascii=False), multiline=True)


def field_count(schema: dict[str, Any]) -> int:
    properties = schema.get("properties")
    return len(properties) if isinstance(properties, dict) else 0


class TypesPane(ApiCaller, Vertical):
    DEFAULT_CLASSES = "data-pane"
    BINDINGS = [
        Binding("n", "new", "New", id="types.new"),
        Binding("e", "edit", "Edit", id="types.edit"),
        Binding("d", "delete", "Delete", id="types.delete"),
        Binding("r", "refresh", "Refresh", id="types.refresh"),
    ]

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.types: list[SecretType] = []

    def compose(self) -> ComposeResult:
        table = FittedTable(id="types-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("name", "key", "fields", "secrets")
        yield table
        with VerticalScroll(id="type-detail", can_focus=False):
            yield Static(id="type-schema")

    def on_mount(self) -> None:
        self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in CHANGING and self.app.read_only)

    def load(self, select: str | None = None) -> None:
        site = self.app.site
        self.call_api(self.app.client.list_types, site, group="types-load",
                      done=lambda types: self._loaded(types, select))

    def _loaded(self, types: list[SecretType], select: str | None) -> None:
        current = self.highlighted()
        select = select or (current.key if current else None)
        self.types = sorted(types, key=lambda t: t.key)
        table = self.query_one(DataTable)
        table.clear()
        for kind in self.types:
            table.add_row(safe_text(kind.name), safe_text(kind.key), Text(str(field_count(kind.schema_))),
                          Text(str(kind.secret_count)), key=kind.key)
        keys = [kind.key for kind in self.types]
        if select in keys:
            table.move_cursor(row=keys.index(select))
        self._show(self.highlighted())

    def highlighted(self) -> SecretType | None:
        table = self.query_one(DataTable)
        if table.row_count == 0 or not 0 <= table.cursor_row < len(self.types):
            return None
        return self.types[table.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(self.highlighted())

    def _show(self, kind: SecretType | None) -> None:
        view = self.query_one("#type-schema", Static)
        if kind is None:
            view.update(Text("No secret types yet; n creates one.", style="dim"))
            return
        head = Text()
        head.append_text(safe_text(kind.name, style="bold"))
        head.append(" (")
        head.append_text(safe_text(kind.key))
        head.append(f"), used by {kind.secret_count} secret(s)\n")
        head.append_text(safe_text(kind.description, multiline=True))
        code = Syntax(schema_text(kind.schema_), "json", theme="ansi_dark", word_wrap=True,
                      background_color="default")
        view.update(Group(head, code))

    def action_refresh(self) -> None:
        self.load()

    def action_new(self) -> None:
        self._open_form(None)

    def action_edit(self) -> None:
        kind = self.highlighted()
        if kind is not None:
            self._open_form(kind)

    def _open_form(self, kind: SecretType | None) -> None:
        from tui.ui.dialogs.type_form import TypeFormDialog

        def saved(result: SecretType | None) -> None:
            if result is not None:
                self.load(select=result.key)

        self.app.push_screen(TypeFormDialog(kind), saved)

    def action_delete(self) -> None:
        kind = self.highlighted()
        if kind is None:
            return
        from tui.ui.dialogs.confirm import ConfirmDialog

        question = Text("Delete the secret type ")
        question.append_text(safe_text(kind.name, style="bold"))
        question.append(" (")
        question.append_text(safe_text(kind.key))
        question.append(")?")

        def answered(yes: bool | None) -> None:
            if yes:
                self.call_api(self.app.client.delete_type, self.app.site, kind.key, group="types-delete",
                              done=lambda _: self._deleted(kind))

        self.app.push_screen(ConfirmDialog("Delete secret type", question, "Delete"), answered)

    def _deleted(self, kind: SecretType) -> None:
        self.notify(f"Deleted type {safe_str(kind.key)}.", markup=False)
        self.load()

    def on_api_error(self, error: BaseException) -> bool:
        if isinstance(error, ApiError) and error.code == "type_in_use":
            from tui.ui.dialogs.message import MessageDialog

            secrets = [safe_str(item) for item in secret_names(error.details.get("secrets"))]
            self.app.push_screen(MessageDialog("Type in use", "These secrets use the type; change them first:",
                                               secrets))
            return True
        return False

    def palette_commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        return [(f"Secret Types: {binding.description}", "", lambda a=binding.action: self.run_action(a))
                for binding in self.BINDINGS if self.check_action(binding.action, ())]

