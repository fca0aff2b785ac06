"""`sitesecrets-server completion bash|zsh|tcsh`: a shell completion script that shtab makes from
the command's own argparse parser (as `sitesecrets completion` does for the client)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SHELLS = ("bash", "zsh", "tcsh")


def add_parser(commands) -> None:
    completion = commands.add_parser("completion", help="print a completion script: sitesecrets-server completion bash > FILE")
    completion.add_argument("shell", choices=SHELLS)


def print_completion(parser: argparse.ArgumentParser, shell: str) -> int:
    import shtab

    _mark_paths(parser, shtab)
    sys.stdout.write(shtab.complete(parser, shell))
    return 0


def _mark_paths(parser: argparse.ArgumentParser, shtab) -> None:
    """Let the shell complete file names (directories for a `--data-dir`) where an option takes a path."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _mark_paths(sub, shtab)
        elif action.type is Path or action.metavar == "FILE":
            action.complete = shtab.DIRECTORY if "dir" in action.dest else shtab.FILE
