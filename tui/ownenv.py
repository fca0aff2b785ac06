"""Variables `sitesecrets` sets in its own environment for itself, and the user's environment
without them, for the children it starts.

Some libraries are configured only through the environment: the API client turns pydantic's
plugins off with PYDANTIC_DISABLE_PLUGINS, which pydantic reads again each time it builds a
model's validator (on first use, `defer_build`), so it must stay set for the process's life. A
child (`run`'s command and its restarts, tmux for the clipboard) must not inherit it: its
environment is the user's plus the secrets, nothing of ours (`users_environment`).
Standard library only: `sitesecrets run` builds its child's environment with it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

_SET: dict[str, tuple[str | None, str]] = {}
"""Each variable set here: (the user's value, None when unset; the value set)."""


def set_for_this_process(name: str, value: str) -> None:
    """Set `name` to `value` in this process's environment, keeping the user's value (or its
    absence) for the children's (`users_environment`)."""
    users = _SET[name][0] if name in _SET else os.environ.get(name)
    _SET[name] = (users, value)
    os.environ[name] = value


def environment_replaced() -> None:
    """For a process whose whole environment was replaced after `set_for_this_process` (a test's
    fork server): take the new one as the user's, and set ours over it again."""
    for name, (_, value) in list(_SET.items()):
        del _SET[name]
        set_for_this_process(name, value)


def users_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`environ` (default: this process's) with each variable set here put back as the user left
    it: their value, or absent. One changed since it was set here is left as it is."""
    env = dict(os.environ if environ is None else environ)
    for name, (users, value) in _SET.items():
        if env.get(name) != value:
            continue
        if users is None:
            del env[name]
        else:
            env[name] = users
    return env
