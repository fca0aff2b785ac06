"""Untrusted text made safe for a terminal by spelling out what could drive it: standard library
only, so `sitesecrets run` (which imports no third-party module) shows a server's message as
safely as every other command does through `tui.display`.

Terminals act on ESC, CSI, OSC (clipboard, title, hyperlinks) and 8-bit C1 bytes inside plain text,
and bidi overrides can make text read backwards; each such character is written as a visible
escape, e.g. ESC as `\\x1b`.
"""

from __future__ import annotations

import unicodedata

# Categories spelled out: controls (C0, DEL, C1), format characters (bidi overrides and
# isolates, zero-width joiners, BOM), surrogates, and the Unicode line/paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def escape(ch: str) -> str:
    """`ch` as the escape that shows it: `\\x1b`, `\\u202e`, `\\U000e0001`."""
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def is_unsafe(ch: str, multiline: bool = False) -> bool:
    """Whether `ch` must be spelled out; newline and tab pass when `multiline` is true."""
    if multiline and ch in "\n\t":
        return False
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES


def spelled_out(value: object, *, multiline: bool = False) -> str:
    """`value` as a plain string with every control or format character spelled out."""
    return "".join(escape(ch) if is_unsafe(ch, multiline) else ch for ch in str(value))
