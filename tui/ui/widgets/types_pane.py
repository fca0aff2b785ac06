"""The Secret Types tab: a table of the site's types, the highlighted type's schema as
syntax-highlighted JSON, and new / edit / delete."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from shared.models import SecretType
from tui.ui.keys import CLEAR_FILTER, DELETE, EDIT, FILTER, NEW, REFRESH, bindings
from tui.client import SiteSecretsClient
from tui.display import plural, safe_str, safe_text
from tui.ui.messages import DeleteType, TypesChanged
from tui.ui.widgets.data_pane import DataPane
from tui.ui.widgets.fitted_table import FittedTable


def schema_text(schema: dict[str, Any]) -> str:
    """The schema as indented JSON with control characters spelled out (it is untrusted)."""
    return safe_str(json.dumps(schema, indent=2, ensure_ascii=False), multiline=True)


def field_count(schema: dict[str, Any]) -> int:
    properties = schema.get("properties")
    return len(properties) if isinstance(properties, dict) else 0


class TypesPane(DataPane):
    NAME = "types"
    PALETTE = "Secret Types"
    CHANGING = frozenset({"new", "edit", "delete"})
    BINDINGS = bindings("types", NEW, EDIT, DELETE, REFRESH, FILTER, CLEAR_FILTER)
    FILTER_HINT = "filter by name, key or description"
    NOUN = "secret types"
    data: list[SecretType] | None

    def compose(self) -> ComposeResult:
        table = FittedTable(id="types-table", cursor_type="row", zebra_stripes=True, whole=("fields", "secrets"))
        table.add_columns("name", "key", "fields", "secrets")
        yield table
        with VerticalScroll(id="type-detail"):
            yield Static(id="type-schema")

    @property
    def types(self) -> list[SecretType]:
        """The site's types by key; empty until loaded."""
        return self.data or []

    def fetch(self, client: SiteSecretsClient, site: str) -> list[SecretType]:
        return sorted(client.list_types(site), key=lambda kind: kind.key)

    def rows(self) -> Iterable[tuple[str, SecretType]]:
        return ((kind.key, kind) for kind in self.types)

    def haystack(self, kind: SecretType) -> Iterable[str]:
        return kind.name, kind.key, kind.description

    def cells(self, kind: SecretType) -> list[Text]:
        return [safe_text(kind.name), safe_text(kind.key), Text(str(field_count(kind.schema_))),
                Text(str(kind.secret_count))]

    def show(self, kind: SecretType | None) -> None:
        view = self.query_one("#type-schema", Static)
        if kind is None:
            view.update(self.empty_text())
            return
        head = Text()
        head.append_text(safe_text(kind.name, style="bold"))
        head.append(" (")
        head.append_text(safe_text(kind.key))
        head.append(f"), used by {plural(kind.secret_count, 'secret')}\n")
        head.append_text(safe_text(kind.description, multiline=True))
        code = Syntax(schema_text(kind.schema_), "json", theme="ansi_dark", word_wrap=True,
                      background_color="default")
        view.update(Group(head, code))

    def form(self, kind: SecretType | None):
        from tui.ui.dialogs.type_form import TypeFormDialog

        return TypeFormDialog(kind)

    def saved(self, kind: SecretType) -> TypesChanged:
        return TypesChanged(select=kind.key)

    def deletion(self, kind: SecretType) -> tuple[str, Text, DeleteType]:
        question = Text("Delete the secret type ")
        question.append_text(safe_text(kind.name, style="bold"))
        question.append(" (")
        question.append_text(safe_text(kind.key))
        question.append(")?")
        return "Delete secret type", question, DeleteType(kind)
