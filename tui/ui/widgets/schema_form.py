"""A form generated from a secret type's schema: one input per top-level property (string,
integer, number, boolean, enum as a select), required fields marked, `writeOnly` and
`format: password` fields masked, and an error line under each field for the server's errors.

A `partial` form edits a stored value: every field starts blank, blank means unchanged, no field
is required, a boolean is a select whose blank is "(unchanged)", and `value()` holds only the
fields the user filled (the PATCH's `value_patch`).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Checkbox, Input, Select

from tui.display import safe_text
from tui.generate import generate_value, generated_length
from tui.schema_fields import FieldSpec, parse_scalar
from tui.ui.widgets.field import Field
from tui.ui.widgets.safe_input import SafeInput

UNCHANGED = "(unchanged)"


def _label(spec: FieldSpec, partial: bool) -> Text:
    label = safe_text(spec.name, style="bold")
    if spec.required and not partial:
        label.append(" *", style="bold red")
    if spec.secret:
        label.append("  ctrl+g generates", style="dim")
    if spec.description:
        label.append("  ")
        label.append_text(safe_text(spec.description, style="dim"))
    return label


class SchemaForm(Vertical):
    """Fields are addressed by index in widget ids: property names are untrusted text."""

    DEFAULT_CSS = """
    SchemaForm { height: auto; }
    """

    def __init__(self, fields: list[FieldSpec], partial: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.fields = fields
        self.partial = partial

    def compose(self) -> ComposeResult:
        for index, spec in enumerate(self.fields):
            yield Field(_label(spec, self.partial), self._input(index, spec), error_id=f"field-error-{index}")

    def _input(self, index: int, spec: FieldSpec):
        ident = f"field-{index}"
        if spec.kind == "boolean" and self.partial:
            return Select([(Text("true"), True), (Text("false"), False)], allow_blank=True, prompt=UNCHANGED, id=ident)
        if spec.kind == "boolean":
            return Checkbox("yes", id=ident)  # the Field's label above names it: `tls` twice read as two fields
        if spec.kind == "enum":
            options = [(safe_text(str(option)), position) for position, option in enumerate(spec.options)]
            return Select(options, allow_blank=True, prompt=UNCHANGED if self.partial else "(choose)", id=ident)
        kind = {"integer": "integer", "number": "number"}.get(spec.kind, "text")
        return SafeInput(type=kind, password=spec.secret, id=ident, classes="secret-input" if spec.secret else "",
                         placeholder=UNCHANGED if self.partial else "")

    def widget(self, index: int):
        return self.query_one(f"#field-{index}")

    def _is_select(self, spec: FieldSpec) -> bool:
        return spec.kind == "enum" or (spec.kind == "boolean" and self.partial)

    def has_input(self) -> bool:
        """True once anything was typed or chosen (an edit then replaces the value)."""
        for index, spec in enumerate(self.fields):
            widget = self.widget(index)
            if self._is_select(spec):
                if widget.value is not Select.NULL:
                    return True
            elif widget.value:
                return True
        return False

    def value(self) -> dict[str, Any]:
        """The typed object (in a partial form only the fields filled); raises ValueError after
        marking the fields that cannot be read."""
        result: dict[str, Any] = {}
        problems = {}
        for index, spec in enumerate(self.fields):
            widget = self.widget(index)
            if self._is_select(spec):
                if widget.value is not Select.NULL:
                    result[spec.name] = spec.options[widget.value] if spec.kind == "enum" else widget.value
            elif spec.kind == "boolean":
                if widget.value or spec.required:
                    result[spec.name] = bool(widget.value)
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

    def secret_field_of(self, widget: object) -> int | None:
        """The index of the password/`writeOnly` field whose input is `widget`, else None."""
        for index, spec in enumerate(self.fields):
            if spec.secret and spec.kind == "string" and self.widget(index) is widget:
                return index
        return None

    def generate(self, index: int) -> int:
        """Fill field `index` with a random value of the length its schema allows (or 32) and show
        it unmasked, once, so the user can set it at the provider; returns the length. Raises
        ValueError for bounds no length meets."""
        spec = self.fields[index]
        length = generated_length(spec.min_length, spec.max_length)
        box = self.widget(index)
        box.value = generate_value(length)
        box.password = False
        return length
