"""The Secrets tab: a filterable table of every secret of the site, the detail pane, and the
keys that act on the highlighted secret (new, edit, delete, show, copy, refresh, history), the
due-for-rotation filter and the trash.

The rotation column is shown only while some secret of the site has a rotation policy: 80
columns have no room to spare for a column of dashes.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from shared.audit_actions import secret_target
from shared.models import Secret
from tui.ui.keys import CLEAR_FILTER, DELETE, EDIT, FILTER, NEW, REFRESH, Key, bindings
from tui.client import SiteSecretsClient
from tui.display import safe_str, safe_text, short_time
from tui.rotation import DUE_SOON_DAYS, due_within, overdue, rotation_label
from tui.sitedata import SiteData, fetch_site_data, haystack, id_of, scope_label
from tui.ui.messages import DeleteSecret, SecretsChanged, ShowAudit
from tui.ui.restart import say_restart
from tui.ui.widgets.data_pane import DataPane, PaletteCommand
from tui.ui.widgets.fitted_table import FittedTable
from tui.ui.widgets.secret_detail import SecretDetail

READING_VALUE = {"reveal", "copy"}
COLUMNS = ("name", "scope", "type", "ver", "updated", "used by")
ROTATION_COLUMN = 5
"""Where the rotation column goes when shown: before "used by"."""
HIDDEN_KEYS = (Key("h", "history", "History", show=False), Key("o", "due", "Due soon", show=False),
               Key("T", "trash", "Trash", show=False))
"""Keys kept out of the full footer; the help and the palette list them."""


class SecretsPane(DataPane):
    NAME = "secrets"
    PALETTE = "Secrets"
    CHANGING = frozenset({"new", "edit", "delete"})
    BINDINGS = bindings("secrets", NEW, EDIT, DELETE, Key("s", "reveal", "Show/hide"), Key("c", "copy", "Copy"),
                        REFRESH, FILTER, CLEAR_FILTER, *HIDDEN_KEYS, Key("a", "audit", "Audit of this secret", show=False))
    FILTER_HINT = "filter by name, description, type or scope"
    NOUN = "secrets"
    data: SiteData | None
    due_only = False
    """The due filter: only secrets due for rotation within DUE_SOON_DAYS days."""

    def compose(self) -> ComposeResult:
        yield Static(f"Due for rotation within {DUE_SOON_DAYS} days (o shows all)", id="secrets-due")
        # A row is read for its name: the others give way first, but never a time, a version or a
        # rotation marker (at most `due in 3650 d`), which cut short read as nothing.
        table = FittedTable(id="secrets-table", cursor_type="row", zebra_stripes=True,
                            whole=("ver", "updated", "rotation"), widest=("name",))
        table.add_columns(*COLUMNS)
        yield table
        yield SecretDetail(id="secret-detail")

    def on_mount(self) -> None:
        # Textual calls DataPane.on_mount (the first load) after this one: no super() call.
        self.query_one("#secrets-due", Static).display = False

    @property
    def detail(self) -> SecretDetail:
        return self.query_one(SecretDetail)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in READING_VALUE and not self.app.can_reveal:
            return False
        if action == "audit":
            return self.app.is_admin
        return super().check_action(action, parameters)

    # ------------------------------------------------------------ loading

    def fetch(self, client: SiteSecretsClient, site: str) -> SiteData:
        """The site's secrets, with the apps, types, limits and services the forms and detail use;
        the first time, what `sitesecrets` started fetching before the UI was built."""
        early = self.app.take_first_load(site)
        return early.result() if early is not None else fetch_site_data(client, site)

    def _loaded(self, data: SiteData, select: str | None) -> None:
        self.detail.services = data.services
        super()._loaded(data, select)

    def fill(self, select: str | None = None) -> None:
        self._set_columns()
        super().fill(select)

    def _set_columns(self) -> None:
        """Show the rotation column exactly while some secret has a policy."""
        wanted = self._with_rotation()
        if wanted != (len(self.table.columns) > len(COLUMNS)):
            columns = list(COLUMNS)
            if wanted:
                columns.insert(ROTATION_COLUMN, "rotation")
            self.table.clear(columns=True)
            self.table.add_columns(*columns)

    def _with_rotation(self) -> bool:
        return any(secret.rotate_every_days for secret in (self.data.secrets if self.data else []))

    def rows(self) -> Iterable[tuple[str, Secret]]:
        for secret in sorted(self.data.secrets if self.data else [], key=lambda s: (s.name.lower(), s.app or "")):
            if not self.due_only or due_within(secret, DUE_SOON_DAYS):
                yield id_of(secret), secret

    def haystack(self, secret: Secret) -> Iterable[str]:
        return haystack(secret)

    def cells(self, secret: Secret) -> list[Text]:
        cells = [safe_text(secret.name), safe_text(scope_label(secret)), safe_text(secret.type or "-"),
                 Text(str(secret.version)), Text(short_time(secret.updated_at)),
                 safe_text(", ".join(secret.used_by) or "-")]
        if self._with_rotation():
            style = "bold red" if overdue(secret) else "yellow" if due_within(secret, DUE_SOON_DAYS) else ""
            cells.insert(ROTATION_COLUMN, Text(rotation_label(secret) or "-", style=style))
        return cells

    def show(self, secret: Secret | None) -> None:
        self.detail.show(secret, empty=self.empty_text())

    def empty_text(self) -> Text:
        if self.due_only and not self.needle and self.data is not None and self.data.secrets:
            return Text(f"Nothing is due for rotation within {DUE_SOON_DAYS} days: o shows all.", style="dim")
        return super().empty_text()

    def action_due(self) -> None:
        """Toggle the due filter."""
        self.due_only = not self.due_only
        self.query_one("#secrets-due", Static).display = self.due_only
        self.fill()
        if self.table.row_count:
            self.table.move_cursor(row=0)

    # ------------------------------------------------------------ value: reveal and copy

    def action_reveal(self) -> None:
        secret = self.highlighted()
        if secret is None:
            return
        if self.detail.revealed:
            self.detail.mask()
            return
        key, site = id_of(secret), self.app.site

        def show(revealed) -> None:
            # The user may have moved on (or to another site) while the call ran: then the value is not
            # shown; nor under a dialog opened meanwhile (`h` hides it: one value on screen at a time).
            if self.app.site == site and self.detail.secret is not None and id_of(self.detail.secret) == key \
                    and self.app.screen is self.screen:
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

    def form(self, secret: Secret | None):
        if self.data is None:
            return None
        from tui.ui.dialogs.secret_form import SecretFormDialog

        return SecretFormDialog(self.data, secret)

    def saved(self, secret: Secret) -> SecretsChanged:
        before = self._rows.get(id_of(secret))
        if before is not None and before.version != secret.version:
            say_restart(self.app, secret)
        return SecretsChanged(select=id_of(secret))

    # ------------------------------------------------------------ history and trash

    def action_history(self) -> None:
        secret = self.highlighted()
        if secret is None:
            return
        self.detail.mask()  # one value on screen at a time
        from tui.ui.dialogs.history import HistoryDialog

        def closed(changed: Secret | None) -> None:
            if changed is not None:
                self.post_message(SecretsChanged(select=id_of(changed)))

        self.app.push_screen(HistoryDialog(secret, self.data.secrets if self.data else []), closed)

    def action_trash(self) -> None:
        from tui.ui.dialogs.trash import TrashDialog

        def closed(restored: Secret | None) -> None:
            if restored is not None:
                self.post_message(SecretsChanged(select=id_of(restored)))

        self.app.push_screen(TrashDialog(), closed)

    def deletion(self, secret: Secret) -> tuple[str, Text, DeleteSecret]:
        question = Text("Delete the secret ")
        question.append_text(safe_text(secret.name, style="bold"))
        question.append(" at ")
        question.append_text(safe_text("site level" if secret.app is None else f"app {secret.app}"))
        question.append("? Services cannot load it afterwards.")
        return "Delete secret", question, DeleteSecret(secret)

    def action_audit(self) -> None:
        secret = self.highlighted()
        if secret is not None:
            self.post_message(ShowAudit(secret_target(secret.app, secret.name)))

    # ------------------------------------------------------------ command palette

    def palette_commands(self) -> list[PaletteCommand]:
        """This tab's actions, plus one "jump to" command per secret."""
        commands = super().palette_commands()
        commands += [(f"{self.PALETTE}: {key.description}", "", lambda a=key.action: self.run_action(a))
                     for key in HIDDEN_KEYS]
        if self.check_action("audit", ()) and self.highlighted() is not None:
            commands.append(("Secrets: audit of this secret", "", self.action_audit))
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
