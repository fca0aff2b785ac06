"""The detail pane of the Secrets tab: every field of the highlighted secret and its value,
masked as a fixed `••••••••` until revealed.

A reveal shows a warning and a countdown; one interval timer, restarted on each reveal, re-masks
when the time is up. Re-masking drops the value from this widget, not just from the screen.
"""

from __future__ import annotations

import json
import time

from rich.text import Text
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widgets import Static

from shared.models import Secret, Service
from tui.display import MASK, safe_text, short_time
from tui.sitedata import id_of, services_of

TICK = 0.25
"""Countdown resolution in seconds; fine enough for a short `--reveal-seconds` in tests."""


def pretty_value(value: str, typed: bool) -> str:
    """A typed (JSON) value pretty-printed; anything else as it is."""
    if typed:
        try:
            return json.dumps(json.loads(value), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return value


class SecretDetail(VerticalScroll, can_focus=False):
    """Shows one secret; `reveal` and `mask` manage its value."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.secret: Secret | None = None
        self.services: list[Service] = []
        """The site's services, for the version each one last loaded."""
        self._value: str | None = None
        self._deadline = 0.0
        self._countdown: Timer | None = None

    def compose(self):
        # The value comes first so a reveal is in view without scrolling.
        yield Static(id="detail-value")
        yield Static(id="detail-fields")

    @property
    def revealed(self) -> bool:
        return self._value is not None

    def show(self, secret: Secret | None, empty: Text | None = None) -> None:
        """Show `secret` (None: `empty`, which says why nothing is shown); moving to another
        secret re-masks."""
        if secret is None or self.secret is None or id_of(secret) != id_of(self.secret):
            self.mask()
        self.secret = secret
        fields = self._fields(secret) if secret is not None else (empty or Text("No secret selected.", style="dim"))
        self.query_one("#detail-fields", Static).update(fields)
        self._render_value()

    def reveal(self, value: str, seconds: float) -> None:
        """Show `value` for `seconds`, restarting the countdown of any earlier reveal."""
        self._value = value
        self._deadline = time.monotonic() + seconds
        if self._countdown is not None:
            self._countdown.stop()
        self._countdown = self.set_interval(TICK, self._tick)
        self._render_value()
        self.scroll_home(animate=False)

    def mask(self) -> None:
        """Hide the value and forget it."""
        if self._countdown is not None:
            self._countdown.stop()
            self._countdown = None
        self._value = None
        if self.is_mounted:
            self._render_value()

    def _tick(self) -> None:
        if time.monotonic() >= self._deadline:
            self.mask()
        else:
            self._render_value()

    def _render_value(self) -> None:
        line = Text()
        if self.secret is None:
            pass
        elif self._value is None:
            line.append("value  ", style="bold")
            line.append(MASK)
            line.append("   (s shows it)" if self.app.can_reveal else "   (viewers cannot reveal values)", style="dim")
        else:
            remaining = max(0, round(self._deadline - time.monotonic()))
            line.append(f"⚠ VALUE ON SCREEN, hides in {remaining}s (s hides now)", style="bold black on yellow")
            line.append("\n")
            typed = self.secret.type is not None
            line.append_text(safe_text(pretty_value(self._value, typed), multiline=True))
        self.query_one("#detail-value", Static).update(line)

    def _fields(self, secret: Secret) -> Text:
        text = Text()
        rows = [
            ("name", secret.name),
            ("scope", "site" if secret.app is None else f"app {secret.app}"),
            ("type", secret.type or "none"),
            ("description", secret.description or "—"),
            ("version", str(secret.version)),
        ]
        later = [
            ("created", f"{short_time(secret.created_at)} by {secret.created_by}"),
            ("updated", f"{short_time(secret.updated_at)} by {secret.updated_by}"),
            ("last used", short_time(secret.last_used_at)),
        ]
        for label, value in rows:
            text.append(f"\n{label:<12}", style="bold")
            text.append_text(safe_text(value, multiline=label == "description"))
        self._used_by(text, secret)  # in view with the version: who runs which one
        for label, value in later:
            text.append(f"\n{label:<12}", style="bold")
            text.append_text(safe_text(value))
        return text

    def _used_by(self, text: Text, secret: Secret) -> None:
        """One line per service bound to `secret`: the version it last loaded next to the current one."""
        text.append(f"\n{'used by':<12}", style="bold")
        loads = services_of(secret, self.services)
        known = {service.name for service, _ in loads}
        if not loads and not secret.used_by:
            text.append("no service")
        for index, (service, version) in enumerate(loads):
            if index:
                text.append("\n" + " " * 12)
            text.append_text(safe_text(service.name))
            # the colon keeps name and versions apart however the spaces are drawn (README SVGs)
            text.append(f": loaded {'v' + str(version) if version is not None else 'never'}"
                        f" · current v{secret.version}", style="dim")
            if version is not None and version != secret.version:
                text.append("  restart needed", style="bold black on yellow")
        others = [name for name in secret.used_by if name not in known]
        if others:  # services the last load did not include: listed by name only
            text.append(("\n" + " " * 12) if loads else "")
            text.append_text(safe_text(", ".join(others)))
