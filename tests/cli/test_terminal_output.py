"""What reaches a terminal: values that hold escape sequences are shown spelled out unless `--raw`,
piped output stays exact, and JSON escapes C1 and bidi characters wherever it goes.

"On a terminal" is real: the child's stdout is a pseudo-terminal (`run_on_terminal`)."""

from __future__ import annotations

import json
import re

import pytest

from cli_helpers import Live
from tui.dotenv import format_env, format_shell

# a clipboard write (OSC 52), a screen clear, a title change, an 8-bit CSI and a right-to-left override
HOSTILE = "start\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x1b]0;owned\x07\x9b31m\u202eend\n\tnext"
ACTIVE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Anything a terminal would act on or reorder (newline and tab are layout)."""



def test_get_on_a_terminal_spells_out_control_sequences(live: Live, terminal, site):
    live.put_secret(site, "EVIL", HOSTILE)
    result = terminal("get", "EVIL", site=site)
    assert result.returncode == 0, result.stderr
    assert not ACTIVE.search(result.stdout)
    assert "\\x1b]52;c;cm0gLXJmIH4=\\x07\\x1b[2J" in result.stdout and "\\x9b31m\\u202eend" in result.stdout


def test_get_on_a_terminal_keeps_newlines_and_tabs(live: Live, terminal, site):
    live.put_secret(site, "EVIL", HOSTILE)
    assert terminal("get", "EVIL", site=site).stdout.endswith("end\n\tnext\n")


def test_get_on_a_terminal_says_on_stderr_that_raw_gives_the_exact_value(live: Live, terminal, site):
    live.put_secret(site, "EVIL", HOSTILE)
    assert "--raw" in terminal("get", "EVIL", site=site).stderr


def test_get_of_a_plain_value_on_a_terminal_is_the_value_and_says_nothing_else(live: Live, terminal, site):
    live.put_secret(site, "PLAIN", "ünïcødé 🔑 $x\n\tindented")
    result = terminal("get", "PLAIN", site=site)
    assert (result.stdout, result.stderr) == ("ünïcødé 🔑 $x\n\tindented\n", "")


def test_get_raw_on_a_terminal_writes_the_value_exactly(live: Live, terminal, site):
    live.put_secret(site, "EVIL", HOSTILE)
    result = terminal("get", "EVIL", "--raw", site=site)
    assert result.returncode == 0, result.stderr
    assert result.stdout == HOSTILE + "\n"


def test_get_piped_writes_the_value_exactly(live: Live, cli, site):
    live.put_secret(site, "EVIL", HOSTILE)
    assert cli("get", "EVIL", site=site).stdout == HOSTILE


@pytest.mark.parametrize("form", ["env", "shell", "json"])
def test_export_on_a_terminal_spells_out_control_sequences(live: Live, terminal, site, form):
    live.put_secret(site, "EVIL", HOSTILE)
    result = terminal("export", "--format", form, site=site)
    assert result.returncode == 0, result.stderr
    assert not ACTIVE.search(result.stdout)
    assert "EVIL" in result.stdout and "cm0gLXJmIH4=" in result.stdout


@pytest.mark.parametrize("form,writer", [("env", format_env), ("shell", format_shell)])
def test_export_raw_on_a_terminal_writes_the_values_exactly(live: Live, terminal, site, form, writer):
    live.put_secret(site, "EVIL", HOSTILE)
    result = terminal("export", "--format", form, "--raw", site=site)
    assert result.returncode == 0, result.stderr
    assert result.stdout == writer({"EVIL": HOSTILE})


@pytest.mark.parametrize("form,writer", [("env", format_env), ("shell", format_shell)])
def test_export_piped_writes_the_values_exactly(live: Live, cli, site, form, writer):
    live.put_secret(site, "EVIL", HOSTILE)
    assert cli("export", "--format", form, site=site).stdout == writer({"EVIL": HOSTILE})


def test_export_json_piped_escapes_c1_and_bidi_and_reads_back_exactly(live: Live, cli, site):
    live.put_secret(site, "EVIL", HOSTILE)
    live.put_secret(site, "READABLE", "日本語 ünïcødé 🔑")
    result = cli("export", "--format", "json", site=site)
    assert not ACTIVE.search(result.stdout)
    assert "\\u009b31m\\u202eend" in result.stdout and "日本語 ünïcødé 🔑" in result.stdout
    assert json.loads(result.stdout) == {"EVIL": HOSTILE, "READABLE": "日本語 ünïcødé 🔑"}


def test_ls_json_piped_escapes_bidi_characters_of_a_description(live: Live, cli, site):
    description = "looks safe \u202eexe.txt\u202c \u2067isolated\u2069 \u200f"
    live.ok("POST", f"/v1/sites/{site}/secrets", 201, json={"name": "A", "value": "v", "description": description})
    result = cli("ls", "--json", site=site)
    assert result.returncode == 0, result.stderr
    assert not ACTIVE.search(result.stdout)
    assert json.loads(result.stdout)[0]["description"] == description


@pytest.mark.parametrize("name", ["c1\x9b2J", "rtl\u202eoverride", "esc\x1b]0;title\x07"])
def test_token_create_refuses_a_name_with_control_or_bidi_characters(live: Live, cli, name):
    before = len(live.ok("GET", "/v1/tokens")["items"])
    result = cli("token", "create", "--name", name, "--role", "viewer")
    assert result.returncode == 1
    assert "/name" in result.stderr and "control" in result.stderr
    assert not ACTIVE.search(result.stderr)
    assert len(live.ok("GET", "/v1/tokens")["items"]) == before


@pytest.mark.parametrize("command", [("get", "NONASCII"), ("export",)], ids=["get", "export"])
def test_piped_values_are_utf8_whatever_the_locales_encoding(live: Live, cli, site, command):
    """A locale whose encoding cannot hold a character of the value (ISO-8859-1, ASCII) must not
    end the command in a traceback that names the character and its position: values are written
    as the UTF-8 they are stored as, as `set` reads them."""
    value = "pass-wörd-€-🔑"
    live.put_secret(site, "NONASCII", value)
    result = cli(*command, site=site, env={"PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "\\u20ac" not in result.stderr and "position" not in result.stderr
    assert value in result.stdout
