"""`NewTokenPanel`: a token just created, shown this once with a copy button, in the dialog that
created it (the new-site and new-token dialogs). The dialog drops the token when it closes: the
server keeps only its hash, so nothing can show it again."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from shared.models import CreatedToken
from tui.display import safe_text


class NewTokenPanel(Vertical):
    DEFAULT_CSS = """
    NewTokenPanel { height: auto; display: none; }
    NewTokenPanel #token-value { background: $boost; padding: 0 1; margin: 1 0; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._token: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="token-about")
        yield Static(id="token-value")
        yield Static(Text("It is shown this once: copy it now (c) and keep it somewhere safe. "
                          "Only its hash is stored; a lost token is revoked and replaced.", style="yellow"))
        with Horizontal(classes="dialog-buttons"):
            yield Button("Copy (c)", variant="primary", id="copy-token")
            yield Button("Close (esc)", id="close-token")

    def show_token(self, created: CreatedToken, lead: Text | None = None) -> None:
        """Show `created.token` under `lead` (what was created), and focus the copy button."""
        self._token = created.token
        about = lead.copy() if lead is not None else Text()
        about.append("Token ")
        about.append_text(safe_text(created.name, style="bold"))
        about.append(f" ({created.role.value}")
        if created.site:
            about.append(", site ")
            about.append_text(safe_text(created.site))
        if created.service:
            about.append(", service ")
            about.append_text(safe_text(created.service))
        about.append("):")
        self.query_one("#token-about", Static).update(about)
        self.query_one("#token-value", Static).update(safe_text(created.token))
        self.display = True
        self.query_one("#copy-token", Button).focus()

    @property
    def shown(self) -> bool:
        return self._token is not None

    def copy(self) -> None:
        """The token onto the clipboard (OSC 52, cleared later like a copied value)."""
        if self._token is not None:
            self.app.copy_secret(self._token)
            seconds = self.app.settings.clipboard_seconds
            self.notify(f"Copied the token to your clipboard; it will be cleared in {seconds:g}s.", markup=False)

    def forget(self) -> None:
        self._token = None
        self.query_one("#token-value", Static).update("")


class ShowsNewToken:
    """Mix into a dialog (before `FormActions`) that shows a `NewTokenPanel` once its token is made:
    `c` and the panel's Copy button copy it, the panel's Close button closes as `escape` does."""

    def action_copy(self) -> None:
        self.query_one(NewTokenPanel).copy()  # type: ignore[attr-defined]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "copy-token":
            event.stop()
            self.action_copy()
        elif event.button.id == "close-token":
            event.stop()
            self.action_cancel()  # type: ignore[attr-defined]
        else:
            super().on_button_pressed(event)  # type: ignore[misc]
