"""The TUI's own options (`--site`, `--read-only`, `--reveal-seconds`, `--clipboard-seconds`,
`--refresh-seconds`) and where they go when given before `local`.

`sitesecrets` takes them for the TUI it opens on a server, and `sitesecrets local` takes them again
after the command. argparse lets a subcommand's defaults win over what was given before it, so
neither side has a default here: an option given before `local` fills `local`'s place, one given
on both sides with different values is a usage error, and only one given nowhere takes its
default (`DEFAULTS`). One given before a command that opens no TUI (`ls`) is a usage error too,
never silently dropped. --site follows the same rule in `tui.siteoption`.
Standard library only: `sitesecrets` reads it on every start.
"""

from __future__ import annotations

import argparse
import math

from tui.siteoption import SiteOptionError, command_of

DEFAULTS = {"read_only": False, "reveal_seconds": 15.0, "clipboard_seconds": 30.0, "refresh_seconds": 5.0}
"""Each option's `dest` and its value when given neither before nor after the command."""


class UiOptionError(SiteOptionError):
    """A TUI option given before and after the command with different values: one sentence, exit 2."""


def _seconds(text: str) -> float:
    """A duration: 0 or more, finite (`nan` or `inf` would keep a revealed value on screen for good)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return seconds


def _before(dest: str) -> str:
    return f"{dest}_before_command"


def add_ui_options(parser: argparse.ArgumentParser, *, before_command: bool, site_dest: str = "site") -> None:
    """The TUI's options on `parser`: the main parser's (`before_command`) or `local`'s."""
    def dest(name: str) -> str:
        return _before(name) if before_command else name

    parser.add_argument("--site", dest=site_dest, metavar="SITE",
                        help="site to open (env SITESECRETS_SITE; default: the token's own site, "
                             "or 'default' for a token bound to none)")
    parser.add_argument("--read-only", dest=dest("read_only"), action="store_true", default=None,
                        help="hide every key that changes anything")
    parser.add_argument("--reveal-seconds", dest=dest("reveal_seconds"), type=_seconds, metavar="N",
                        help=f"re-mask a revealed value after N seconds (default {DEFAULTS['reveal_seconds']})")
    parser.add_argument("--clipboard-seconds", dest=dest("clipboard_seconds"), type=_seconds, metavar="N",
                        help=f"clear the clipboard N seconds after a copy (default {DEFAULTS['clipboard_seconds']})")
    parser.add_argument("--refresh-seconds", dest=dest("refresh_seconds"), type=_seconds, metavar="N",
                        help="fetch the visible tab again every N seconds to show changes made elsewhere; "
                             f"0 turns it off (default {DEFAULTS['refresh_seconds']})")


def place_ui_options_before_command(args: argparse.Namespace) -> None:
    """Give `args` each TUI option's value: the one given after the command, else the one given
    before it, else its default; or raise UiOptionError when before and after disagree, or for
    one given before a command that opens no TUI."""
    for dest, default in DEFAULTS.items():
        before = getattr(args, _before(dest), None)
        own = getattr(args, dest, None)
        option = "--" + dest.replace("_", "-")
        if before is not None and args.command not in (None, "local"):
            raise UiOptionError(f"{command_of(args)} takes no {option}; leave it out")
        if before is not None and own is not None and before != own:
            raise UiOptionError(f"{option} {before:g} before the command and {own:g} after it differ; give one")
        value = own if own is not None else before
        setattr(args, dest, default if value is None else value)
