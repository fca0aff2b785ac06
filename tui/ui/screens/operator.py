"""What the main screen does for the operator's tabs (Sites, Tokens): the work behind the messages
their panes post (delete a site with everything in it, revoke a token, open a site in the other
tabs) and the reloads of what shows a change. A mixin of `MainScreen`, kept apart so the screen
stays small."""

from __future__ import annotations

from tui.client import ApiError
from tui.display import safe_str
from tui.ui.messages import DeleteSite, OpenSite, RevokeToken, SitesChanged, TokensChanged

OPERATOR_TABS = {
    "sites": ("tui.ui.widgets.sites_pane", "SitesPane"),
    "tokens": ("tui.ui.widgets.tokens_pane", "TokensPane"),
}
"""The operator's tabs, built the first time they are shown (as the screen's `ON_DEMAND`)."""


class OperatorActions:
    """Mixed into `MainScreen` (an `ApiCaller` Screen)."""

    def _reload(self, first: str, select: str | None, *others: str) -> None:
        for pane in self.query(f"#{first}-pane"):  # type: ignore[attr-defined]
            pane.load(select=select)
        for tab in others:
            for pane in self.query(f"#{tab}-pane"):  # type: ignore[attr-defined]
                pane.load()

    def on_sites_changed(self, changed: SitesChanged) -> None:
        app = self.app  # type: ignore[attr-defined]
        if not app.site and changed.select:  # the first site since the last was deleted: open it
            app.site = changed.select
            self.reload_all()  # type: ignore[attr-defined]
            return
        self._reload("sites", changed.select, "tokens")  # a new site may come with its first token

    def on_tokens_changed(self, changed: TokensChanged) -> None:
        self._reload("tokens", changed.select, "sites")  # the Sites tab counts each site's tokens

    def on_open_site(self, request: OpenSite) -> None:
        """Show `request.name` in the other tabs, starting with its secrets."""
        app = self.app  # type: ignore[attr-defined]
        if request.name != app.site:
            app.site = request.name
            self.reload_all()  # type: ignore[attr-defined]
        self.notify(f"Site {safe_str(request.name)} is open in the other tabs.", markup=False)  # type: ignore[attr-defined]
        self.action_show_tab("secrets")  # type: ignore[attr-defined]

    def on_delete_site(self, request: DeleteSite) -> None:
        client, name = self.app.client, request.site.name  # type: ignore[attr-defined]

        def delete() -> tuple[list, bool]:
            try:
                client.delete_site(name, cascade=True)
            except ApiError as error:
                if error.code != "not_found":
                    raise
                return client.list_sites(), False  # deleted elsewhere: what was asked holds; its row goes too
            return client.list_sites(), True

        # Each delete keeps its own answer (as `MainScreen._delete`): a second one sent before the
        # first was answered dropped the first's, and the other tabs stayed on the site it deleted.
        self.call_api(delete, group="sites-delete", done=lambda answer: self._site_deleted(name, *answer),  # type: ignore[attr-defined]
                      exclusive=False)

    def _site_deleted(self, name: str, sites: list, by_us: bool) -> None:
        app = self.app  # type: ignore[attr-defined]
        said = "Deleted site {} with everything in it." if by_us else "Site {} was already deleted elsewhere."
        self.notify(said.format(safe_str(name)), markup=False)  # type: ignore[attr-defined]
        if app.site == name:  # the other tabs showed it: show a site that still exists, or none
            app.site = sites[0].name if sites else ""
            self.reload_all()  # type: ignore[attr-defined]
        else:
            self._reload("sites", None, "tokens")

    def on_revoke_token(self, request: RevokeToken) -> None:
        token = request.token

        def revoked(_: object) -> None:
            self.notify(f"Revoked token {safe_str(token.name)}.", markup=False)  # type: ignore[attr-defined]
            self._reload("tokens", None, "sites")

        def failed(error: BaseException) -> None:
            if isinstance(error, ApiError) and error.code == "not_found":  # revoked elsewhere: its row goes too
                self._reload("tokens", None, "sites")

        self.call_api(self.app.client.revoke_token, token.id, group="tokens-revoke", done=revoked,  # type: ignore[attr-defined]
                      exclusive=False, failed=failed)
