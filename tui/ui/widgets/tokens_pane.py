"""The Tokens tab (admins; a site-bound admin sees its own site's tokens, the server decides):
name, role, site, service, created, expires and last used; `n` creates a token (shown once,
copyable), `d` revokes the highlighted one after a confirm, `/` filters."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from shared.limits import EXPIRED_TOKEN_GRACE_DAYS
from shared.models import Token
from tui.client import SiteSecretsClient
from tui.display import clipped, plural, safe_text, short_time
from tui.ui.keys import CLEAR_FILTER, FILTER, NEW, REFRESH, Key, bindings
from tui.ui.messages import RevokeToken, TokensChanged
from tui.ui.widgets.compact_table import CompactTable
from tui.ui.widgets.data_pane import DataPane

COLUMNS = ("name", "role", "site", "service", "created", "expires", "last used")
WIDEST = {"name": 16, "site": 12, "service": 10}
"""Cells past these widths are cut with an ellipsis (the detail line shows them whole), so the
dates stay on an 80-column screen."""


def day(moment) -> str:
    return short_time(moment)[:10] if moment is not None else "never"


def has_expired(token: Token) -> bool:
    """Refused by the server from its expiry on; listed `EXPIRED_TOKEN_GRACE_DAYS` more (then the server removes it)."""
    return token.expires_at is not None and token.expires_at <= datetime.now(timezone.utc)


class TokensPane(DataPane):
    DEFAULT_CSS = """
    #tokens-table { height: 1fr; min-height: 4; }
    #token-detail { height: auto; min-height: 4; max-height: 8; border-top: solid $primary; padding: 0 1; }
    """
    # Auto height: a name of 128 characters (CJK: 256 cells) wraps, and with a fixed three lines
    # it pushed the expiry, the reason a token stopped working, out of sight.
    NAME = "tokens"
    PALETTE = "Tokens"
    FILTER_HINT = "filter tokens by name, role, site or service"
    NOUN = "tokens"
    SITE_SCOPED = False
    CHANGING = frozenset({"new", "delete"})
    BINDINGS = bindings("tokens", NEW, Key("d", "delete", "Revoke"), REFRESH, FILTER, CLEAR_FILTER)
    data: list[Token] | None

    def compose(self) -> ComposeResult:
        table = CompactTable(id="tokens-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Static(id="token-detail")

    def fetch(self, client: SiteSecretsClient, site: str) -> list[Token]:
        return client.list_tokens()

    def rows(self) -> Iterable[tuple[str, Token]]:
        for token in sorted(self.data or [], key=lambda t: (t.site or "", t.name.lower(), t.id)):
            yield token.id, token

    def haystack(self, token: Token) -> Iterable[str]:
        return (token.name, token.role.value, token.site or "", token.service or "")

    def cells(self, token: Token) -> list[Text]:
        return [clipped(token.name, WIDEST["name"]), Text(token.role.value), clipped(token.site or "all", WIDEST["site"]),
                clipped(token.service, WIDEST["service"]), Text(day(token.created_at)),
                Text(day(token.expires_at), style="red" if has_expired(token) else ""), Text(day(token.last_used_at))]

    def show(self, token: Token | None) -> None:
        self.query_one("#token-detail", Static).update(self.describe(token))

    def describe(self, token: Token | None) -> Text:
        if token is None and self.data is None:
            return self.empty_text()  # loading, or why the load failed
        if token is None:
            return Text("No token matches the filter; escape clears it." if self.needle else "No tokens; n creates one.",
                        style="dim")
        line = safe_text(token.name, style="bold")
        line.append(f"  {token.role.value}, ")
        if token.site:
            line.append("site ")
            line.append_text(safe_text(token.site))
        else:
            line.append("every site (the operator)" if token.role.value == "admin" else "every site")
        if token.service:
            line.append(", service ")
            line.append_text(safe_text(token.service))
        if token.id == self.app.identity.id:
            line.append("  (this TUI's token)", style="yellow")
        line.append(f"\nid {token.id} · created {short_time(token.created_at)}")
        if has_expired(token):
            line.append(f"\nexpired {short_time(token.expires_at)}: refused, and removed "
                        f"{plural(EXPIRED_TOKEN_GRACE_DAYS, 'day')} after", style="red")
            line.append(f" · last used {short_time(token.last_used_at)}")
        else:
            line.append(f"\nexpires {short_time(token.expires_at) if token.expires_at else 'never'} · "
                        f"last used {short_time(token.last_used_at)}")
        return line

    def form(self, token: Token | None):
        if token is not None:  # a token cannot be edited: revoke it and create another
            return None
        from tui.ui.dialogs.token_form import TokenFormDialog

        return TokenFormDialog()

    def saved(self, token: Token) -> TokensChanged:
        return TokensChanged(select=token.id)

    def deletion(self, token: Token) -> tuple[str, Text, RevokeToken]:
        question = Text("Revoke the token ")
        question.append_text(safe_text(token.name, style="bold"))
        question.append(f" ({token.role.value}")
        if token.site:
            question.append(", site ")
            question.append_text(safe_text(token.site))
        question.append(")? Whoever uses it is refused from now on.")
        if token.id == self.app.identity.id:
            question.append("\nIt is the token this TUI uses: the TUI stops working.", style="bold red")
        return "Revoke token", question, RevokeToken(token)

    def confirm_then_post(self, title, question, message) -> None:
        from tui.ui.dialogs.confirm import ConfirmDialog

        self.app.push_screen(ConfirmDialog(title, question, "Revoke"),
                             lambda yes: self.post_message(message) if yes else None)
