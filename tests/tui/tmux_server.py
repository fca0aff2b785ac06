"""A private tmux server for tests: its own socket in the test's directory (`-S`, so nothing is left
in /tmp/tmux-*), its own config, killed on exit.

The TUI runs in its one pane; tests read the pane's screen with `capture-pane` and tmux's paste
buffers with `show-buffer`, waiting (with a ceiling) for what must show, never sleeping blindly.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

TMUX = "/usr/bin/tmux"
TIMEOUT = 30.0


class TmuxServer:
    """`tmux -S <directory>/tmux.sock -f <config>`; the config turns `set-clipboard on`, and keeps the pane (and
    so the server and its buffers) after the command exits."""

    def __init__(self, directory: Path):
        self.socket = directory / "tmux.sock"
        self.config = directory / "tmux.conf"
        self.config.write_text("set -g set-clipboard on\nset -g remain-on-exit on\n")

    def run(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run([TMUX, "-S", str(self.socket), "-f", str(self.config), *args], capture_output=True,
                                text=True, timeout=TIMEOUT, env=env, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {result.stderr.strip()}")
        return result.stdout

    def start(self, command: list[str], env: dict[str, str], columns: int = 100, rows: int = 30) -> None:
        """The server and one detached session running `command`; the server's environment
        (which the command inherits) is `env`, so no token goes on a command line."""
        self.run("new-session", "-d", "-x", str(columns), "-y", str(rows), "--", *command, env=env)

    def screen(self) -> str:
        return self.run("capture-pane", "-p")

    def buffers(self) -> list[str]:
        """The content of every paste buffer, newest first."""
        contents = []
        for name in self.run("list-buffers", "-F", "#{buffer_name}").split():
            try:
                contents.append(self.run("show-buffer", "-b", name))
            except RuntimeError:  # deleted between the listing and the read
                continue
        return contents

    def wait(self, condition, what: str, timeout: float = TIMEOUT) -> None:
        """Poll `condition()` until it holds; fail after `timeout` with the pane's screen."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{self.screen()}")
            time.sleep(0.05)

    def wait_for_screen(self, text: str) -> None:
        self.wait(lambda: text in self.screen(), f"{text!r} on screen")

    def kill(self) -> None:
        subprocess.run([TMUX, "-S", str(self.socket), "kill-server"], capture_output=True, timeout=TIMEOUT)


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without tmux's or the TUI's own variables, plus `extra`."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TMUX", "TEXTUAL", "SITESECRETS"))}
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env
