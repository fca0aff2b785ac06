"""The scripting commands of `sitesecrets`: everything the TUI does, for scripts and CI.

`register` adds them to the `sitesecrets` parser; each sets `run`, called through
`common.run_command` for one uniform error and exit-status policy.
"""

from __future__ import annotations

import argparse

from . import account, admin, audit, history, secrets, sites, transfer
from .common import connection_options, run_command


def register(commands) -> None:
    parent = connection_options()
    secrets.add_parsers(commands, parent)
    history.add_parsers(commands, parent)
    transfer.add_parsers(commands, parent)
    admin.add_parsers(commands, parent)
    audit.add_parsers(commands, parent)
    sites.add_parsers(commands)
    account.add_parsers(commands)


def dispatch(args: argparse.Namespace) -> int:
    return run_command(args.run, args)


__all__ = ["dispatch", "register"]
