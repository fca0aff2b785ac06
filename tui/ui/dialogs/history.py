"""The history of one secret (`h` in the Secrets tab): its kept versions, newest first, with who
set each and when, and what the fingerprints say ("same as v2") without a reveal.

`s` reveals the highlighted version with the same warning and countdown as the detail pane (moving
to another version re-masks), `r` rolls back to it after a confirm, naming the services that then
need a restart. Rollback is offered only to roles that may change secrets and reveal only to those
that may read values. Dismisses with the secret as it is after a rollback, or None.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from shared.models import Rollback, Secret, SecretVersion
from tui.client import ApiError
from tui.display import safe_str, safe_text, short_time
from tui.history import counterpart, version_notes
from tui.sitedata import scope_label
from tui.ui.api import ApiCaller, could_not_load
from tui.ui.restart import say_restart
from tui.ui.widgets.fitted_table import FittedTable
from tui.ui.widgets.value_view import ValueView

HISTORY_CSS = """
#history-box { height: 100%; }
#history-table { height: auto; max-height: 12; }
#history-failed { margin-top: 1; }
#history-value-box { height: 1fr; margin-top: 1; }
"""
"""The dialog takes the screen's height so a revealed value gets every row the versions leave."""


class HistoryDialog(ApiCaller, ModalScreen[Secret | None]):
    DEFAULT_CSS = HISTORY_CSS
    BINDINGS = [
        Binding("s", "reveal", "Show/hide", id="history.reveal"),
        Binding("r", "rollback", "Roll back", id="history.rollback"),
        Binding("escape,h", "close", "Close", id="history.close"),
    ]

    def __init__(self, secret: Secret, secrets: list[Secret]) -> None:
        super().__init__(classes="dialog")
        self.secret = secret
        self.site_value = counterpart(secret, secrets)
        self.versions: list[SecretVersion] = []
        self.changed: Secret | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box", id="history-box"):
            title = Text("History of ", style="bold")
            title.append_text(safe_text(self.secret.name, style="bold"))
            title.append_text(safe_text(f" ({scope_label(self.secret)})"))
            yield Static(title, classes="dialog-title", id="history-title")
            table = FittedTable(id="history-table", cursor_type="row", zebra_stripes=True, whole=("ver", "set"))
            table.add_columns("ver", "set", "by", "note")
            yield table
            yield Static(id="history-failed")
            with VerticalScroll(id="history-value-box"):
                yield ValueView(label="value of the highlighted version", hint="", id="history-value")
            yield Static(self._keys(), id="history-keys")

    def _keys(self) -> Text:
        keys = [("s", "show/hide its value")] if self.app.can_reveal else []
        keys += [("r", "roll back to it")] if not self.app.read_only else []
        keys.append(("esc", "close"))
        text = Text()
        for index, (key, what) in enumerate(keys):
            text.append(" · " if index else "", style="dim")
            text.append(key, style="bold")
            text.append(f" {what}", style="dim")
        return text

    def on_mount(self) -> None:
        self.query_one("#history-value", ValueView).shown = self.app.can_reveal
        self.query_one("#history-failed").display = False
        self.query_one("#history-table").focus()
        self.watch(self.app, "connection", self._connection_changed, init=False)
        self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "reveal":
            return self.app.can_reveal
        if action == "rollback":
            return not self.app.read_only
        return True

    # ------------------------------------------------------------ the versions

    def load(self) -> None:
        secret = self.changed or self.secret
        self.call_api(self.app.client.list_versions, self.app.site, secret.app, secret.name,
                      group="history-load", done=self._loaded, failed=self._load_failed)

    def _load_failed(self, error: BaseException) -> None:
        """No versions and, in their place, why: an empty table would say the secret has none."""
        self._loaded([])
        failed = self.query_one("#history-failed", Static)
        failed.update(could_not_load("the history", error))
        failed.display = True

    def _connection_changed(self, connection: str) -> None:
        if connection == "online" and self.query_one("#history-failed").display:
            self.load()  # the server is back: the history a lost server could not give

    def _loaded(self, versions: list[SecretVersion]) -> None:
        self.query_one("#history-failed").display = False
        self.versions = versions
        notes = version_notes(versions, self.site_value)
        table = self.query_one("#history-table", DataTable)
        table.clear()
        for version in versions:
            note = notes[version.version]
            table.add_row(Text(f"v{version.version}"), Text(short_time(version.created_at)),
                          safe_text(version.created_by),
                          Text(note or "-", style="bold" if version.current else ""), key=str(version.version))
        self._value_view().mask()

    def highlighted(self) -> SecretVersion | None:
        table = self.query_one("#history-table", DataTable)
        row = table.cursor_row
        return self.versions[row] if self.versions and 0 <= row < len(self.versions) else None

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._value_view().mask()  # a value stays on screen only beside its own version

    def _value_view(self) -> ValueView:
        view = self.query_one("#history-value", ValueView)
        version = self.highlighted()
        view.label = f"value of v{version.version}" if version else "value"
        view.hint = "(s shows it)" if version else ""
        return view

    # ------------------------------------------------------------ reveal

    def action_reveal(self) -> None:
        version = self.highlighted()
        if version is None or not self.app.can_reveal:
            return
        view = self._value_view()
        if view.revealed:
            view.mask()
            return
        secret = self.changed or self.secret

        def show(revealed) -> None:
            current = self.highlighted()  # the user may have moved on while the call ran
            if current is not None and current.version == revealed.version:
                view.reveal(revealed.value, self.app.settings.reveal_seconds, typed=version.type is not None)

        self.call_api(self.app.client.reveal, self.app.site, secret.app, secret.name, version.version,
                      group="history-reveal", done=show)

    # ------------------------------------------------------------ rollback

    def action_rollback(self) -> None:
        version = self.highlighted()
        if version is None or self.app.read_only or self.still_saving("history-rollback"):
            return
        if version.current:
            self.notify("That is the current version already.", markup=False)
            return
        current = next((v for v in self.versions if v.current), None)
        if current is not None and version.fingerprint is not None and version.fingerprint == current.fingerprint:  # equal values
            self.notify(f"Version {version.version} holds the current value already: nothing to roll back.", markup=False)
            return
        from tui.ui.dialogs.confirm import ConfirmDialog

        secret = self.changed or self.secret
        question = Text("Roll ")
        question.append_text(safe_text(secret.name, style="bold"))
        question.append(f" back to version {version.version}? Its value becomes a new version "
                        f"{secret.version + 1}")
        if secret.used_by:
            question.append("; these services then need a restart: ")
            question.append_text(safe_text(", ".join(secret.used_by)))
        question.append(".")
        self.app.push_screen(ConfirmDialog("Roll back", question, "Roll back"),
                             lambda yes: self._rollback(secret, version) if yes else None)

    def _rollback(self, secret: Secret, version: SecretVersion) -> None:
        def done(fresh: Secret) -> None:
            self.changed = fresh
            if fresh.version == secret.version:  # the server made no new version: the value was the current one
                self.notify(f"Version {version.version} held the current value already: nothing changed.", markup=False)
            else:
                self.notify(f"Rolled {safe_str(fresh.name)} back to v{version.version}: now v{fresh.version}.",
                            markup=False)
                say_restart(self.app, fresh)
            self.load()

        body = Rollback(version=version.version, expected_version=secret.version)
        self.call_api(self.app.client.rollback, self.app.site, secret.app, secret.name, body,
                      group="history-rollback", done=done)

    def on_api_error(self, error: BaseException) -> bool:
        """A rollback refused because someone changed the secret meanwhile: show the history as it
        is now, so a second `r` rolls back against the version the user can see."""
        if not (isinstance(error, ApiError) and error.code == "version_conflict"):
            return False
        secret = self.changed or self.secret
        self.notify(f"{safe_str(secret.name)} changed meanwhile: nothing was rolled back. Here is its history "
                    "as it is now.", severity="warning", markup=False)

        def fresh(current: Secret) -> None:
            self.changed = current
            self.load()

        self.call_api(self.app.client.get_secret, self.app.site, secret.app, secret.name,
                      group="history-fresh", done=fresh)
        return True

    def action_close(self) -> None:
        if self.still_saving("history-rollback"):  # closed first, the Secrets tab kept the old version
            return
        self._value_view().mask()
        self.dismiss(self.changed)
