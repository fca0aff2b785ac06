"""`set NAME` at a terminal asks for the value twice without echo. A terminal keeps at most 4095
bytes of a typed (or pasted) line and drops the rest without a sign, so a value that long is
refused rather than stored cut: it comes from a pipe or `--from-file` instead."""

from __future__ import annotations

from cli_helpers import Live
from test_ctrl_c import at_terminal


def test_a_value_typed_twice_is_set(live: Live, site):
    tty = at_terminal(live, site, "set", "API_KEY")
    tty.wait_for("value of API_KEY: ")
    tty.type("typed value\n")
    tty.wait_for("again: ")
    tty.type("typed value\n")
    assert tty.finish() == 0
    assert live.reveal(site, "API_KEY") == "typed value"


def test_a_value_as_long_as_a_terminal_line_is_refused_not_cut(live: Live, site):
    pasted = "k" * 5000
    tty = at_terminal(live, site, "set", "CERT")
    tty.wait_for("value of CERT: ")
    tty.type(pasted + "\n")
    tty.wait_for("again: ")
    tty.type(pasted + "\n")
    assert tty.finish() == 2
    assert "--from-file" in tty.after("again: ") and "nothing was sent" in tty.after("again: ")
    assert pasted[:100] not in tty.output
    assert live.secret(site, "CERT").status_code == 404
