"""Command palette (`ctrl+p`) entries that follow the current tab: its actions and, on the
Secrets tab, "go to secret" for every secret.

Textual parses a string prompt as markup, so prompts are passed as `safe_text` (a Rich Text)
and matched against their plain form.
"""

from __future__ import annotations

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.display import safe_text


class TabCommands(Provider):
    """Asks the main screen's active pane for `palette_commands()`."""

    def _commands(self):
        from tui.ui.screens.main import MainScreen

        screen = self.screen
        if not isinstance(screen, MainScreen):
            return []
        return screen.palette_commands()

    async def discover(self) -> Hits:
        for title, _help, callback in self._commands():
            yield DiscoveryHit(safe_text(title), callback, text=title)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, _help, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, safe_text(title), callback, text=title)
