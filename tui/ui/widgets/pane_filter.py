"""`FilterablePane`: a `DataPane` whose table `/` filters as you type (the Sites and Tokens tabs).

The box stays hidden until `/`; `enter` goes back to the table on the first match, `escape`
clears it. A pane composes `filter_box()` above its table and keeps, in `rows`, the items for
which `matches(item, self.needle)` holds.
"""

from __future__ import annotations

from textual.widgets import Input

from tui.ui.keys import FILTER, Key
from tui.ui.widgets.data_pane import DataPane
from tui.ui.widgets.safe_input import SafeInput

FILTER_KEYS = (FILTER, Key("escape", "clear_filter", "Clear filter", show=False))


class FilterablePane(DataPane):
    DEFAULT_CSS = """
    FilterablePane .pane-filter { height: 3; }
    """
    FILTER_HINT = "filter"

    def filter_box(self) -> SafeInput:
        return SafeInput(placeholder=self.FILTER_HINT, id=f"{self.NAME}-filter", classes="pane-filter")

    @property
    def _box(self) -> Input:
        return self.query_one(f"#{self.NAME}-filter", Input)

    @property
    def needle(self) -> str:
        """What the filter box holds, lowercased ("" when empty)."""
        return self._box.value.strip().lower()

    def on_mount(self) -> None:
        # Textual calls DataPane.on_mount (the first load) after this one: no super() call.
        self._box.display = False

    def action_filter(self) -> None:
        self._box.display = True
        self._box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is self._box:
            event.stop()
            self.fill()
            if self.table.row_count:
                self.table.move_cursor(row=0)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input is self._box:
            event.stop()
            self.table.focus()
            self.table.move_cursor(row=0)

    def action_clear_filter(self) -> None:
        if self._box.value or self._box.display:
            self._box.value = ""
            self._box.display = False
            self.fill()
            self.table.focus()
