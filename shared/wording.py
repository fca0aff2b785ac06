"""How a count reads in a message, the same in both halves: `no tokens`, `1 token`, `2 tokens`,
never `1 token(s)`. The server's refusals and logs use it, and the client half (`tui.display`).

Standard library only.
"""

from __future__ import annotations


def plural(count: int, word: str) -> str:
    """`count` and `word` (or a phrase, whose last word takes the plural): `no tokens`, `1 token`,
    `1,234 tokens`, `3 expired secrets`. Only for nouns whose plural adds an s."""
    if count == 0:
        return f"no {word}s"
    return f"{count:,} {word}" + ("" if count == 1 else "s")
