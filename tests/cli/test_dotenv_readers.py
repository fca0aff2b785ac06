"""`import` reads a `.env` file as python-dotenv and node's dotenv do wherever those two agree, and
where they disagree it follows the one README.md names. One table, written from the two libraries'
documented rules (python-dotenv's README "File format", node dotenv's README "What rules does the
parsing engine follow?"); each row says what `import` reads and what each library reads, and the
library columns are checked against python-dotenv itself and, where node can load it, node's dotenv."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from dotenv_readers import node_dotenv, python_dotenv
from tui.dotenv import DotenvError, parse

SAME = object()  # this reader reads what `import` reads


class Case(NamedTuple):
    text: str
    ours: str | Exception  # the value of A, or the refusal (a DotenvError's reason)
    python: object = SAME  # python-dotenv's value of A (None: A without a value; absent: no A at all)
    node: object = SAME
    why: str = ""


ABSENT = object()

CASES = {
    # both libraries agree, and so does `import`
    "plain": Case("A=value\n", "value"),
    "export prefix": Case("export A=1\n", "1"),
    "spaces around =": Case("A = 1\n", "1"),
    "unquoted is trimmed": Case("A=  some value  \n", "some value"),
    "empty": Case("A=\n", ""),
    "empty single quotes": Case("A=''\n", ""),
    "empty double quotes": Case('A=""\n', ""),
    "inline comment": Case("A=value # comment\n", "value"),
    "inline comment after a tab": Case("A=value\t#comment\n", "value"),
    "only a comment after = and a space": Case("A= # comment\n", ""),
    "only a comment after = and a tab": Case("A=\t# comment\n", ""),
    "only a comment after = and two spaces": Case("A=  # comment\n", ""),
    "hash inside double quotes": Case('A="x # y"\n', "x # y"),
    "hash inside single quotes": Case("A='x # y'\n", "x # y"),
    "comment after single quotes": Case("A='x' # c\n", "x"),
    "comment right after the quote": Case("A='x'#c\n", "x"),
    "quote after spaces after =": Case('A=  "x"\n', "x"),
    "single quotes keep spaces": Case("A=' x '\n", " x "),
    "double quotes keep spaces": Case('A=" x "\n', " x "),
    "inner quotes of an unquoted value": Case('A={"foo": "bar"}\n', '{"foo": "bar"}'),
    "quote in the middle of an unquoted value": Case('A=x"y"\n', 'x"y"'),
    "double quote inside single quotes": Case("A='\"'\n", '"'),
    "single quote inside double quotes": Case("A=\"'\"\n", "'"),
    "\\n in double quotes is a newline": Case('A="a\\nb"\n', "a\nb"),
    "\\n in single quotes is literal": Case("A='a\\nb'\n", "a\\nb"),
    "\\n unquoted is literal": Case("A=a\\nb\n", "a\\nb"),
    "a lone backslash in single quotes": Case("A='C:\\path'\n", "C:\\path"),
    "double quotes span lines": Case('A="first\nsecond"\n', "first\nsecond"),
    "single quotes span lines": Case("A='first\nsecond'\n", "first\nsecond"),
    "CRLF line endings": Case("A=x\r\nB=y\r\n", "x"),
    "no expansion unquoted": Case("A=${HOME}\n", "${HOME}"),
    "no expansion in double quotes": Case('A="${HOME}"\n', "${HOME}"),
    "no expansion in single quotes": Case("A='$HOME'\n", "$HOME"),
    "the last of a repeated name wins": Case("A=1\nA=2\n", "2"),
    # the libraries disagree: `import` follows python-dotenv
    "hash without a space before it": Case("A=a#b\n", "a#b", node="a", why="node's dotenv ends the value at any #"),
    "value starting with a hash": Case("A=#x\n", "#x", node="", why="node's dotenv ends the value at any #"),
    "backticks are ordinary characters": Case("A=`x y`\n", "`x y`", node="x y", why="only node's dotenv quotes with backticks"),
    "\\\" in double quotes": Case('A="a\\"b"\n', 'a"b', node='a\\"b', why="node's dotenv decodes only \\n and \\r"),
    "\\\\ in double quotes": Case('A="a\\\\b"\n', "a\\b", node="a\\\\b", why="node's dotenv decodes only \\n and \\r"),
    "\\t in double quotes": Case('A="a\\tb"\n', "a\tb", node="a\\tb", why="node's dotenv decodes only \\n and \\r"),
    # the libraries disagree: `import` follows node's dotenv (and a shell)
    "\\\\ in single quotes is literal": Case("A='a\\\\b'\n", "a\\\\b", python="a\\b", why="python-dotenv decodes \\\\ and \\' in single quotes"),
    "\\' in double quotes is literal": Case('A="a\\\'b"\n', "a\\'b", python="a'b", why="python-dotenv decodes \\' in double quotes"),
    # both agree, `import` does not, on purpose
    "\\$ in double quotes is $": Case('A="a\\$b"\n', "a$b", python="a\\$b", node="a\\$b",
                                      why="earlier `export --format env` files escaped $ as \\$ (as a shell reads it)"),
    "\\` in double quotes is `": Case('A="a\\`b"\n', "a`b", python="a\\`b", node="a\\`b",
                                      why="earlier `export --format env` files escaped ` as \\` (as a shell reads it)"),
    # lines the libraries skip (or set to nothing) are refused, naming the line
    "a name without =": Case("A\n", DotenvError(1, "expected NAME=value"), python=None, node=ABSENT,
                             why="a line that sets nothing is more likely a mistake than a wish"),
    "a dotted name": Case("A.B=1\nA=x\n", DotenvError(1, "the name before ="), python="x", node="x",
                          why="secret names are letters, digits and underscores"),
    "text after the closing quote": Case('A="x" y\n', DotenvError(1, "unexpected text after the closing quote"),
                                         python=ABSENT, node='"x" y', why="the readers differ; refusing is safe"),
    "\\' inside single quotes": Case("A='it\\'s'\n", DotenvError(1, "unexpected text after the closing quote"),
                                     python="it's", node="it\\'s", why="a shell ends the value at the second quote"),
    "a colon instead of =": Case("A: 1\n", DotenvError(1, "expected NAME=value"), python=ABSENT, node="1",
                                 why="only node's dotenv reads `NAME: value`"),
}


def ours(text: str) -> str | Exception:
    try:
        return {e.name: e.value for e in parse(text)}.get("A")
    except DotenvError as error:
        return error


def expected(case: Case, column: object) -> object:
    return case.ours if column is SAME else column


def value_of_a(read: dict) -> object:
    return read["A"] if "A" in read else ABSENT


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_import_reads_what_the_table_says(case: Case):
    got = ours(case.text)
    if isinstance(case.ours, DotenvError):
        assert isinstance(got, DotenvError) and got.line == case.ours.line and case.ours.reason in got.reason
    else:
        assert got == case.ours


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_python_dotenv_reads_what_the_table_says(case: Case):
    assert value_of_a(python_dotenv(case.text)) == expected(case, case.python)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_node_dotenv_reads_what_the_table_says(case: Case):
    assert value_of_a(node_dotenv(case.text)) == expected(case, case.node)


def test_where_the_libraries_agree_import_reads_the_same_or_refuses_the_line():
    """The table's promise, checked on the table: a row where python-dotenv and node agree differs
    from `import` only by a refusal or by one of the two `export`-compatibility escapes."""
    compatibility = {"\\$ in double quotes is $", "\\` in double quotes is `"}
    for name, case in CASES.items():
        python, node = expected(case, case.python), expected(case, case.node)
        if python == node and name not in compatibility:
            assert isinstance(case.ours, DotenvError) or case.ours == python, name


def test_every_row_where_import_differs_says_why():
    for name, case in CASES.items():
        if case.python is not SAME or case.node is not SAME:
            assert case.why, name
