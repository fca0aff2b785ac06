"""The one door through which untrusted text reaches the screen.

Names, descriptions, values, type names, schemas, server messages and audit fields all come from
other people. Textual and Rich pass ESC, CSI, OSC (clipboard, title, hyperlinks) and 8-bit C1
bytes inside plain text straight to the terminal, and bidi overrides can make text read backwards,
so "markup off" is not enough: every such string goes through `safe_text` (a Rich `Text`, never
parsed as markup) or `safe_str` (for places that take a plain string, such as notifications),
which spell those characters out visibly, e.g. ESC as `\\x1b`.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text

from shared.wording import plural  # noqa: F401 - re-exported: the client half takes it from here with the rest
from tui.plain import escape as _escape, is_unsafe as _is_unsafe, spelled_out


MASK = "••••••••"
"""A masked value: fixed width, so it never tells the value's length."""

ESCAPE_STYLE = "reverse"
"""Escaped characters stand out, so `\\x1b` sent by someone can't pass for four typed ones."""


def safe_text(value: object, *, multiline: bool = False, style: str = "") -> Text:
    """`value` as a Rich Text that shows every control or format character as a visible escape.

    Never parsed as markup. Newlines and tabs are kept only when `multiline` is true.
    """
    text = Text(style=style, end="", no_wrap=False)
    plain: list[str] = []
    for ch in str(value):
        if _is_unsafe(ch, multiline):
            if plain:
                text.append("".join(plain))
                plain.clear()
            text.append(_escape(ch), style=ESCAPE_STYLE)
        else:
            plain.append(ch)
    if plain:
        text.append("".join(plain))
    return text


def fit(text: Text, width: int) -> Text:
    """`text` cut to at most `width` terminal cells, ending in `…` when cut (a new Text; `text`
    unchanged). Cells, not characters: a CJK character or an emoji takes two, a combining mark
    none, and an escape `safe_text` spelled out takes what it shows."""
    if text.cell_len <= width:
        return text
    kept = used = 0
    for ch in text.plain:
        used += cell_len(ch)
        if used > width - 1:  # room for the ellipsis
            break
        kept += 1
    cut = text[:kept] if width > 0 else Text()
    if width > 0:
        cut.append("…")
    return cut


def clipped(value: object, width: int, *, style: str = "") -> Text:
    """Untrusted `value` (None: "-") as `safe_text` of at most `width` cells, cut with `…`."""
    return fit(safe_text("-" if value is None or value == "" else value, style=style), width)


def safe_str(value: object, *, multiline: bool = False) -> str:
    """`value` as a plain string with control and format characters spelled out (see `safe_text`).

    For APIs that take a string: pass it on with markup disabled.
    """
    return spelled_out(value, multiline=multiline)


def visible_chars(value: str) -> str:
    """`value` with each control or format character replaced by one visible stand-in (`␛` for
    ESC, `�` for the rest): same length, so an editable field's cursor positions still line up.

    For editable fields, whose text must stay the real value while what is drawn must not be it.
    """
    out = []
    for ch in value:
        if not _is_unsafe(ch, False):
            out.append(ch)
        elif ord(ch) < 0x20:
            out.append(chr(0x2400 + ord(ch)))  # the Unicode "control pictures": ␛, ␇, ...
        else:
            out.append("\ufffd")
    return "".join(out)


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_text(value: object, indent: int = 2) -> str:
    """`value` as indented JSON for an editor: readable Unicode, but every control or format
    character written as a `\\uXXXX` escape, so the text parses back to the same value and holds
    nothing a terminal would act on."""
    import json

    text = json.dumps(value, indent=indent, ensure_ascii=False)
    # json.dumps escapes newlines and tabs inside strings; the raw ones left are its own layout.
    return "".join(_json_escape(ch) if _is_unsafe(ch, True) else ch for ch in text)


def short_time(moment: object) -> str:
    """A compact UTC time for tables: `2026-11-27 01:54`."""
    if moment is None:
        return "never"
    text = moment.strftime("%Y-%m-%d %H:%M") if hasattr(moment, "strftime") else str(moment)
    return safe_str(text)
