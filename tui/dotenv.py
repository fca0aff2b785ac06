"""Reading and writing `.env` files, so `export --format env` re-imports to the same values.

Accepted: blank lines, `#` comments, an optional `export ` prefix, unquoted values (trimmed, an
inline ` #` starts a comment), single quotes (literal), double quotes (with `\\n`, `\\t`, `\\"`,
`\\\\`, `\\$` escapes, and spanning several lines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEY = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s?")
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
    start = pos + match.end()
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
    """`value` as a double-quoted dotenv value that `parse` reads back unchanged."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


def quote_shell(value: str) -> str:
    """`value` as a POSIX shell single-quoted word."""
    return "'" + value.replace("'", "'\\''") + "'"


def format_env(pairs: dict[str, str]) -> str:
    return "".join(f"{name}={quote_env(value)}\n" for name, value in pairs.items())


def format_shell(pairs: dict[str, str]) -> str:
    return "".join(f"export {name}={quote_shell(value)}\n" for name, value in pairs.items())
