"""The Services tab: every service of the site with its app, bindings, last load and a "restart
needed" marker naming the stale secrets; `n` new, `b` bindings, `d` delete, `a` apps (admins)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from shared.models import Service
from tui.ui.keys import CLEAR_FILTER, DELETE, FILTER, NEW, REFRESH, Key, bindings
from tui.client import SiteSecretsClient
from tui.display import safe_str, safe_text, short_time
from tui.sitedata import ServicesData, id_of, ref_label, status_line
from tui.ui.messages import DeleteService, OpenApps, ServicesChanged
from tui.ui.widgets.data_pane import DataPane
from tui.ui.widgets.fitted_table import FittedTable


class ServicesPane(DataPane):
    NAME = "services"
    PALETTE = "Services"
    CHANGING = frozenset({"new", "bindings", "delete"})
    NOT_IN_PALETTE = frozenset({"apps"})
    BINDINGS = bindings("services", NEW, Key("b", "bindings", "Bindings"), DELETE, Key("a", "apps", "Apps"), REFRESH,
                        FILTER, CLEAR_FILTER)
    FILTER_HINT = "filter by name, app or bound secret"
    NOUN = "services"
    data: ServicesData | None

    def compose(self) -> ComposeResult:
        table = FittedTable(id="services-table", cursor_type="row", zebra_stripes=True, whole=("last load",))
        table.add_columns("name", "app", "status", "last load", "bindings")
        yield table
        with VerticalScroll(id="service-detail"):
            yield Static(id="service-fields")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apps":
            return self.app.is_admin and not self.app.read_only
        return super().check_action(action, parameters)

    # ------------------------------------------------------------ loading

    def fetch(self, client: SiteSecretsClient, site: str) -> ServicesData:
        """Services, with the apps and secrets their bindings name."""
        return ServicesData(client.list_services(site).items, client.list_apps(site), client.list_secrets(site))

    def rows(self) -> Iterable[tuple[str, Service]]:
        return ((service.name, service) for service in self.data.services) if self.data else ()

    def haystack(self, service: Service) -> Iterable[str]:
        return [service.name, service.app or "", *(ref.name for ref in service.secrets)]

    def cells(self, service: Service) -> list[Text]:
        status, style = status_line(service)
        bindings = ", ".join(ref.name if ref.app else f"site:{ref.name}" for ref in service.secrets)
        return [safe_text(service.name), safe_text(service.app or "-"), safe_text(status, style=style),
                Text(short_time(service.loaded_at)), safe_text(bindings or "-")]

    def show(self, service: Service | None) -> None:
        self.query_one("#service-fields", Static).update(self._fields(service))

    def _fields(self, service: Service | None) -> Text:
        text = Text()
        if service is None:
            return self.empty_text()
        status, style = status_line(service)
        app = self.data.app(service.app) if self.data else None
        where = "none (site secrets only)" if service.app is None else (
            f"{service.app} ({'allows' if app is None or app.site_secrets else 'refuses'} site secrets)")
        for label, value, value_style in (("service", service.name, "bold"), ("app", where, ""),
                                          ("last load", short_time(service.loaded_at), ""),
                                          ("status", status, style)):
            text.append(f"{label:<11}", style="bold")
            text.append_text(safe_text(value, style=value_style))
            text.append("\n")
        text.append("bindings", style="bold")
        if not service.secrets:
            text.append("  none", style="dim")
        current = {id_of(s): s for s in self.data.secrets} if self.data else {}
        loaded = {id_of(v): v.version for v in service.loaded_versions}
        for ref in service.secrets:
            text.append("\n  ")
            text.append_text(safe_text(ref_label(ref)))
            secret = current.get(id_of(ref))
            was = loaded.get(id_of(ref))
            text.append(": loaded " + (f"v{was}" if was is not None else "never"), style="dim")
            if secret is None:
                text.append(" · does not exist yet", style="yellow")
            else:
                text.append(f" · current v{secret.version}", style="dim")
            if ref in service.stale and service.restart_required and secret is not None:
                text.append("  restart needed", style="bold black on yellow")
        return text

    # ------------------------------------------------------------ actions

    def action_bindings(self) -> None:
        self.action_edit()

    def form(self, service: Service | None):
        if self.data is None:
            return None
        from tui.ui.dialogs.service_form import ServiceFormDialog

        return ServiceFormDialog(self.data, service)

    def saved(self, service: Service) -> ServicesChanged:
        self.notify(f"Saved service {safe_str(service.name)}.", markup=False)
        return ServicesChanged(select=service.name)

    def deletion(self, service: Service) -> tuple[str, Text, DeleteService]:
        question = Text("Delete the service ")
        question.append_text(safe_text(service.name, style="bold"))
        question.append("? Its bindings go with it, and `sitesecrets run` for it stops working.")
        return "Delete service", question, DeleteService(service)

    def action_apps(self) -> None:
        self.post_message(OpenApps())
