"""`SafeInput`: an Input that draws control and format characters as visible stand-ins.

An edit form fills its inputs with stored text (a description, a type's name) that someone else
wrote; Textual's Input would send a bidi override or an escape sequence in it straight to the
terminal. The value itself is untouched, so saving keeps exactly what was there.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Input

from tui.display import ESCAPE_STYLE, visible_chars
from tui.ui.textual_private import InputDrawsText


class SafeInput(InputDrawsText, Input):
    def drawn_text(self) -> Text:
        shown = visible_chars(self.value)
        text = Text(shown, no_wrap=True, overflow="ignore", end="")
        for index, (real, drawn) in enumerate(zip(self.value, shown)):
            if real != drawn:
                text.stylize(ESCAPE_STYLE, index, index + 1)
        return text
