"""The Site Secrets App: wires the client, the settings and the screens together.

It owns what is shared by every screen: the current site, the connection state (with the
reconnect loop), the one place API errors are reported, the clipboard-clearing timer and the
crash rendering that keeps local variables off the terminal.
"""

from __future__ import annotations

import time

from textual import work
from textual.app import App
from textual.reactive import reactive
from textual.timer import Timer
from textual.worker import get_current_worker

from shared.models import Role, WhoAmI
from tui.client import ApiError, ServerUnreachable, SiteSecretsClient
from tui.commands import TabCommands
from tui.crash import crash_report
from tui.display import safe_str
from tui.settings import Settings
from tui.styles import APP_CSS
from tui.urls import plain_loopback_warning

LONG_MESSAGE = 160
"""Error messages longer than this open a modal instead of a notification."""


class SiteSecretsApp(App[None]):
    """The TUI. Tests build it with a client on a test server and a known identity."""

    TITLE = "Site Secrets"
    CSS = APP_CSS
    COMMANDS = App.COMMANDS | {TabCommands}
    ENABLE_COMMAND_PALETTE = True

    site: reactive[str] = reactive("")
    connection: reactive[str] = reactive("online")
    """`online`, `offline` (lost, retrying) or `reconnecting` (a retry is in flight)."""
    busy: reactive[int] = reactive(0)
    """Calls running for longer than 200 ms; the header shows progress while it is above 0."""

    def __init__(self, client: SiteSecretsClient, settings: Settings, identity: WhoAmI):
        super().__init__()
        self.client = client
        self.settings = settings
        self.identity = identity
        self.set_reactive(SiteSecretsApp.site, identity.site or settings.site)
        self._clipboard_timer: Timer | None = None

    # ------------------------------------------------------------ who may do what

    @property
    def is_admin(self) -> bool:
        return self.identity.role == Role.admin

    @property
    def can_reveal(self) -> bool:
        return self.identity.role in (Role.admin, Role.editor)

    @property
    def read_only(self) -> bool:
        """True when no key that changes anything may be offered."""
        return self.settings.read_only or self.identity.role not in (Role.admin, Role.editor)

    @property
    def can_switch_site(self) -> bool:
        return self.is_admin and self.identity.site is None

    def on_mount(self) -> None:
        from tui.screens.main import MainScreen

        self.push_screen(MainScreen())
        warning = plain_loopback_warning(self.client.url)
        if warning:  # once, at start: any local user could have bound the port we talk to
            self.notify(warning[0].upper() + warning[1:], severity="warning", markup=False, timeout=15)

    # ------------------------------------------------------------ errors and connection

    def handle_api_error(self, error: BaseException) -> None:
        """The one report of a failed call: header for a lost server, else the server's message."""
        if isinstance(error, ServerUnreachable):
            self.notify("Lost the server; retrying.", severity="error", markup=False)
            self.connection_lost()
        elif isinstance(error, ApiError):
            self.show_error(error.message, title=error.code)
        else:
            # Only the type: an unexpected exception's text might quote data.
            self.show_error(f"Unexpected error ({type(error).__name__}).", title="error")

    def show_error(self, message: str, title: str = "error") -> None:
        """A short message as a notification, a long one in a modal; never parsed as markup."""
        if len(message) > LONG_MESSAGE:
            from tui.dialogs.message import MessageDialog

            self.push_screen(MessageDialog(title, message))
        else:
            self.notify(safe_str(message), title=safe_str(title), severity="error", markup=False)

    def api_reachable(self) -> None:
        if self.connection != "online":
            self.connection = "online"

    def connection_lost(self) -> None:
        if self.connection == "online":
            self.connection = "offline"
            self._reconnect()

    @work(thread=True, group="reconnect", exclusive=True, exit_on_error=False)
    def _reconnect(self) -> None:
        """Poll `/v1/health` with a doubling delay until the server answers, then reload."""
        worker = get_current_worker()
        delay = 0.5
        while not worker.is_cancelled:
            time.sleep(delay)
            self.call_from_thread(setattr, self, "connection", "reconnecting")
            try:
                self.client.health()
            except (ServerUnreachable, ApiError):
                self.call_from_thread(setattr, self, "connection", "offline")
                delay = min(delay * 2, self.settings.reconnect_max_seconds)
                continue
            self.call_from_thread(self._reconnected)
            return

    def _reconnected(self) -> None:
        self.connection = "online"
        self.notify("Server is back.", markup=False)
        self.reload_all()

    def reload_all(self) -> None:
        """Ask every data pane of the main screen to fetch its data again."""
        from tui.screens.main import MainScreen

        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.reload_all()

    # ------------------------------------------------------------ clipboard

    def copy_secret(self, value: str) -> None:
        """Put `value` on the user's clipboard (OSC 52) and schedule overwriting it."""
        self.copy_to_clipboard(value)
        if self._clipboard_timer is not None:
            self._clipboard_timer.stop()
        self._clipboard_timer = self.set_timer(self.settings.clipboard_seconds, self._clear_clipboard)

    def _clear_clipboard(self) -> None:
        self._clipboard_timer = None
        self.copy_to_clipboard("")

    async def action_quit(self) -> None:
        """Quit; a copied value still waiting to be cleared is cleared now, not left behind."""
        if self._clipboard_timer is not None:
            self._clipboard_timer.stop()
            self._clear_clipboard()
        self.exit()

    # ------------------------------------------------------------ crashes

    def _handle_exception(self, error: Exception) -> None:
        """Replace Textual's traceback-with-locals: a local may hold a revealed value."""
        self._return_code = 1
        if self._exception is None:  # run_test() re-raises the first one in tests
            self._exception = error
            self._exception_event.set()
        self.bell()
        self._exit_renderables.append(crash_report(error))
        self._close_messages_no_wait()
