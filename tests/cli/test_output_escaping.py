"""The escaping of the command line's JSON output (`--json`, `export --format json`), on its own:
C1 controls and bidi characters come out as `\\uXXXX`, readable Unicode stays as it is, and the
text always reads back to the very same data."""

from __future__ import annotations

import contextlib
import io
import json
import re

import pytest
from hypothesis import given, settings, strategies as st

from tui.scripting.common import print_json

C1_AND_BIDI = re.compile("[\x80-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printed(data, capsys) -> str:
    print_json(data)
    return capsys.readouterr().out


@pytest.mark.parametrize("ch", ["\x85", "\x9b", "\x9d", "\u061c", "\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\u2069"])
def test_c1_and_bidi_characters_are_written_as_u_escapes(ch, capsys):
    out = printed({"v": f"a{ch}b"}, capsys)
    assert f"a\\u{ord(ch):04x}b" in out and ch not in out


def test_c0_controls_keep_the_escapes_json_gives_them(capsys):
    out = printed({"v": "\x1b[2J\x07\n\t"}, capsys)
    assert '"\\u001b[2J\\u0007\\n\\t"' in out


def test_readable_unicode_is_not_escaped(capsys):
    assert '"日本語 ünïcødé 🔑 — ✓"' in printed({"v": "日本語 ünïcødé 🔑 — ✓"}, capsys)


def test_output_is_indented_json(capsys):
    assert printed({"a": [1]}, capsys) == '{\n  "a": [\n    1\n  ]\n}\n'


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.dictionaries(st.text(st.characters(exclude_categories=("Cs",))), st.text(st.characters(exclude_categories=("Cs",)))))
def test_any_strings_read_back_exactly_and_leave_no_c1_or_bidi_character(data):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print_json(data)
    out = buffer.getvalue()
    assert json.loads(out) == data
    assert not C1_AND_BIDI.search(out)
