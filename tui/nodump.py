"""Keep a process that holds a token and values from being dumped, without touching what the
programs it starts may do.

`sitesecrets run --watch` holds its token and the whole environment for as long as the command
runs; a core file of it (a crash, SIGABRT, SIGQUIT where the host allows cores) would hold them.
A core size limit of 0, as the TUI sets (`tui/crash.py`), would be inherited by the command, which
is the user's program and may dump as its host allows; the kernel's "dumpable" flag is reset by
`execve`, so it guards this process alone. Standard library only, as `run` is.
"""

from __future__ import annotations

_PR_SET_DUMPABLE = 4


def forbid_dumping() -> None:
    """Mark this process not dumpable (Linux): no core file, from a size limit or a `core_pattern`
    pipe alike, and no other process of the user may attach to it or read its memory. Programs it
    `exec`s are dumpable again. Elsewhere, nothing."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass
