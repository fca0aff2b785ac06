"""The Secrets tab: a filterable table of every secret of the site, the detail pane, and the
keys that act on the highlighted secret (new, edit, delete, show, copy, refresh)."""

from __future__ import annotations

from typing import Any, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input

from shared.models import Secret
from tui.ui.api import ApiCaller
from tui.client import ApiError
from tui.display import safe_str, safe_text, short_time
from tui.sitedata import SiteData, id_of, matches, scope_label
from tui.ui.widgets.fitted_table import FittedTable
from tui.ui.widgets.safe_input import SafeInput
from tui.ui.widgets.secret_detail import SecretDetail

CHANGING = {"new", "edit", "delete"}
READING_VALUE = {"reveal", "copy"}


class SecretsPane(ApiCaller, Vertical):
    DEFAULT_CLASSES = "data-pane"
    BINDINGS = [
        Binding("n", "new", "New", id="secrets.new"),
        Binding("e", "edit", "Edit", id="secrets.edit"),
        Binding("d", "delete", "Delete", id="secrets.delete"),
        Binding("s", "reveal", "Show/hide", id="secrets.reveal"),
        Binding("c", "copy", "Copy", id="secrets.copy"),
        Binding("r", "refresh", "Refresh", id="secrets.refresh"),
        Binding("slash", "filter", "Filter", id="secrets.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="secrets.clear_filter"),
    ]

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.data: SiteData | None = None
        self._rows: dict[str, Secret] = {}
        self._select_after_load: str | None = None

    def compose(self) -> ComposeResult:
        yield SafeInput(placeholder="filter by name, description, type or scope", id="secrets-filter")
        table = FittedTable(id="secrets-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("name", "scope", "type", "ver", "updated", "used by")
        yield table
        yield SecretDetail(id="secret-detail")

    def on_mount(self) -> None:
        self.query_one("#secrets-filter", Input).display = False
        self.load()

    @property
    def table(self) -> DataTable:
        return self.query_one("#secrets-table", DataTable)

    @property
    def detail(self) -> SecretDetail:
        return self.query_one(SecretDetail)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in CHANGING and self.app.read_only:
            return False
        if action in READING_VALUE and not self.app.can_reveal:
            return False
        return True

    # ------------------------------------------------------------ loading

    def load(self, select: str | None = None) -> None:
        """Fetch the site's secrets, apps, types and limits; then highlight the secret whose
        `secret_id` is `select`, if given."""
        self._select_after_load = select
        client, site = self.app.client, self.app.site

        def fetch() -> SiteData:
            return SiteData(client.get_site(site), client.list_secrets(site), client.list_apps(site),
                            client.list_types(site), client.list_services(site).items)

        self.call_api(fetch, group="secrets-load", done=self._loaded)

    def _loaded(self, data: SiteData) -> None:
        self.data = data
        self.detail.services = data.services
        self._fill(self.query_one("#secrets-filter", Input).value)

    def _fill(self, needle: str) -> None:
        """Rebuild the rows for `needle`, keeping the highlighted secret where it still shows."""
        current = self.highlighted()
        wanted = self._select_after_load or (id_of(current) if current else None)
        self._select_after_load = None
        table = self.table
        table.clear()
        self._rows.clear()
        for secret in sorted(self.data.secrets if self.data else [], key=lambda s: (s.name.lower(), s.app or "")):
            if not matches(secret, needle):
                continue
            key = id_of(secret)
            self._rows[key] = secret
            table.add_row(*self._cells(secret), key=key)
        keys = list(self._rows)
        if wanted in keys:
            table.move_cursor(row=keys.index(wanted))
        self.detail.show(self.highlighted())

    @staticmethod
    def _cells(secret: Secret) -> list[Text]:
        return [safe_text(secret.name), safe_text(scope_label(secret)), safe_text(secret.type or "-"),
                Text(str(secret.version)), Text(short_time(secret.updated_at)),
                safe_text(", ".join(secret.used_by) or "-")]

    def highlighted(self) -> Secret | None:
        table = self.table
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # no valid cursor yet
            return None
        return self._rows.get(key)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.detail.show(self._rows.get(event.row_key.value))

    # ------------------------------------------------------------ filter

    def action_filter(self) -> None:
        box = self.query_one("#secrets-filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "secrets-filter":
            self._fill(event.value)
            if self.table.row_count:
                self.table.move_cursor(row=0)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "secrets-filter":
            self.table.focus()
            self.table.move_cursor(row=0)

    def action_clear_filter(self) -> None:
        box = self.query_one("#secrets-filter", Input)
        if box.value or box.display:
            box.value = ""
            box.display = False
            self._fill("")
            self.table.focus()

    # ------------------------------------------------------------ value: reveal and copy

    def action_refresh(self) -> None:
        self.load()

    def action_reveal(self) -> None:
        secret = self.highlighted()
        if secret is None:
            return
        if self.detail.revealed:
            self.detail.mask()
            return
        key = id_of(secret)

        def show(revealed) -> None:
            # The user may have moved on while the call ran: then the value is not shown.
            if self.detail.secret is not None and id_of(self.detail.secret) == key:
                self.detail.reveal(revealed.value, self.app.settings.reveal_seconds)

        self.call_api(self.app.client.reveal, self.app.site, secret.app, secret.name,
                      group="secrets-reveal", done=show)

    def action_copy(self) -> None:
        secret = self.highlighted()
        if secret is None:
            return
        name = safe_str(secret.name)
        seconds = self.app.settings.clipboard_seconds

        def copy(revealed) -> None:
            self.app.copy_secret(revealed.value)
            self.notify(f"Copied {name} to your clipboard; it will be cleared in {seconds:g}s.",
                        markup=False)

        self.call_api(self.app.client.reveal, self.app.site, secret.app, secret.name,
                      group="secrets-copy", done=copy)

    # ------------------------------------------------------------ new, edit, delete

    def action_new(self) -> None:
        self._open_form(None)

    def action_edit(self) -> None:
        secret = self.highlighted()
        if secret is not None:
            self._open_form(secret)

    def _open_form(self, secret: Secret | None) -> None:
        if self.data is None:
            return
        from tui.ui.dialogs.secret_form import SecretFormDialog

        def saved(result: Secret | None) -> None:
            if result is not None:
                self.load(select=id_of(result))

        self.app.push_screen(SecretFormDialog(self.data, secret), saved)

    def action_delete(self) -> None:
        secret = self.highlighted()
        if secret is None:
            return
        from tui.ui.dialogs.confirm import ConfirmDialog

        question = Text("Delete the secret ")
        question.append_text(safe_text(secret.name, style="bold"))
        question.append(" at ")
        question.append_text(safe_text("site level" if secret.app is None else f"app {secret.app}"))
        question.append("? Services cannot load it afterwards.")

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(secret)

        self.app.push_screen(ConfirmDialog("Delete secret", question, "Delete"), answered)

    def _delete(self, secret: Secret) -> None:
        def deleted(_: object) -> None:
            self.notify(f"Deleted {safe_str(secret.name)}.", markup=False)
            self.load()

        self.call_api(self.app.client.delete_secret, self.app.site, secret.app, secret.name,
                      group="secrets-delete", done=deleted)

    def on_api_error(self, error: BaseException) -> bool:
        if isinstance(error, ApiError) and error.code == "secret_in_use":
            from tui.ui.dialogs.message import MessageDialog

            services = [str(name) for name in error.details.get("services") or []]
            self.app.push_screen(MessageDialog(
                "Secret in use", "Services still use this secret; update them first:", services))
            return True
        return False

    # ------------------------------------------------------------ command palette

    def palette_commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        """This tab's actions, plus one "jump to" command per secret."""
        actions = [(f"Secrets: {binding.description}", binding.action) for binding in self.BINDINGS
                   if binding.show and self.check_action(binding.action, ())]
        commands = [(title, "", lambda a=action: self.run_action(a)) for title, action in actions]
        for secret in self.data.secrets if self.data else []:
            label = f"Go to secret {safe_str(secret.name)} ({scope_label(secret)})"
            commands.append((label, "", lambda s=secret: self.jump_to(s)))
        return commands

    def jump_to(self, secret: Secret) -> None:
        self.action_clear_filter()
        key = id_of(secret)
        keys = list(self._rows)
        if key in keys:
            self.table.move_cursor(row=keys.index(key))
            self.table.focus()
