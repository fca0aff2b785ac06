"""The site's trash (`T` in the Secrets tab): deleted secrets, with who deleted them, when, and
when the server purges them for good.

`r` restores the highlighted secret (roles that may change secrets), `p` purges it now after a
confirm (admins). Dismisses with the last secret restored, so the Secrets tab reloads and
highlights it, or None.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from shared.models import Secret, TrashedSecret
from tui.client import ApiError
from tui.display import safe_str, safe_text, short_time
from tui.sitedata import id_of, scope_label
from tui.ui.api import ApiCaller, could_not_load
from tui.ui.widgets.fitted_table import FittedTable

EMPTY = "The trash is empty."
CHANGES = ("trash-restore", "trash-purge")
"""The groups of the calls that change the trash: one at a time."""

TRASH_CSS = """
#trash-box { height: auto; max-height: 100%; }
#trash-table { height: auto; max-height: 14; }
#trash-empty { color: $text-muted; }
"""


class TrashDialog(ApiCaller, ModalScreen[Secret | None]):
    DEFAULT_CSS = TRASH_CSS
    BINDINGS = [
        Binding("r", "restore", "Restore", id="trash.restore"),
        Binding("p", "purge", "Purge", id="trash.purge"),
        Binding("escape,T", "close", "Close", id="trash.close"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="dialog")
        self.items: list[TrashedSecret] = []
        self.restored: Secret | None = None
        self.loads = 0
        """Loads done so far (tests wait for the first)."""
        self.load_failed = False
        """The last load failed: the dialog says why in place of the rows."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box", id="trash-box"):
            title = Text("Trash of site ", style="bold")
            title.append_text(safe_text(self.app.site, style="bold"))
            yield Static(title, classes="dialog-title")
            table = FittedTable(id="trash-table", cursor_type="row", zebra_stripes=True, whole=("ver", "deleted", "purge at"))
            table.add_columns("name", "scope", "ver", "deleted", "by", "purge at")
            yield table
            yield Static(EMPTY, id="trash-empty")
            yield Static(self._keys(), id="trash-keys")

    def _keys(self, item: TrashedSecret | None = None) -> Text:
        """The keys, after the highlighted secret's whole name: the table cuts long names, and two
        alike in their first cells looked the same, so `r` or `p` acted on one the user could not tell."""
        keys = [("r", "restore")] if not self.app.read_only else []
        keys += [("p", "purge now")] if self._may_purge() else []
        keys.append(("esc", "close"))
        text = Text()
        if item is not None:
            text.append_text(safe_text(item.name, style="bold"))
            text.append_text(safe_text(f" ({scope_label(item)}): "))
        for index, (key, what) in enumerate(keys):
            text.append(" · " if index else "", style="dim")
            text.append(key, style="bold")
            text.append(f" {what}", style="dim")
        return text

    def _may_purge(self) -> bool:
        return self.app.is_admin and not self.app.read_only

    def on_mount(self) -> None:
        self.query_one("#trash-empty").display = False
        self.query_one("#trash-table").focus()
        self.watch(self.app, "connection", self._connection_changed, init=False)
        self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "restore":
            return not self.app.read_only
        if action == "purge":
            return self._may_purge()
        return True

    def load(self) -> None:
        self.call_api(self.app.client.list_trash, self.app.site, group="trash-load", done=self._loaded,
                      failed=self._load_failed)

    def _load_failed(self, error: BaseException) -> None:
        """No rows and, in their place, why: not "The trash is empty", which it may not be."""
        self.items = []
        table = self.query_one("#trash-table", DataTable)
        table.clear()
        table.display = False
        self.load_failed = True
        failed = self.query_one("#trash-empty", Static)
        failed.update(could_not_load("the trash", error))
        failed.display = True
        self._show_highlighted()  # no row: no name before the keys

    def _connection_changed(self, connection: str) -> None:
        if connection == "online" and self.load_failed:
            self.load()  # the server is back: the trash a lost server could not give

    def _loaded(self, items: list[TrashedSecret]) -> None:
        self.load_failed = False
        self.query_one("#trash-empty", Static).update(EMPTY)
        self.loads += 1
        self.items = sorted(items, key=lambda item: (item.name.lower(), item.app or ""))
        table = self.query_one("#trash-table", DataTable)
        table.clear()
        for item in self.items:
            table.add_row(safe_text(item.name), safe_text(scope_label(item)), Text(str(item.version)),
                          Text(short_time(item.deleted_at)), safe_text(item.deleted_by),
                          Text(short_time(item.purge_at)), key=id_of(item))
        table.display = bool(self.items)
        self.query_one("#trash-empty").display = not self.items
        self._show_highlighted()

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._show_highlighted()

    def _show_highlighted(self) -> None:
        self.query_one("#trash-keys", Static).update(self._keys(self.highlighted()))

    def highlighted(self) -> TrashedSecret | None:
        row = self.query_one("#trash-table", DataTable).cursor_row
        return self.items[row] if self.items and 0 <= row < len(self.items) else None

    def action_restore(self) -> None:
        item = self.highlighted()
        if item is None or self.app.read_only or self.still_saving(*CHANGES):
            return

        def restored(secret: Secret) -> None:
            self.restored = secret
            self.notify(f"Restored {safe_str(secret.name)} ({scope_label(secret)}).", markup=False)
            self.load()

        self.call_api(self.app.client.restore_secret, self.app.site, item.app, item.name,
                      group="trash-restore", done=restored, failed=self._gone_meanwhile)

    def _gone_meanwhile(self, error: BaseException) -> None:
        """Restored or purged elsewhere meanwhile: the trash as it is now, without that row."""
        if isinstance(error, ApiError) and error.code == "not_found":
            self.load()

    def action_purge(self) -> None:
        item = self.highlighted()
        if item is None or not self._may_purge() or self.still_saving(*CHANGES):
            return
        from tui.ui.dialogs.confirm import ConfirmDialog

        question = Text("Purge ")
        question.append_text(safe_text(item.name, style="bold"))
        question.append_text(safe_text(f" ({scope_label(item)}) now? Every kept version is wiped; "
                                       "it cannot be restored afterwards."))
        self.app.push_screen(ConfirmDialog("Purge secret", question, "Purge"),
                             lambda yes: self._purge(item) if yes else None)

    def _purge(self, item: TrashedSecret) -> None:
        def purged(_: object) -> None:
            self.notify(f"Purged {safe_str(item.name)}.", markup=False)
            self.load()

        self.call_api(self.app.client.purge_secret, self.app.site, item.app, item.name,
                      group="trash-purge", done=purged, failed=self._gone_meanwhile)

    def action_close(self) -> None:
        if not self.still_saving(*CHANGES):  # closed first, a restored secret was missing from the Secrets tab
            self.dismiss(self.restored)
