"""Edges of the `.env` reader that mutation testing showed no test pinned: a backslash at the end of
a line inside double quotes, text right after a closing quote, a multi-line single-quoted value
followed by another entry, a quote inside a comment, and the reason a bad name gets."""

from __future__ import annotations

import pytest

from tui.dotenv import DotenvError, parse


def entries(text: str) -> list[tuple[str, str, int]]:
    return [(e.name, e.value, e.line) for e in parse(text)]


def reason_for(text: str) -> tuple[int, str]:
    with pytest.raises(DotenvError) as caught:
        parse(text)
    return caught.value.line, caught.value.reason


NAME_REASON = "the name before = must hold only letters, digits and underscores and not start with a digit"


def test_a_backslash_ending_a_line_inside_double_quotes_is_kept_with_the_newline():
    # an unknown escape is kept as written, and a newline is no escape: no line continuation
    assert entries('A="x\\\ny"\nB=2\n') == [("A", "x\\\ny", 1), ("B", "2", 3)]


def test_a_backslash_ending_a_line_does_not_escape_the_quote_on_the_next():
    assert entries('A="x\\\n"\nB=2\n') == [("A", "x\\\n", 1), ("B", "2", 3)]


def test_an_escaped_quote_at_the_end_of_the_file_closes_nothing():
    assert reason_for('A="x\\"') == (1, "the double quote is never closed")


@pytest.mark.parametrize("text", ['A="x"y\n', "A='x'y\n", 'A="x" y\n', "A='x'\t'y'\n", 'A=""x\n'])
def test_one_character_after_a_closing_quote_is_refused(text):
    assert reason_for(text) == (1, "unexpected text after the closing quote")


@pytest.mark.parametrize("text", ['A="x"#c\n', 'A="x"  \n', "A='x'\t# c\n"])
def test_only_space_or_a_comment_may_follow_a_closing_quote(text):
    assert entries(text) == [("A", "x", 1)]


def test_a_multiline_single_quoted_value_is_followed_by_the_next_entry():
    assert entries("A='x\ny'\nB=2\nC='z'\n") == [("A", "x\ny", 1), ("B", "2", 3), ("C", "z", 4)]


def test_a_quote_inside_a_comment_after_a_single_quoted_value_is_comment():
    assert entries("A='x' # it's\nB=1\n") == [("A", "x", 1), ("B", "1", 2)]


def test_a_quote_inside_a_comment_after_a_double_quoted_value_is_comment():
    assert entries('A="x" # say "hi"\nB=1\n') == [("A", "x", 1), ("B", "1", 2)]


@pytest.mark.parametrize("text", ["export 1BAD=x\n", "1BAD=x\n", "export BAD-1=x\n", "export  A.B = x\n"])
def test_a_bad_name_gets_the_names_rule_as_its_reason(text):
    assert reason_for(text) == (1, NAME_REASON)


def test_export_alone_with_no_assignment_is_not_name_value():
    assert reason_for("export 1BAD\n") == (1, "expected NAME=value")
