"""Taking a copied value back: from the terminal's clipboard and from tmux's paste buffers.

The App copies with OSC 52. An empty OSC 52 would clear most terminals' clipboards, but tmux
ignores it: it neither replaces its paste buffer nor passes the clear on to the outer terminal.
So the clear sets the clipboard to `CLEARED`, one space: tmux stores that and passes it on, and the
outer terminal's clipboard is overwritten. tmux still keeps the copied value in an older paste
buffer, so inside tmux ($TMUX set) the buffers holding it are deleted with tmux's own commands.
Their content comes back on tmux's stdout and is compared by hash (the App keeps only the hash);
only buffer names ever go on a command line, and tmux runs without the token in its environment
(a tmux client hands its environment to the tmux server, which outlives the TUI).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Mapping

from tui.credentials import TOKEN_ENV
from tui.ownenv import users_environment

CLEARED = " "
"""What the clipboard holds after a clear: harmless, and not empty, so tmux honours it."""

TMUX_TIMEOUT = 2.0
"""Seconds for one tmux command; a clear on quit must not hang the exit."""


def fingerprint(value: str) -> bytes:
    """What is kept of a copied value to recognise it later: its SHA-256."""
    return hashlib.sha256(value.encode("utf-8")).digest()


def _tmux(tmux: str, env: Mapping[str, str], *args: str) -> bytes:
    return subprocess.run([tmux, *args], capture_output=True, check=True, timeout=TMUX_TIMEOUT,
                          stdin=subprocess.DEVNULL, env=env).stdout


def delete_tmux_copies(copied: bytes, environ: Mapping[str, str] = os.environ) -> int:
    """Delete the paste buffers of the tmux we run in whose content has the hash `copied`; how many.

    Best effort: outside tmux, without a tmux binary or if tmux fails, nothing is deleted."""
    tmux = shutil.which("tmux")
    if not environ.get("TMUX") or tmux is None:
        return 0
    env = {name: value for name, value in users_environment(environ).items() if name != TOKEN_ENV}  # nothing of ours
    try:
        names = _tmux(tmux, env, "list-buffers", "-F", "#{buffer_name}").decode().split()
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError):
        return 0
    deleted = 0
    for name in names:
        try:
            if hashlib.sha256(_tmux(tmux, env, "show-buffer", "-b", name)).digest() == copied:
                _tmux(tmux, env, "delete-buffer", "-b", name)
                deleted += 1
        except (OSError, subprocess.SubprocessError):
            continue  # gone meanwhile, or tmux refused: the others still get their turn
    return deleted
