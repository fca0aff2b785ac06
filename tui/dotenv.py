"""Reading and writing `.env` files, so `export --format env` re-imports to the same values and
python-dotenv and node's dotenv read it back too.

Accepted: blank lines, `#` comments, an optional `export ` prefix, unquoted values (trimmed; a `#`
after whitespace starts a comment, so `KEY= # note` is empty while `KEY=#x` is `#x`), single quotes
(literal, as in a shell), double quotes (with `\\n`, `\\r`, `\\t`, `\\"`, `\\\\`, `\\$` and `` \\` ``
escapes, and spanning several lines). Where python-dotenv and node's dotenv agree, this reader gives
the same value or refuses the line; README.md (".env files in and out") lists where they differ
and which one is followed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEY = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")
_SPACE = re.compile(r"[^\S\r\n]*")  # whitespace after `=`, as python-dotenv skips it before a quote
_LOOSE_KEY = re.compile(r"\s*(?:export\s+)?[^=\s][^=]*=")  # an assignment whose name breaks the rule
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$", "`": "`"}


class DotenvError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line, self.reason = line, reason


@dataclass(frozen=True)
class Entry:
    name: str
    value: str
    line: int


def parse(text: str) -> list[Entry]:
    """Every assignment in `text`, in order; raises DotenvError naming the first bad line.

    One pass: each character is looked at a bounded number of times, so even a large file with an
    unclosed quote or a long run of spaces fails (or parses) in time proportional to its size.
    """
    entries: list[Entry] = []
    pos, number = 0, 1
    while pos <= len(text):
        end = _line_end(text, pos)  # "\n" only, not splitlines(): a value may hold \x1c, \x85 or \u2028
        line = text[pos:end]
        if line.strip() and not line.lstrip().startswith("#"):
            name, value, end = _assignment(text, pos, line, number)
            entries.append(Entry(name, value, number))
        number += 1 + text.count("\n", pos, end)
        pos = end + 1
    return entries


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _assignment(text: str, pos: int, line: str, number: int) -> tuple[str, str, int]:
    """The name and value of the assignment starting at `pos`, and where its last line ends."""
    match = _KEY.match(line)
    if not match:
        # the reason, never the text: a malformed line may hold part of a value
        raise DotenvError(number, "the name before = must hold only letters, digits and underscores and not "
                                  "start with a digit" if _LOOSE_KEY.match(line) else "expected NAME=value")
    start = pos + _SPACE.match(line, match.end()).end()
    if text.startswith('"', start):
        value, after = _double_quoted(text, start + 1, number)
    elif text.startswith("'", start):
        after = text.find("'", start + 1)
        if after < 0:
            raise DotenvError(number, "the single quote is never closed")
        value, after = text[start + 1:after], after + 1
    else:
        return match.group(1), _unquoted(line[match.end():]), pos + len(line)
    end = _line_end(text, after)
    _check_trailing(text[after:end], number)
    return match.group(1), value, end


def _unquoted(rest: str) -> str:
    """`rest` trimmed, without an inline comment: a `#` that follows whitespace."""
    hash_at = rest.find("#", 1)
    while hash_at > 0 and not rest[hash_at - 1].isspace():
        hash_at = rest.find("#", hash_at + 1)
    return (rest if hash_at < 0 else rest[:hash_at]).strip()


_PLAIN = re.compile(r'[^"\\]*')


def _double_quoted(text: str, pos: int, number: int) -> tuple[str, int]:
    """The value of a double-quoted string whose text starts at `pos`, and the index after its closing quote."""
    out: list[str] = []
    while True:
        plain = _PLAIN.match(text, pos)
        out.append(plain.group())
        pos = plain.end()
        if pos >= len(text):
            raise DotenvError(number, "the double quote is never closed")
        if text[pos] == '"':
            return "".join(out), pos + 1
        if pos + 1 >= len(text):  # a backslash that ends the file escapes nothing and closes nothing
            raise DotenvError(number, "the double quote is never closed")
        out.append(_ESCAPES.get(text[pos + 1], text[pos:pos + 2]))
        pos += 2


def _check_trailing(trailing: str, number: int) -> None:
    stripped = trailing.strip()
    if stripped and not stripped.startswith("#"):
        raise DotenvError(number, "unexpected text after the closing quote")


def quote_env(value: str) -> str:
    """`value` as a dotenv value that `parse`, python-dotenv and node's dotenv all read back the same
    where they can: in single quotes (literal in all three) when it has no single quote, no line
    break and no backslash that python-dotenv would read as an escape (`\\\\`, or one before the
    closing quote); else in double quotes with only `\\`, `"`, newline and carriage return escaped
    (python-dotenv and node read `\\$` and `` \\` `` with their backslash, so `$` and `` ` `` stay bare).
    The result is always one line."""
    if _SINGLE_QUOTABLE.fullmatch(value):
        return "'" + value + "'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r") + '"'


_SINGLE_QUOTABLE = re.compile(r"(?:[^'\n\r\\]|\\(?=[^'\n\r\\]))*")
"""No `'` and no line break; a backslash only before a character that is neither a backslash nor
the end (python-dotenv reads `\\\\` in single quotes as one backslash, and `\\'` as a quote)."""


def quote_shell(value: str) -> str:
    """`value` as a POSIX shell single-quoted word."""
    return "'" + value.replace("'", "'\\''") + "'"


def format_env(pairs: dict[str, str]) -> str:
    return "".join(f"{name}={quote_env(value)}\n" for name, value in pairs.items())


def format_shell(pairs: dict[str, str]) -> str:
    return "".join(f"export {name}={quote_shell(value)}\n" for name, value in pairs.items())


class DockerFormatError(ValueError):
    """Values that docker's `--env-file` cannot hold; carries their names, never the values."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"{', '.join(names)}: a line break cannot be written in docker's env-file format")
        self.names = names


def format_docker(pairs: dict[str, str]) -> str:
    """`NAME=value` lines as docker's `--env-file` reads them: the value is everything after the
    first `=`, taken literally (no quotes, no escapes, no comments, spaces kept), one line each.
    Raises DockerFormatError naming every value that holds a line break, before anything is written."""
    refused = [name for name, value in pairs.items() if "\n" in value or "\r" in value]
    if refused:
        raise DockerFormatError(refused)
    return "".join(f"{name}={value}\n" for name, value in pairs.items())
