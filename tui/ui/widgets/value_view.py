"""`ValueView`: one secret value on screen, masked as a fixed `••••••••` until revealed.

A reveal shows a warning and a countdown; one interval timer, restarted on each reveal, re-masks
when the time is up. Re-masking drops the value from this widget, not just from the screen. The
detail pane of the Secrets tab and the history dialog both show values through it.
"""

from __future__ import annotations

import json
import time

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from tui.display import MASK, safe_text

TICK = 0.25
"""Countdown resolution in seconds; fine enough for a short `--reveal-seconds` in tests."""


def pretty_value(value: str, typed: bool) -> str:
    """A typed (JSON) value pretty-printed; anything else as it is."""
    if typed:
        try:
            return json.dumps(json.loads(value), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):  # RecursionError: nested as deep as the server's parser takes,
            pass  # which is past ours here, many frames deeper in a render
    return value


class ValueView(Static):
    """`label` then the mask and `hint` (e.g. "(s shows it)"), or a revealed value with its countdown;
    blank while `shown` is False."""

    def __init__(self, label: str = "value", hint: str = "(s shows it)", **kwargs):
        super().__init__(**kwargs)
        self.label = label
        self.hint = hint
        self.shown = False
        self.typed = False
        self._value: str | None = None
        self._deadline = 0.0
        self._countdown: Timer | None = None

    @property
    def revealed(self) -> bool:
        return self._value is not None

    def reveal(self, value: str, seconds: float, typed: bool = False) -> None:
        """Show `value` for `seconds`, restarting the countdown of any earlier reveal."""
        self._value = value
        self.typed = typed
        self.shown = True
        self._deadline = time.monotonic() + seconds
        if self._countdown is not None:
            self._countdown.stop()
        self._countdown = self.set_interval(TICK, self._tick)
        self.refresh_value()

    def mask(self) -> None:
        """Hide the value and forget it."""
        if self._countdown is not None:
            self._countdown.stop()
            self._countdown = None
        self._value = None
        if self.is_mounted:
            self.refresh_value()

    def _tick(self) -> None:
        if time.monotonic() >= self._deadline:
            self.mask()
        else:
            self.refresh_value()

    def refresh_value(self) -> None:
        line = Text()
        if not self.shown:
            pass
        elif self._value is None:
            line.append(f"{self.label}  ", style="bold")
            line.append(MASK)
            line.append(f"   {self.hint}", style="dim")
        else:
            remaining = max(0, round(self._deadline - time.monotonic()))
            line.append(f"⚠ VALUE ON SCREEN, hides in {remaining}s (s hides now)", style="bold black on yellow")
            line.append("\n")
            line.append_text(safe_text(pretty_value(self._value, self.typed), multiline=True))
        self.update(line)
