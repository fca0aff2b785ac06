"""The error line under a form field: takes no room until there is something to say."""

from __future__ import annotations

from textual.widgets import Static

from tui.display import safe_text


class FieldError(Static):
    DEFAULT_CSS = """
    FieldError { color: $error; height: auto; display: none; }
    """

    def __init__(self, **kwargs):
        super().__init__("", **kwargs)
        self.message = ""
        """What the line says now; empty when hidden."""

    def say(self, message: str | None) -> None:
        """Show `message` (untrusted: it may quote the server) or hide the line when empty."""
        self.message = message or ""
        self.update(safe_text(message or "", multiline=True))
        self.display = bool(message)
