"""A multi-line value input that hides what is typed until asked, with a live byte count.

Masking uses `text-opacity: 0`, which makes Textual paint spaces instead of the characters, so
the value is never drawn while masked; the user can still type and paste a PEM key.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from shared.limits import value_size
from tui.display import plural
from tui.generate import DEFAULT_LENGTH, generate_value


class ValueEditor(Vertical):
    DEFAULT_CSS = """
    ValueEditor { height: auto; }
    ValueEditor TextArea { height: 5; }
    ValueEditor TextArea.masked { text-opacity: 0%; }
    ValueEditor .value-count { height: 1; color: $text-muted; }
    ValueEditor .value-count.over { color: $error; }
    """

    def __init__(self, limit: int, placeholder: str = "", **kwargs: Any):
        super().__init__(**kwargs)
        self.limit = limit
        self._placeholder = placeholder
        self.masked = True

    def compose(self) -> ComposeResult:
        yield TextArea(classes="masked", soft_wrap=True, tab_behavior="focus", id="value-text",
                       placeholder=self._placeholder)
        yield Static(classes="value-count")

    def on_mount(self) -> None:
        self._count()

    @property
    def text(self) -> str:
        return self.query_one(TextArea).text

    @text.setter
    def text(self, value: str) -> None:
        self.query_one(TextArea).text = value

    def over_limit(self) -> bool:
        return value_size(self.text) > self.limit

    def toggle_mask(self) -> None:
        self.masked = not self.masked
        self.query_one(TextArea).set_class(self.masked, "masked")
        self._count()

    def generate(self) -> int:
        """Replace the text with a random value of 32 characters and show it, once, so the user
        can set it at the provider; returns the length."""
        self.text = generate_value(DEFAULT_LENGTH)
        if self.masked:
            self.toggle_mask()
        return DEFAULT_LENGTH

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._count()

    def _count(self) -> None:
        size = value_size(self.text)
        lines = f", {plural(self.text.count(chr(10)) + 1, 'line')}" if self.text else ""  # none said of nothing
        note = Text(f"{size:,} / {self.limit:,} bytes{lines} · ctrl+t ")
        note.append("shows what you typed" if self.masked else "hides it again")
        counter = self.query_one(".value-count", Static)
        counter.update(note)
        counter.set_class(size > self.limit, "over")
