"""What `export --format env` and `--format docker` write, other readers read back: python-dotenv
always (a dev dependency), node's dotenv where node can load it, docker's `--env-file` rules (and
the docker CLI itself, where installed, accepts the file)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from dotenv_readers import AWKWARD, docker_env_file, node_can_read_back, node_dotenv, python_dotenv
from tui.dotenv import DockerFormatError, format_docker, format_env, parse


def test_python_dotenv_reads_back_every_awkward_value():
    assert python_dotenv(format_env(AWKWARD)) == AWKWARD


def test_import_reads_back_every_awkward_value():
    assert {e.name: e.value for e in parse(format_env(AWKWARD))} == AWKWARD


def test_node_dotenv_reads_back_every_value_it_can_hold():
    read = node_dotenv(format_env(AWKWARD))
    readable = {name: value for name, value in AWKWARD.items() if node_can_read_back(value)}
    assert {name: read.get(name) for name in readable} == readable
    assert len(readable) >= 30  # only a `\` with a `"` or `'` beside it needs the double quotes node can't read


def test_most_awkward_values_are_single_quoted():
    single = [name for name, value in AWKWARD.items() if format_env({name: value}).startswith(f"{name}='")]
    assert len(single) >= 24


NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True)
VALUES = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=60)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(NAMES, VALUES, max_size=6))
def test_python_dotenv_reads_back_what_format_env_writes(env):
    assert python_dotenv(format_env(env)) == env


ONE_LINE = {name: value for name, value in AWKWARD.items() if "\n" not in value and "\r" not in value}


def test_docker_reads_back_every_value_on_one_line():
    assert docker_env_file(format_docker(ONE_LINE)) == ONE_LINE
    assert len(ONE_LINE) >= 28


def test_docker_format_writes_values_literally():
    assert format_docker({"A": ' "quoted" # not a comment $HOME \\n '}) == 'A= "quoted" # not a comment $HOME \\n \n'


def test_docker_format_refuses_every_value_with_a_line_break_by_name():
    with pytest.raises(DockerFormatError) as caught:
        format_docker(AWKWARD)
    assert caught.value.names == ["NEWLINES", "CRLF", "MIXED", "CR_AT_END"]
    for value in ("one\ntwo\n", "w\r\nline"):
        assert value not in str(caught.value)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(NAMES, st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00\n\r"),
                                      max_size=60), max_size=6))
def test_docker_reads_back_what_format_docker_writes(env):
    assert docker_env_file(format_docker(env)) == env


def docker_cli_verdict(path) -> str:
    """What the docker CLI says of `path` as an `--env-file`: it parses the file before it looks for
    a daemon, so pointed at no daemon it either refuses the file or gets as far as connecting."""
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(path.parent), "DOCKER_CONFIG": str(path.parent / "docker"),
           "DOCKER_HOST": f"unix://{path.parent / 'no-daemon.sock'}"}
    done = subprocess.run(["docker", "run", "--rm", "--env-file", str(path), "no-such-image"], env=env,
                          capture_output=True, text=True, timeout=60)
    return done.stderr


def test_the_docker_cli_accepts_the_exported_file_and_refuses_a_bad_one(tmp_path):
    good, bad = tmp_path / "good.env", tmp_path / "bad.env"
    good.write_text(format_docker(ONE_LINE), encoding="utf-8")
    bad.write_text("A B=1\n", encoding="utf-8")
    assert "invalid env file" in docker_cli_verdict(bad)
    verdict = docker_cli_verdict(good)
    assert "invalid env file" not in verdict and "connect" in verdict.lower(), verdict
