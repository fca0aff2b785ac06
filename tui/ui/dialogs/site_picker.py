"""Pick another site (admins): a list of the server's sites; `enter` opens, `escape` cancels."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from shared.models import Site
from tui.display import plural, safe_text


class SitePicker(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="site.cancel")]

    def __init__(self, sites: list[Site], current: str):
        super().__init__(classes="dialog")
        self._sites = sites
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static("Switch site: enter opens it, escape cancels", classes="dialog-title")
            options = [Option(safe_text(f"{site.name}  ({plural(site.secret_count, 'secret')})"), id=site.name)
                       for site in self._sites]
            yield OptionList(*options, id="sites")

    def on_mount(self) -> None:
        sites = self.query_one(OptionList)
        names = [site.name for site in self._sites]
        if self._current in names:
            sites.highlighted = names.index(self._current)
        sites.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)
