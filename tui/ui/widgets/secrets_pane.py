"""The Secrets tab: a filterable table of every secret of the site, the detail pane, and the
keys that act on the highlighted secret (new, edit, delete, show, copy, refresh)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult

from shared.models import Secret
from tui.ui.keys import CLEAR_FILTER, DELETE, EDIT, FILTER, NEW, REFRESH, Key, bindings
from tui.client import SiteSecretsClient
from tui.display import safe_str, safe_text, short_time
from tui.sitedata import SiteData, fetch_site_data, haystack, id_of, scope_label
from tui.ui.messages import DeleteSecret, SecretsChanged
from tui.ui.widgets.data_pane import DataPane, PaletteCommand
from tui.ui.widgets.fitted_table import FittedTable
from tui.ui.widgets.secret_detail import SecretDetail

READING_VALUE = {"reveal", "copy"}


class SecretsPane(DataPane):
    NAME = "secrets"
    PALETTE = "Secrets"
    CHANGING = frozenset({"new", "edit", "delete"})
    BINDINGS = bindings("secrets", NEW, EDIT, DELETE, Key("s", "reveal", "Show/hide"), Key("c", "copy", "Copy"),
                        REFRESH, FILTER, CLEAR_FILTER)
    FILTER_HINT = "filter by name, description, type or scope"
    NOUN = "secrets"
    data: SiteData | None

    def compose(self) -> ComposeResult:
        table = FittedTable(id="secrets-table", cursor_type="row", zebra_stripes=True, whole=("ver", "updated"))
        table.add_columns("name", "scope", "type", "ver", "updated", "used by")
        yield table
        yield SecretDetail(id="secret-detail")

    @property
    def detail(self) -> SecretDetail:
        return self.query_one(SecretDetail)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in READING_VALUE and not self.app.can_reveal:
            return False
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

    def rows(self) -> Iterable[tuple[str, Secret]]:
        for secret in sorted(self.data.secrets if self.data else [], key=lambda s: (s.name.lower(), s.app or "")):
            yield id_of(secret), secret

    def haystack(self, secret: Secret) -> Iterable[str]:
        return haystack(secret)

    def cells(self, secret: Secret) -> list[Text]:
        return [safe_text(secret.name), safe_text(scope_label(secret)), safe_text(secret.type or "-"),
                Text(str(secret.version)), Text(short_time(secret.updated_at)),
                safe_text(", ".join(secret.used_by) or "-")]

    def show(self, secret: Secret | None) -> None:
        self.detail.show(secret, empty=self.empty_text())

    # ------------------------------------------------------------ value: reveal and copy

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

    def form(self, secret: Secret | None):
        if self.data is None:
            return None
        from tui.ui.dialogs.secret_form import SecretFormDialog

        return SecretFormDialog(self.data, secret)

    def saved(self, secret: Secret) -> SecretsChanged:
        return SecretsChanged(select=id_of(secret))

    def deletion(self, secret: Secret) -> tuple[str, Text, DeleteSecret]:
        question = Text("Delete the secret ")
        question.append_text(safe_text(secret.name, style="bold"))
        question.append(" at ")
        question.append_text(safe_text("site level" if secret.app is None else f"app {secret.app}"))
        question.append("? Services cannot load it afterwards.")
        return "Delete secret", question, DeleteSecret(secret)

    # ------------------------------------------------------------ command palette

    def palette_commands(self) -> list[PaletteCommand]:
        """This tab's actions, plus one "jump to" command per secret."""
        commands = super().palette_commands()
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
