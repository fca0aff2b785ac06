"""`tui.dotenv`: what `import` accepts, what `export --format env` writes, and that one reads the other."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from tui.dotenv import DotenvError, format_env, format_shell, parse, quote_env


def pairs(text: str) -> dict[str, str]:
    return {e.name: e.value for e in parse(text)}


def test_blank_lines_and_comments_are_skipped():
    assert pairs("\n# comment\n   # indented comment\n\nA=1\n") == {"A": "1"}


def test_entries_keep_their_line_numbers():
    assert [(e.name, e.line) for e in parse("# c\nA=1\n\nB=\"x\ny\"\nC=3\n")] == [("A", 2), ("B", 4), ("C", 6)]


def test_export_prefix_is_accepted():
    assert pairs("export A=1\nexport   B='2'\n") == {"A": "1", "B": "2"}


def test_a_name_that_starts_with_export_is_a_name():
    assert pairs("exported=1\nexport=2\n") == {"exported": "1", "export": "2"}


def test_unquoted_values_are_trimmed_and_lose_inline_comments():
    assert pairs("A=  padded  \nB=value # comment\nC=a#b\n") == {"A": "padded", "B": "value", "C": "a#b"}


def test_spaces_around_equals_are_allowed():
    assert pairs("A = 1\n") == {"A": "1"}


def test_single_quotes_are_literal():
    assert pairs("A='$HOME \\n \"x\" # not a comment'\n") == {"A": '$HOME \\n "x" # not a comment'}


def test_double_quotes_understand_escapes():
    assert pairs('A="a\\nb\\tc\\"d\\\\e\\$f\\`g\\rh"\n') == {"A": 'a\nb\tc"d\\e$f`g\rh'}


def test_unknown_escape_in_double_quotes_is_kept():
    assert pairs('A="\\q"\n') == {"A": "\\q"}


def test_double_quoted_value_may_span_lines():
    assert pairs('A="first\n  second\n"\nB=2\n') == {"A": "first\n  second\n", "B": "2"}


def test_single_quoted_value_may_span_lines():
    assert pairs("A='first\nsecond'\n") == {"A": "first\nsecond"}


def test_comment_after_a_closing_quote_is_allowed():
    assert pairs('A="x" # note\nB=\'y\'   # note\n') == {"A": "x", "B": "y"}


def test_empty_values():
    assert pairs("A=\nB=''\nC=\"\"\n") == {"A": "", "B": "", "C": ""}


def test_value_with_equals_signs():
    assert pairs("URL=postgres://u:p@h/db?a=1&b=2\n") == {"URL": "postgres://u:p@h/db?a=1&b=2"}


def test_crlf_line_endings_of_unquoted_values_are_dropped():
    assert pairs("A=1\r\nB=2\r\n") == {"A": "1", "B": "2"}


@pytest.mark.parametrize("text,line,reason", [
    ("A=1\nnot an assignment\n", 2, "expected NAME=value"),
    ("A=1\n=value\n", 2, "expected NAME=value"),
    ("A=1\n\nBAD-NAME=1\n", 3, "letters, digits and underscores"),
    ("9LIVES=1\n", 1, "not start with a digit"),
    ("A=1\nB=\"open\nC=2\n", 2, "double quote is never closed"),
    ("A=1\nB='open\n", 2, "single quote is never closed"),
    ("A=\"x\" trailing\n", 1, "after the closing quote"),
])
def test_malformed_lines_are_named_with_a_reason(text, line, reason):
    with pytest.raises(DotenvError) as caught:
        parse(text)
    assert caught.value.line == line
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"line {line}: ")


def test_errors_never_quote_the_line():
    with pytest.raises(DotenvError) as caught:
        parse("A=1\nhunter2-secret-value=x\n")
    assert "hunter2" not in str(caught.value)


def test_format_env_single_quotes_a_value_that_allows_it():
    assert format_env({"A": 'say "hi" $HOME `id` # \\d\t'}) == "A='say \"hi\" $HOME `id` # \\d\t'\n"


@pytest.mark.parametrize("value", ["it's", "a\nb", "a\rb", "a\\\\b", "ends\\"])
def test_format_env_double_quotes_a_value_single_quotes_cannot_hold(value):
    assert format_env({"A": value}).startswith('A="')


def test_format_env_double_quotes_escape_only_backslash_quote_and_line_breaks():
    assert format_env({"A": 'x"$`\\\n\t\r\''}) == 'A="x\\"$`\\\\\\n\t\\r\'"\n'


def test_format_shell_single_quotes():
    assert format_shell({"A": "it's $HOME"}) == "export A='it'\\''s $HOME'\n"


def test_quote_env_output_stays_on_one_line():
    assert "\n" not in quote_env("a\nb\rc")


NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True)
VALUES = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(NAMES, VALUES, max_size=8))
def test_parse_reads_back_what_format_env_writes(env):
    assert pairs(format_env(env)) == env


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(NAMES, VALUES, max_size=4), st.lists(st.sampled_from(["", "# comment", "  "]), max_size=3))
def test_format_env_output_survives_comments_and_blank_lines_around_it(env, filler):
    text = "\n".join(filler) + "\n" + format_env(env) + "\n".join(filler)
    assert pairs(text) == env


# Large inputs: the reader is a single pass. The old one re-scanned an open single-quoted value
# from its start at every line (7 s for 3 MB, so some 12 minutes for 30 MB) and backtracked over a
# run of spaces before an unquoted value (quadratic: minutes for 3 MB). No timing is asserted: these
# sizes make a quadratic reader run into the suite's timeout, while a linear one takes a fraction of
# a second.
THIRTY_MB_OF_LINES = ("x" * 63 + "\n") * 480_000


def test_unclosed_single_quote_in_a_30_mb_file_names_its_line():
    with pytest.raises(DotenvError) as error:
        parse("A=1\nB='" + THIRTY_MB_OF_LINES)
    assert (error.value.line, error.value.reason) == (2, "the single quote is never closed")


def test_unclosed_double_quote_in_a_30_mb_file_names_its_line():
    with pytest.raises(DotenvError) as error:
        parse("A=1\nB=\"" + THIRTY_MB_OF_LINES)
    assert (error.value.line, error.value.reason) == (2, "the double quote is never closed")


def test_3_mb_of_spaces_before_an_unquoted_value_are_trimmed():
    assert pairs("A=" + " " * 3_000_000 + "x\n") == {"A": "x"}


def test_3_mb_of_spaces_before_an_inline_comment_are_dropped():
    assert pairs("A=x" + " " * 3_000_000 + "# note\nB=2\n") == {"A": "x", "B": "2"}


def test_lines_after_a_long_multiline_value_keep_their_numbers():
    entries = parse("A='" + THIRTY_MB_OF_LINES + "'\nB=2\n")
    assert [(e.name, e.line) for e in entries] == [("A", 1), ("B", 480_002)]
