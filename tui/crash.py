"""Keep secrets out of crash output: no core dumps, and no traceback with local variables.

Textual prints an unhandled exception with Rich's `Traceback(show_locals=True)`; a local may hold a
revealed value, so the App renders crashes with `crash_report` instead: the exception's type and
the code locations only. The exception's message is left out too, since it may quote data.
"""

from __future__ import annotations

import traceback

from rich.text import Text


def disable_core_dumps() -> None:
    """A core dump would hold the token and every value in memory; refuse to write one (best
    effort): a size limit of 0, and the process not dumpable, which also stops a `core_pattern`
    pipe that ignores the limit (ABRT) and other processes of the user reading its memory."""
    from tui.nodump import forbid_dumping

    forbid_dumping()
    try:
        import resource
    except ImportError:  # not on this platform
        return
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


def crash_report(error: BaseException) -> Text:
    """What the user sees after a crash: where it happened, without locals or the message."""
    text = Text(f"sitesecrets stopped on an internal error ({type(error).__name__}).\n", style="bold red")
    for frame in traceback.extract_tb(error.__traceback__)[-8:]:
        text.append(f"  {frame.filename}:{frame.lineno} in {frame.name}\n")
    text.append("Please report it with these lines; no secret values are included.")
    return text
