"""`sitesecrets --site S COMMAND ...`: where a --site given before the subcommand goes.

Each subcommand says where its own site is kept (`set_defaults(site_dest=...)`: `site` for the
--site of most commands and the TUI's, `token_site` for the `token` commands' --site, `name` for
the SITE argument of `sites create|set|rm`), or says nothing when a site means nothing to it. A
--site before the command fills that place; one that disagrees with the command's own, or one
given to a command that takes no site, is a usage error, never silently dropped.
Standard library only: `sitesecrets` reads it on every start.
"""

from __future__ import annotations

import argparse

BEFORE = "site_before_command"
"""The `dest` of the --site given before any subcommand."""


class SiteOptionError(Exception):
    """A --site before the command that cannot go anywhere: one sentence, exit 2."""


def place_site_before_command(args: argparse.Namespace) -> None:
    """Move `args`'s --site given before the command to where the command keeps its site, or
    raise SiteOptionError. With no subcommand (the TUI) it is the TUI's --site."""
    before = getattr(args, BEFORE, None)
    dest = "site" if args.command is None else getattr(args, "site_dest", None)
    if before is None:
        if dest is not None and getattr(args, dest, None) is None and getattr(args, "site_required", False):
            raise SiteOptionError(f"{command_of(args)} needs a site: sitesecrets {command_of(args)} SITE ...")
        return
    if dest is None:
        raise SiteOptionError(f"{command_of(args)} takes no site; leave out --site")
    own = getattr(args, dest, None)
    if own is not None and own != before:
        raise SiteOptionError(f"--site {before!r} before the command and {own!r} after it name different sites; name one")
    setattr(args, dest, before)


def command_of(args: argparse.Namespace) -> str:
    """The subcommand as typed: `logout`, `sites ls`."""
    action = getattr(args, "action", None)
    return args.command if not isinstance(action, str) else f"{args.command} {action}"
