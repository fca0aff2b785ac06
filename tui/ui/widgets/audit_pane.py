"""The Audit tab (admins): the site's audit log newest first, filtered by action, actor or
target, loading older pages as the table scrolls towards its end."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input

from shared.models import AuditEvent, AuditPage
from tui.ui.keys import FILTER, REFRESH, bindings
from tui.display import safe_text, short_time
from tui.ui.widgets.data_pane import DataPane
from tui.ui.widgets.fitted_table import FittedTable
from tui.ui.widgets.safe_input import SafeInput

FILTERS = ("action", "actor", "target")
_OUTCOME_STYLE = {"ok": "green", "denied": "bold red", "error": "red"}


class AuditTable(FittedTable):
    """A DataTable that says when its end comes into view, so older events can be fetched."""

    class NearEnd(Message):
        pass

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.row_count and new_value >= self.max_scroll_y - 2:
            self.post_message(self.NearEnd())

    def watch_cursor_coordinate(self, old_value, new_value) -> None:
        super().watch_cursor_coordinate(old_value, new_value)
        if self.row_count and new_value.row >= self.row_count - 3:
            self.post_message(self.NearEnd())


class AuditPane(DataPane):
    """Pages in as the table scrolls, instead of `DataPane`'s one load; nothing to select or change."""

    NAME = "audit"
    PALETTE = "Audit"
    PAGE_SIZE = 50
    BINDINGS = bindings("audit", REFRESH, FILTER)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._next: str | None = None
        self._loading_more = False
        self._count = 0

    def compose(self) -> ComposeResult:
        with Horizontal(id="audit-filters"):
            for name in FILTERS:
                yield SafeInput(placeholder=name, id=f"audit-{name}", classes="audit-filter")
        table = AuditTable(id="audit-table", cursor_type="row", zebra_stripes=True, whole=("at", "outcome"))
        table.add_columns("at", "outcome", "action", "actor", "target")
        yield table

    def filters(self) -> dict[str, str]:
        return {name: self.query_one(f"#audit-{name}", Input).value.strip() for name in FILTERS}

    def load(self, select: str | None = None) -> None:
        """Fetch the newest page for the current filters, replacing the table."""
        self._next = None
        self._loading_more = True
        self.call_api(self._fetch, None, group="audit-load", done=lambda page: self._add(page, replace=True))

    def _fetch(self, before: str | None) -> AuditPage:
        return self.app.client.audit(self.app.site, limit=self.PAGE_SIZE, before=before, **self.filters())

    def on_audit_table_near_end(self, _: AuditTable.NearEnd) -> None:
        if self._next and not self._loading_more:
            self._loading_more = True
            self.call_api(self._fetch, self._next, group="audit-more", done=lambda page: self._add(page))

    def _add(self, page: AuditPage, replace: bool = False) -> None:
        table = self.query_one(AuditTable)
        if replace:
            table.clear()
            self._count = 0
        for event in page.items:
            self._count += 1
            table.add_row(*self._cells(event), key=f"{event.id}-{self._count}")
        self._next = page.next
        self._loading_more = False

    @staticmethod
    def _cells(event: AuditEvent) -> list[Text]:
        # Target last: it is the longest and may be cut at 80 columns; the rest stay visible.
        return [Text(short_time(event.at)), Text(event.outcome, style=_OUTCOME_STYLE.get(event.outcome, "")),
                safe_text(event.action), safe_text(event.actor or "-"), safe_text(event.target or "-")]

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.load()
        self.query_one(AuditTable).focus()

    def on_api_error(self, error: BaseException) -> bool:
        self._loading_more = False
        return False

    def action_filter(self) -> None:
        self.query_one("#audit-action", Input).focus()
