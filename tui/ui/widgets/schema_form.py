"""A form generated from a secret type's schema: one input per top-level property (string,
integer, number, boolean, enum as a select), required fields marked, `writeOnly` and
`format: password` fields masked, and an error line under each field for the server's errors."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Checkbox, Input, Select

from tui.display import safe_text
from tui.schema_fields import FieldSpec, parse_scalar
from tui.ui.widgets.field import Field
from tui.ui.widgets.safe_input import SafeInput


def _label(spec: FieldSpec) -> Text:
    label = safe_text(spec.name, style="bold")
    if spec.required:
        label.append(" *", style="bold red")
    if spec.description:
        label.append("  ")
        label.append_text(safe_text(spec.description, style="dim"))
    return label


class SchemaForm(Vertical):
    """Fields are addressed by index in widget ids: property names are untrusted text."""

    DEFAULT_CSS = """
    SchemaForm { height: auto; }
    """

    def __init__(self, fields: list[FieldSpec], **kwargs: Any):
        super().__init__(**kwargs)
        self.fields = fields

    def compose(self) -> ComposeResult:
        for index, spec in enumerate(self.fields):
            yield Field(_label(spec), self._input(index, spec), error_id=f"field-error-{index}")

    @staticmethod
    def _input(index: int, spec: FieldSpec):
        ident = f"field-{index}"
        if spec.kind == "boolean":  # the Field's label above names it: `tls` twice read as two fields
            return Checkbox("yes", id=ident)
        if spec.kind == "enum":
            options = [(safe_text(str(option)), position) for position, option in enumerate(spec.options)]
            return Select(options, allow_blank=True, prompt="(choose)", id=ident)
        kind = {"integer": "integer", "number": "number"}.get(spec.kind, "text")
        return SafeInput(type=kind, password=spec.secret, id=ident, classes="secret-input" if spec.secret else "")

    def widget(self, index: int):
        return self.query_one(f"#field-{index}")

    def has_input(self) -> bool:
        """True once anything was typed or chosen (an edit then replaces the value)."""
        for index, spec in enumerate(self.fields):
            widget = self.widget(index)
            if spec.kind == "boolean" and widget.value:
                return True
            if spec.kind == "enum" and widget.value is not Select.NULL:
                return True
            if spec.kind not in ("boolean", "enum") and widget.value:
                return True
        return False

    def value(self) -> dict[str, Any]:
        """The typed object; raises ValueError after marking the fields that cannot be read."""
        result: dict[str, Any] = {}
        problems = {}
        for index, spec in enumerate(self.fields):
            widget = self.widget(index)
            if spec.kind == "boolean":
                if widget.value or spec.required:
                    result[spec.name] = bool(widget.value)
            elif spec.kind == "enum":
                if widget.value is not Select.NULL:
                    result[spec.name] = spec.options[widget.value]
            elif widget.value != "":
                try:
                    result[spec.name] = parse_scalar(spec, widget.value)
                except ValueError as error:
                    problems[spec.name] = str(error)
        if problems:
            self.show_errors(problems)
            raise ValueError("some fields cannot be read")
        return result

    def set_value(self, data: dict[str, Any]) -> None:
        """Fill the fields from `data`, ignoring what does not fit."""
        for index, spec in enumerate(self.fields):
            if spec.name not in data:
                continue
            item, widget = data[spec.name], self.widget(index)
            if spec.kind == "boolean":
                widget.value = bool(item)
            elif spec.kind == "enum":
                if item in spec.options:
                    widget.value = spec.options.index(item)
            else:
                widget.value = str(item)

    def show_errors(self, errors: dict[str, str]) -> None:
        """Put each message beside its field; clears the others."""
        for index, spec in enumerate(self.fields):
            self.query(Field)[index].error = errors.get(spec.name, "")

    def set_masked(self, masked: bool) -> None:
        for box in self.query(".secret-input").results(Input):
            box.password = masked
