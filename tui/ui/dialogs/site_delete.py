"""Delete a site with everything in it: the dialog says what goes, and the Delete button works
only once the site's name is typed exactly (`?cascade=true` is what the screen then sends).
Dismisses with True only then."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from shared.models import Site
from tui.display import plural, safe_text
from tui.sitelimits import size_text
from tui.ui.widgets.field import Field
from tui.ui.widgets.safe_input import SafeInput


def what_goes(site: Site) -> Text:
    """What the delete takes, in words; what the site does not hold is named as none, with no
    "wiped" or "revoked" said of nothing."""
    usage = site.usage
    text = Text("This deletes site ")
    text.append_text(safe_text(site.name, style="bold"))
    text.append(" and everything in it: ")
    secrets = plural(usage.secrets, "secret")
    if usage.secrets:
        secrets += f" ({size_text(usage.value_bytes)}), wiped with every kept version and the trash"
    tokens = plural(usage.tokens, "token") + (", revoked" if usage.tokens else "")
    text.append(f"{secrets}; {plural(usage.services, 'service')}; its apps and types; and {tokens}. ")
    text.append("It cannot be undone.", style="bold red")
    return text


class DeleteSiteDialog(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="site-delete.cancel")]

    def __init__(self, site: Site) -> None:
        super().__init__(classes="dialog")
        self.site = site

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(Text("Delete site", style="bold"), classes="dialog-title")
            yield Static(what_goes(self.site), id="question")
            label = Text("Type the site's name to delete it", style="bold")
            yield Field(label, SafeInput(id="confirm-name"))
            with Horizontal(classes="dialog-buttons"):
                yield Button("Delete everything (enter)", variant="error", id="yes", disabled=True)
                yield Button("Cancel (esc)", id="no")

    def on_mount(self) -> None:
        self.query_one("#confirm-name", Input).focus()

    @property
    def confirmed(self) -> bool:
        return self.query_one("#confirm-name", Input).value == self.site.name

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.query_one("#yes", Button).disabled = not self.confirmed

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.confirmed:
            self.dismiss(True)
        else:
            self.query_one(Field).error = "That is not the site's name."

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes" and self.confirmed)

    def action_cancel(self) -> None:
        self.dismiss(False)
