"""`sitesecrets completion bash|zsh|tcsh`: a shell completion script that shtab makes from the
command's own argparse parsers, so every subcommand and option is there and none is made up.

Install it once, e.g. `sitesecrets completion bash > ~/.local/share/bash-completion/completions/sitesecrets`
(README "Shell completion" has zsh too)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

SHELLS = ("bash", "zsh", "tcsh")
_PATH_METAVARS = {"PATH", "FILE", "FILE.env", "DIR"}


def add_parser(commands, build_parser: Callable[[], argparse.ArgumentParser]) -> None:
    """The `completion` subcommand, which completes what `build_parser()` (the whole command) parses."""
    completion = commands.add_parser("completion", help="print a completion script: sitesecrets completion bash > FILE")
    completion.add_argument("shell", choices=SHELLS)
    completion.set_defaults(handler=lambda args: print_completion(build_parser(), args.shell))


def print_completion(parser: argparse.ArgumentParser, shell: str) -> int:
    import shtab

    from tui.run import build_parser as build_run_parser

    if sys.stdout is None:  # closed (>&-): the script would go nowhere
        print("sitesecrets: standard output is closed (>&-); nothing was done", file=sys.stderr)
        return 2

    subcommands(parser).choices["run"] = build_run_parser()  # `run` is parsed by tui.run, with these options
    mark_paths(parser, shtab)
    sys.stdout.write(shtab.complete(parser, shell))
    return 0


def subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def mark_paths(parser: argparse.ArgumentParser, shtab) -> None:
    """Let the shell complete file names (directories for a `--data-dir`) where an option takes a path."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                mark_paths(sub, shtab)
        elif action.type is Path or action.metavar in _PATH_METAVARS:
            action.complete = shtab.DIRECTORY if "dir" in action.dest else shtab.FILE
