"""What `export --format env` and `--format docker` write, other readers read back: python-dotenv
always (a dev dependency), node's dotenv where node can load it, and docker's `--env-file` rules."""

from __future__ import annotations

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
