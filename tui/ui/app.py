"""The Site Secrets App: wires the client, the settings and the screens together.

It owns what is shared by every screen: the current site, the connection state (with the
reconnect loop), the one place API errors are reported, the clipboard-clearing timer and the
crash rendering that keeps local variables off the terminal.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Iterable
from concurrent.futures import Future

from textual import work
from textual.app import App, SystemCommand
from textual.reactive import reactive
from textual.timer import Timer
from textual.worker import get_current_worker

from shared.models import Role, WhoAmI
from tui.client import ApiError, ServerUnreachable, SiteSecretsClient
from tui.clipboard import CLEARED, delete_tmux_copies, fingerprint
from tui.ui.api import LOGIN_AGAIN, TOKEN_REFUSED, not_now, token_refused
from tui.ui.commands import TabCommands
from tui.ui.hangup import no_resume_after_hangup, watch_for_hangup
from tui.display import safe_str
from tui.settings import Settings, opening_site
from tui.sitelimits import raise_advice
from tui.ui.styles import APP_CSS
from tui.ui.textual_private import CrashWithoutLocals
from tui.urls import plain_loopback_warning

LONG_MESSAGE = 160
"""Error messages longer than this open a modal instead of a notification."""

UNAVAILABLE_DATABASE = "database away"
UNAVAILABLE_BUSY = "server busy"
BACK = {UNAVAILABLE_DATABASE: "The server reaches its database again.", UNAVAILABLE_BUSY: "The server is serving again."}
"""What is said once when a call succeeds after the server could not serve (`SiteSecretsApp.unavailable`)."""

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""Signals that end the App the way `q` does: values hidden, clipboard cleared, terminal restored."""


class SiteSecretsApp(CrashWithoutLocals, App[None]):
    """The TUI. Tests build it with a client on a test server and a known identity. A crash shows
    `tui.crash.crash_report`, never a traceback with locals (`CrashWithoutLocals`)."""

    TITLE = "Site Secrets"
    CSS = APP_CSS
    COMMANDS = App.COMMANDS | {TabCommands}
    ENABLE_COMMAND_PALETTE = True

    site: reactive[str] = reactive("")
    connection: reactive[str] = reactive("online")
    """`online`, `offline` (lost, retrying), `reconnecting` (a retry is in flight) or `rejected`
    (the server refused the token: revoked or expired; no retry helps)."""
    unavailable: reactive[str] = reactive("")
    """While the server answers but cannot serve (`tui.ui.api.not_now`), what the header says
    instead of `online` ("database away", "server busy"); "" once a call succeeds again."""
    busy: reactive[int] = reactive(0)
    """Calls running for longer than 200 ms; the header shows progress while it is above 0."""

    def __init__(self, client: SiteSecretsClient, settings: Settings, identity: WhoAmI,
                 first_load: Future | None = None):
        super().__init__()
        self.client = client
        self.settings = settings
        self.identity = identity
        self._opening_site = opening_site(settings.site, identity.site)  # `sitesecrets` refused a mismatch
        self.set_reactive(SiteSecretsApp.site, self._opening_site)
        self._first_load = first_load
        """The Secrets tab's data for `site`, fetched while the UI was built (`prefetch_site_data`)."""
        self._clipboard_timer: Timer | None = None
        self._copied: bytes | None = None
        """The hash of the value on the clipboard until it is cleared: to find tmux's copy of it."""

    def take_first_load(self, site: str) -> Future | None:
        """The prefetched Secrets tab data if it is for `site`; given out once (later loads fetch)."""
        early, self._first_load = self._first_load, None
        return early if early is not None and site == self._opening_site else None

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

    def get_default_screen(self):
        """The main screen is the App's first: no blank default screen is built and drawn first."""
        from tui.ui.screens.main import MainScreen

        return MainScreen()

    def on_mount(self) -> None:
        warning = plain_loopback_warning(self.client.url)
        if warning:  # once, at start: any local user could have bound the port we talk to
            self.notify(warning[0].upper() + warning[1:], severity="warning", markup=False, timeout=15)
        if not self.is_headless:  # a real terminal; tests' pilots leave the process's signals alone
            loop = asyncio.get_running_loop()
            for signum in STOP_SIGNALS:
                loop.add_signal_handler(signum, self._stop_on_signal, signum)
            watch_for_hangup(sys.__stdin__.fileno(), self._hung_up)
            no_resume_after_hangup(sys.__stdin__.fileno())

    def on_unmount(self) -> None:
        if not self.is_headless:
            loop = asyncio.get_running_loop()
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)

    def _stop_on_signal(self, signum: int) -> None:
        """SIGTERM or SIGHUP: hide every value, clear the clipboard, then exit once the masked
        screen is drawn; exiting restores the terminal (alternate screen and mouse tracking off)."""
        self.forget_values()
        self.call_after_refresh(self.exit, return_code=128 + signum)

    def _hung_up(self) -> None:
        """The terminal went away with no SIGHUP sent (called from the watching thread)."""
        try:
            self.call_from_thread(self._stop_on_signal, signal.SIGHUP)
        except RuntimeError:  # the App had already stopped
            pass

    def forget_values(self) -> None:
        """Re-mask every revealed value and clear a copied one still on the clipboard."""
        from tui.ui.widgets.value_view import ValueView

        for screen in self.screen_stack:  # the detail pane's value and the history dialog's
            for view in screen.query(ValueView):
                view.mask()
        if self._clipboard_timer is not None:
            self._clipboard_timer.stop()
            self._clear_clipboard()

    def get_system_commands(self, screen) -> Iterable[SystemCommand]:
        """Textual's palette commands but "Screenshot": it would write a revealed value to a file."""
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot":
                yield command

    def deliver_screenshot(self, *args, **kwargs) -> None:
        """No screenshots by any route (the `screenshot` action too): one may hold a revealed value."""
        self.notify("Screenshots are turned off: one could hold a revealed value.", markup=False)

    # ------------------------------------------------------------ errors and connection

    def handle_api_error(self, error: BaseException) -> None:
        """The one report of a failed call: header for a lost server, else the server's message."""
        if isinstance(error, ServerUnreachable):
            if self.connection == "online":  # once: then the header says it for as long as it lasts
                self.notify("Lost the server; retrying.", severity="error", markup=False)
            self.connection_lost()
        elif token_refused(error):
            self.token_rejected()
        elif not_now(error):
            self.server_not_now(error)
        elif isinstance(error, ApiError):
            self.show_error(self.error_text(error), title=error.code)
        else:
            # Only the type: an unexpected exception's text might quote data.
            self.show_error(f"Unexpected error ({type(error).__name__}).", title="error")

    def error_text(self, error: ApiError) -> str:
        """The server's sentence, and for a full site which limit it hit and who raises it: the
        server names the limit (`details.setting`) but cannot know who is reading. A refused token:
        what to do, not the server's "a valid bearer token is required"."""
        if token_refused(error):
            return f"{TOKEN_REFUSED}. {LOGIN_AGAIN}"
        if error.code != "limit_exceeded":
            return error.message
        advice = raise_advice(error.details.get("setting"), operator=self.can_switch_site)
        return f"{error.message.rstrip('.')}. {advice}" if advice else error.message

    def show_error(self, message: str, title: str = "error") -> None:
        """A short message as a notification, a long one in a modal; never parsed as markup."""
        if len(message) > LONG_MESSAGE:
            from tui.ui.dialogs.message import MessageDialog

            self.push_screen(MessageDialog(title, message))
        else:
            self.notify(safe_str(message), title=safe_str(title), severity="error", markup=False)

    def server_not_now(self, error: ApiError) -> None:
        """The server answers but cannot serve just now (its database away, too busy): a warning,
        not an alarm, since a moment later the same call works. Said once, then kept in the
        header until a call succeeds (`api_reachable`): a toast per call piled up over the screen,
        and one per fade came back with every periodic refresh."""
        state = UNAVAILABLE_DATABASE if error.code == "database_unavailable" else UNAVAILABLE_BUSY
        if self.unavailable != state:
            message = safe_str(error.message).rstrip(".")
            self.notify(f"{message[:1].upper()}{message[1:]}.", severity="warning", markup=False)
        self.unavailable = state

    def token_rejected(self) -> None:
        """The server refused the token mid-session (revoked or expired): the header says so for
        as long as it lasts, and once, how to log in again."""
        if self.connection != "rejected":
            self.connection = "rejected"
            self.notify(f"{TOKEN_REFUSED[0].upper()}{TOKEN_REFUSED[1:]}. {LOGIN_AGAIN}", severity="error",
                        markup=False, timeout=30)

    def api_reachable(self) -> None:
        """A call succeeded: the server is there and serving; said once if it had not been."""
        if self.connection != "online":
            self.connection = "online"
        if self.unavailable:
            back = BACK[self.unavailable]
            self.unavailable = ""
            self.notify(back, markup=False)

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
        from tui.ui.screens.main import MainScreen

        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.reload_all()

    # ------------------------------------------------------------ clipboard

    def copy_secret(self, value: str) -> None:
        """Put `value` on the user's clipboard (OSC 52) and schedule overwriting it."""
        self.copy_to_clipboard(value)
        self._copied = fingerprint(value)
        if self._clipboard_timer is not None:
            self._clipboard_timer.stop()
        self._clipboard_timer = self.set_timer(self.settings.clipboard_seconds, self._clear_clipboard)

    def _clear_clipboard(self) -> None:
        """Overwrite the clipboard (see tui.clipboard for why not with nothing) and, inside tmux,
        delete the paste buffers that still hold the copied value."""
        self._clipboard_timer = None
        self.copy_to_clipboard(CLEARED)
        copied, self._copied = self._copied, None
        if copied is not None:
            delete_tmux_copies(copied)

    async def action_quit(self) -> None:
        """Quit; a copied value still waiting to be cleared is cleared now, not left behind."""
        self.forget_values()
        self.exit()

