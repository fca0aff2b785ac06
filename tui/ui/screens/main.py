"""The main screen: status header, the Secrets / Secret Types / Audit / Services tabs (and, for
admins, Sites and Tokens; see `operator.py`), and the footer.

Only the Secrets tab is built at start. The others are imported, built and loaded the first time
they are shown (Textual's `Lazy` would mount them right after the first frame, loading data the
user may never look at while the first screen is still being drawn).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, TabbedContent, TabPane, Tabs

from tui.client import ApiError
from tui.display import safe_str
from tui.sitedata import secret_names
from tui.ui.api import ApiCaller
from tui.ui.messages import (DeleteSecret, DeleteService, DeleteType, OpenApps, SecretsChanged, ServicesChanged,
                             ShowAudit, TypesChanged)
from tui.ui.screens.operator import OPERATOR_TABS, OperatorActions
from tui.ui.widgets.header import StatusHeader
from tui.ui.widgets.secrets_pane import SecretsPane

TABS = {"1": "secrets", "2": "types", "3": "audit", "4": "services", "5": "sites", "6": "tokens"}

ON_DEMAND = {
    "types": ("tui.ui.widgets.types_pane", "TypesPane"),
    "audit": ("tui.ui.widgets.audit_pane", "AuditPane"),
    "services": ("tui.ui.widgets.services_pane", "ServicesPane"),
    **OPERATOR_TABS,
}
"""Tab id: (module, class) of the pane built the first time the tab is shown, with id `<tab>-pane`."""

SHOWN_IN = {
    # the Types tab counts each type's secrets; the Services tab says which services run stale values
    SecretsChanged: ("secrets", "types", "services"),
    ServicesChanged: ("services", "secrets"),  # the Secrets tab shows which services use each secret
    TypesChanged: ("types", "secrets"),  # the secret form offers the Secrets tab's list of types
}
"""What changed: the tabs whose panes show it, the one the change was made in first."""

IN_USE = {
    "secret_in_use": ("Secret in use", "These services still use this secret:",
                      lambda details: [str(name) for name in details.get("services") or []],
                      "To delete it, unbind it from each: in the Services tab (4), b on each service opens "
                      "its bindings, space unticks this secret (tick another secret in its place if the "
                      "service needs one), ctrl+s saves."),
    "type_in_use": ("Type in use", "These secrets use the type; change them first:",
                    lambda details: [safe_str(item) for item in secret_names(details.get("secrets"))], ""),
}
"""A delete the server refused because something still uses the thing: title, lead, what uses it,
and how to free it (the keys of the tab that does)."""


class MainScreen(OperatorActions, ApiCaller, Screen):
    # Only the tab's own keys are in the footer: the tab bar shows the tab keys and the header
    # says `? help` (which lists the rest). At 80 columns the footer cut its last label in half.
    BINDINGS = [
        Binding("1", "show_tab('secrets')", "Secrets", id="tab.secrets", show=False),
        Binding("2", "show_tab('types')", "Types", id="tab.types", show=False),
        Binding("3", "show_tab('audit')", "Audit", id="tab.audit", show=False),
        Binding("4", "show_tab('services')", "Services", id="tab.services", show=False),
        Binding("5", "show_tab('sites')", "Sites", id="tab.sites", show=False),
        Binding("6", "show_tab('tokens')", "Tokens", id="tab.tokens", show=False),
        Binding("ctrl+s", "switch_site", "Site", id="site.switch", show=False),
        Binding("question_mark,f1", "help", "Help", id="help", show=False),
        Binding("q", "app.quit", "Quit", id="quit", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with TabbedContent(initial="secrets", id="tabs"):
            with TabPane("1 Secrets", id="secrets"):
                yield SecretsPane(id="secrets-pane")
            yield TabPane("2 Secret Types", id="types")
            if self.app.is_admin:
                yield TabPane("3 Audit", id="audit")
            yield TabPane("4 Services", id="services")
            if self.app.can_switch_site:  # the operator: an admin bound to no site
                yield TabPane("5 Sites", id="sites")
            if self.app.is_admin:
                yield TabPane("6 Tokens", id="tokens")
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "show_tab" and parameters in (("audit",), ("tokens",)):
            return self.app.is_admin
        if action == "show_tab" and parameters == ("sites",):
            return self.app.can_switch_site
        if action == "switch_site":
            return self.app.can_switch_site
        return True

    def on_mount(self) -> None:
        # No stop for `tab` on the tab bar: no key of the tab works there and the footer goes
        # blank. Tabs are switched with 1-6 (the bar shows the numbers).
        self.query_one("#tabs").query_one(Tabs).can_focus = False
        self.query_one("#secrets-table").focus()
        if self.app.settings.refresh_seconds > 0:
            self.set_interval(self.app.settings.refresh_seconds, self.refresh_visible)

    def refresh_visible(self) -> None:
        """The periodic tick: the visible tab fetches its data again to show changes made elsewhere.
        Skipped while a dialog is over the screen, the server is lost, or a call is running."""
        if self.app.screen is not self or self.app.connection != "online" or self._api_calls():
            return
        pane = self.active_pane()
        if pane is not None and pane.data is not None and not pane.calls_running():
            pane.refresh_quietly()

    def action_show_tab(self, tab: str) -> None:
        self._switch_to(tab)
        self._focus_tab(tab)

    def _switch_to(self, tab: str) -> None:
        """Show `tab`, with nothing in the tab being hidden keeping the focus: Textual hands the focus
        of a widget being hidden to a focusable sibling (the detail pane, the filter box), and focus
        inside a tab shows that tab again, so the old tab came back, or flickered, in place of the new one."""
        tabs = self.query_one(TabbedContent)
        if tabs.active != tab:
            self.set_focus(None)
        tabs.active = tab

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # A value stays on screen only while its secret is in front of the user.
        for detail in self.query("#secret-detail"):
            detail.mask()
        tab = event.pane.id or ""
        built = await self._build_pane(event.pane, tab)
        self._focus_tab(tab)
        if not built:  # shown again: as it is now (loads, counts, events change elsewhere and here)
            for pane in self.query(f"#{tab}-pane"):
                if pane.data is not None and not pane.calls_running():
                    pane.refresh_quietly()

    async def _build_pane(self, container: Widget, tab: str) -> bool:
        """Build the pane of an on-demand tab the first time it is shown; True if it was built now."""
        if tab not in ON_DEMAND or container.query(".data-pane"):
            return False
        module, name = ON_DEMAND[tab]
        pane = getattr(importlib.import_module(module), name)(id=f"{tab}-pane")
        await container.mount(pane)
        return True

    def _focus_tab(self, tab: str) -> None:
        """Focus the tab's table now if it exists, so a key typed right after the tab's key acts on
        this tab and not on the one just hidden; a pane still being built gets it on the next refresh."""
        def focus() -> bool:
            tables = self.query(f"#{tab} DataTable")
            if tables:
                tables.first().focus()
            return bool(tables)

        if not focus():
            self.call_after_refresh(focus)

    def active_pane(self):
        tabs = self.query_one(TabbedContent)
        panes = self.query(f"#{tabs.active} .data-pane")
        return panes.first() if panes else None

    def palette_commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        """The active tab's commands, then the ones that work from every tab."""
        pane = self.active_pane()
        commands = pane.palette_commands() if pane is not None else []
        if self.app.is_admin and not self.app.read_only:
            commands.append(("Apps: create an app or set whether it may use site secrets", "", self.action_apps))
        return commands

    def reload_all(self) -> None:
        for pane in self.query(".data-pane"):
            pane.load()

    # ------------------------------------------------------------ what the panes post

    @on(SecretsChanged)
    @on(ServicesChanged)
    @on(TypesChanged)
    def _reload_where_shown(self, changed: SecretsChanged | ServicesChanged | TypesChanged) -> None:
        """Reload the pane the change was made in (highlighting `select`), then the others showing it."""
        first, *others = SHOWN_IN[type(changed)]
        for pane in self.query(f"#{first}-pane"):
            pane.load(select=changed.select)
        for tab in others:
            for pane in self.query(f"#{tab}-pane"):
                pane.load()

    def on_delete_secret(self, request: DeleteSecret) -> None:
        secret = request.secret
        self._delete(f"Deleted {safe_str(secret.name)}.", SecretsChanged(),
                     self.app.client.delete_secret, self.app.site, secret.app, secret.name)

    def on_delete_service(self, request: DeleteService) -> None:
        service = request.service
        self._delete(f"Deleted service {safe_str(service.name)}.", ServicesChanged(),
                     self.app.client.delete_service, self.app.site, service.name)

    def on_delete_type(self, request: DeleteType) -> None:
        kind = request.kind
        self._delete(f"Deleted type {safe_str(kind.key)}.", TypesChanged(),
                     self.app.client.delete_type, self.app.site, kind.key)

    def _delete(self, notice: str, changed: SecretsChanged | ServicesChanged | TypesChanged,
                call: Callable[..., object], *args: str | None) -> None:
        """`call(*args)` in a worker; then say `notice` and reload what shows the change. Each delete
        keeps its own answer: a second one sent before the first was answered dropped the first's
        (its notice, and with the second refused, the reload that took its row away)."""
        def deleted(_: object) -> None:
            self.notify(notice, markup=False)
            self._reload_where_shown(changed)

        def failed(error: BaseException) -> None:
            if isinstance(error, ApiError) and error.code == "not_found":  # deleted elsewhere: its row goes too
                self._reload_where_shown(changed)

        self.call_api(call, *args, group=f"{SHOWN_IN[type(changed)][0]}-delete", done=deleted, exclusive=False,
                      failed=failed)

    def on_api_error(self, error: BaseException) -> bool:
        if isinstance(error, ApiError) and error.code in IN_USE:
            from tui.ui.dialogs.message import MessageDialog

            title, lead, users, how = IN_USE[error.code]
            self.app.push_screen(MessageDialog(title, lead, users(error.details), how))
            return True
        return False

    async def on_show_audit(self, request: ShowAudit) -> None:
        """Switch to the Audit tab (built now if it never was) filtered on `request.target`."""
        if not self.app.is_admin:
            return
        self._switch_to("audit")
        container = self.query_one("#audit", TabPane)
        await self._build_pane(container, "audit")
        container.query_one("#audit-pane").show_target(request.target)

    def on_open_apps(self, _: OpenApps) -> None:
        self.action_apps()

    def action_apps(self) -> None:
        """The apps modal (admins): create apps, set whether they may use site-level secrets."""
        if not self.app.is_admin or self.app.read_only:
            return
        from tui.ui.dialogs.apps import AppsDialog

        def closed(changed: bool | None) -> None:
            if changed:
                self.reload_all()

        self.app.push_screen(AppsDialog(), closed)

    def action_help(self) -> None:
        from tui.ui.dialogs.help import HelpDialog

        self.app.push_screen(HelpDialog())

    def action_switch_site(self) -> None:
        from tui.ui.dialogs.site_picker import SitePicker

        def picked(site: str | None) -> None:
            if site and site != self.app.site:
                self.app.site = site
                self.reload_all()

        self.call_api(self.app.client.list_sites, group="sites",
                      done=lambda sites: self.app.push_screen(SitePicker(sites, self.app.site), picked))
