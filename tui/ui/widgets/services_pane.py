"""The Services tab: every service of the site with its app, bindings, last load and a "restart
needed" marker naming the stale secrets; `n` new, `b` bindings, `d` delete, `a` apps (admins)."""

from __future__ import annotations

from typing import Any, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from shared.models import Service
from tui.ui.api import ApiCaller
from tui.display import safe_str, safe_text, short_time
from tui.sitedata import ServicesData, id_of, ref_label, status_line
from tui.ui.widgets.fitted_table import FittedTable

CHANGING = {"new", "bindings", "delete"}


class ServicesPane(ApiCaller, Vertical):
    DEFAULT_CLASSES = "data-pane"
    BINDINGS = [
        Binding("n", "new", "New", id="services.new"),
        Binding("b", "bindings", "Bindings", id="services.bindings"),
        Binding("d", "delete", "Delete", id="services.delete"),
        Binding("a", "apps", "Apps", id="services.apps"),
        Binding("r", "refresh", "Refresh", id="services.refresh"),
    ]

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.data: ServicesData | None = None

    def compose(self) -> ComposeResult:
        table = FittedTable(id="services-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("name", "app", "status", "last load", "bindings")
        yield table
        with VerticalScroll(id="service-detail", can_focus=False):
            yield Static(id="service-fields")

    def on_mount(self) -> None:
        self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in CHANGING and self.app.read_only:
            return False
        if action == "apps":
            return self.app.is_admin and not self.app.read_only
        return True

    @property
    def table(self) -> DataTable:
        return self.query_one("#services-table", DataTable)

    # ------------------------------------------------------------ loading

    def load(self, select: str | None = None) -> None:
        """Fetch services, apps and secrets; then highlight the service `select` if given."""
        client, site = self.app.client, self.app.site

        def fetch() -> ServicesData:
            return ServicesData(client.list_services(site).items, client.list_apps(site), client.list_secrets(site))

        self.call_api(fetch, group="services-load", done=lambda data: self._loaded(data, select))

    def _loaded(self, data: ServicesData, select: str | None) -> None:
        current = self.highlighted()
        select = select or (current.name if current else None)
        self.data = data
        table = self.table
        table.clear()
        for service in data.services:
            table.add_row(*self._cells(service), key=service.name)
        names = [service.name for service in data.services]
        if select in names:
            table.move_cursor(row=names.index(select))
        self._show(self.highlighted())

    @staticmethod
    def _cells(service: Service) -> list[Text]:
        status, style = status_line(service)
        bindings = ", ".join(ref.name if ref.app else f"site:{ref.name}" for ref in service.secrets)
        return [safe_text(service.name), safe_text(service.app or "-"), safe_text(status, style=style),
                Text(short_time(service.loaded_at)), safe_text(bindings or "-")]

    def highlighted(self) -> Service | None:
        table = self.table
        if self.data is None or table.row_count == 0 or not 0 <= table.cursor_row < len(self.data.services):
            return None
        return self.data.services[table.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(self.highlighted())

    def _show(self, service: Service | None) -> None:
        self.query_one("#service-fields", Static).update(self._fields(service))

    def _fields(self, service: Service | None) -> Text:
        text = Text()
        if service is None:
            hint = "" if self.app.read_only else "; n creates one"
            text.append(f"No services yet{hint}.", style="dim")
            return text
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
            text.append("  loaded " + (f"v{was}" if was is not None else "never"), style="dim")
            if secret is None:
                text.append(" · does not exist yet", style="yellow")
            else:
                text.append(f" · current v{secret.version}", style="dim")
            if ref in service.stale and service.restart_required and secret is not None:
                text.append("  restart needed", style="bold black on yellow")
        return text

    # ------------------------------------------------------------ actions

    def action_refresh(self) -> None:
        self.load()

    def action_new(self) -> None:
        self._open_form(None)

    def action_bindings(self) -> None:
        service = self.highlighted()
        if service is not None:
            self._open_form(service)

    def _open_form(self, service: Service | None) -> None:
        if self.data is None:
            return
        from tui.ui.dialogs.service_form import ServiceFormDialog

        def saved(result: Service | None) -> None:
            if result is not None:
                self.notify(f"Saved service {safe_str(result.name)}.", markup=False)
                self.load(select=result.name)
                self.screen.reload_secrets()

        self.app.push_screen(ServiceFormDialog(self.data, service), saved)

    def action_delete(self) -> None:
        service = self.highlighted()
        if service is None:
            return
        from tui.ui.dialogs.confirm import ConfirmDialog

        question = Text("Delete the service ")
        question.append_text(safe_text(service.name, style="bold"))
        question.append("? Its bindings go with it, and `sitesecrets run` for it stops working.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.call_api(self.app.client.delete_service, self.app.site, service.name,
                              group="services-delete", done=lambda _: self._deleted(service))

        self.app.push_screen(ConfirmDialog("Delete service", question, "Delete"), answered)

    def _deleted(self, service: Service) -> None:
        self.notify(f"Deleted service {safe_str(service.name)}.", markup=False)
        self.load()
        self.screen.reload_secrets()

    def action_apps(self) -> None:
        self.screen.action_apps()

    # ------------------------------------------------------------ command palette

    def palette_commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        return [(f"Services: {binding.description}", "", lambda a=binding.action: self.run_action(a))
                for binding in self.BINDINGS if binding.action != "apps" and self.check_action(binding.action, ())]

