"""`sitesecrets completion SHELL` and `sitesecrets-server completion SHELL` print completion
scripts made from the real parsers: every subcommand is in them, bash and zsh accept them, and
bash, having sourced one, completes subcommands and choices from it."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

import pytest

from cli_helpers import base_env, run_text
from server.cli import build_parser as server_parser
from tui.cli import build_parser as client_parser

PROGRAMS = {"sitesecrets": ("tui.cli", client_parser), "sitesecrets-server": ("server", server_parser)}


def script(program: str, shell: str, **env: str) -> str:
    module, _ = PROGRAMS[program]
    done = run_text([sys.executable, "-m", module, "completion", shell], env=base_env(**env))
    assert done.returncode == 0, done.stderr
    return done.stdout


def subcommand_names(parser: argparse.ArgumentParser) -> set[str]:
    names: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                names |= {name} | subcommand_names(sub)
    return names


@pytest.mark.parametrize("shell", ["bash", "zsh"])
@pytest.mark.parametrize("program", PROGRAMS)
def test_the_script_names_every_subcommand(program, shell):
    text = script(program, shell)
    names = subcommand_names(PROGRAMS[program][1]())
    assert {"completion"} < names
    assert [name for name in sorted(names) if name not in text] == []


@pytest.mark.parametrize("program", PROGRAMS)
def test_bash_reads_the_bash_script(program):
    checked = subprocess.run(["bash", "-n"], input=script(program, "bash"), capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
@pytest.mark.parametrize("program", PROGRAMS)
def test_zsh_reads_the_zsh_script(program, tmp_path):
    path = tmp_path / f"_{program}"
    path.write_text(script(program, "zsh"))
    checked = subprocess.run(["zsh", "-n", str(path)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr


def bash_completes(program: str, words: list[str], tmp_path) -> list[str]:
    """What bash offers for the last of `words` after sourcing `program`'s script."""
    path = tmp_path / f"{program}.bash"
    path.write_text(script(program, "bash"))
    driver = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; '
              'fn=$(complete -p "$1" | sed -E "s/.* -F ([^ ]+) .*/\\1/"); "$fn" "$1" "${@: -1}" "${@: -2:1}"; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    done = run_text(["bash", "-c", driver, "bash", str(path), program, *words], env=base_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completes_a_subcommand_of_sitesecrets(tmp_path):
    assert bash_completes("sitesecrets", ["imp"], tmp_path) == ["import"]


def test_bash_completes_the_export_formats(tmp_path):
    assert bash_completes("sitesecrets", ["export", "--format", ""], tmp_path) == ["env", "docker", "json", "shell"]


def test_bash_completes_the_run_options_of_sitesecrets(tmp_path):
    assert "--service" in bash_completes("sitesecrets", ["run", "--"], tmp_path)


def test_bash_completes_a_subcommand_of_sitesecrets_server(tmp_path):
    assert bash_completes("sitesecrets-server", ["rot"], tmp_path) == ["rotate-master-key"]


def test_the_script_holds_nothing_from_the_environment():
    text = script("sitesecrets", "zsh", SITESECRETS_TOKEN="ss_env-token-1234", SITESECRETS_PROXY="http://u:pw-5678@proxy:3128",
                  SITESECRETS_URL="http://in-env.example:1")
    assert "env-token-1234" not in text and "pw-5678" not in text
