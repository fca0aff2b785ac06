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
    """Every assignment in `text`, in order; raises DotenvError naming the first bad line."""
    entries: list[Entry] = []
    lines = text.split("\n")  # not splitlines(): a value may hold \x1c, \x85 or \u2028
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _KEY.match(line)
        if not match:
            # the reason, never the text: a malformed line may hold part of a value
            raise DotenvError(number, "the name before = must hold only letters, digits and underscores and not "
                                      "start with a digit" if _LOOSE_KEY.match(line) else "expected NAME=value")
        rest = line[match.end():]
        if rest.startswith('"'):
            value, index = _double_quoted(rest[1:], lines, index, number)
        elif rest.startswith("'"):
            value, index = _single_quoted(rest[1:], lines, index, number)
        else:
            value = re.split(r"\s+#", rest, maxsplit=1)[0].strip()
        entries.append(Entry(match.group(1), value, number))
    return entries


def _double_quoted(rest: str, lines: list[str], index: int, number: int) -> tuple[str, int]:
    out: list[str] = []
    text = rest
    while True:
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "\\" and i + 1 < len(text):
                out.append(_ESCAPES.get(text[i + 1], "\\" + text[i + 1]))
                i += 2
                continue
            if ch == '"':
                _check_trailing(text[i + 1:], number)
                return "".join(out), index
            out.append(ch)
            i += 1
        if index >= len(lines):
            raise DotenvError(number, "the double quote is never closed")
        out.append("\n")
        text, index = lines[index], index + 1


def _single_quoted(rest: str, lines: list[str], index: int, number: int) -> tuple[str, int]:
    collected = rest
    while "'" not in collected:
        if index >= len(lines):
            raise DotenvError(number, "the single quote is never closed")
        collected += "\n" + lines[index]
        index += 1
    value, _, trailing = collected.partition("'")
    _check_trailing(trailing, number)
    return value, index


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
