"""The operator deletes the site open in the other tabs and no site is left: the header says "no
site", the site's tabs say where to create one (instead of showing the deleted site's last rows
and offering `n` against a site that is gone), and the next site created is opened. A module of
its own: it deletes every site of its server."""

from __future__ import annotations

from textual.widgets import Checkbox

from tui.ui.dialogs.secret_form import SecretFormDialog
from tui.ui.dialogs.site_delete import DeleteSiteDialog
from tui.ui.dialogs.site_form import NewSiteDialog
from tui.ui.widgets.data_pane import NO_SITE
from test_operator_tabs import highlight, open_tab, row_of
from tui_helpers import screen_text, settled, show_tab, wait_until


async def test_deleting_the_last_site_leaves_no_site_open_until_one_is_created(started, admin, site):
    for other in admin.list_sites():
        if other.name != site:
            admin.delete_site(other.name, cascade=True)
    async with started() as (app, pilot):
        await open_tab(pilot, "5", "sites")
        await highlight(pilot, "sites-table", site)
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DeleteSiteDialog), message="delete dialog")
        await pilot.press(*site, "enter")
        await wait_until(pilot, lambda: row_of(app, "sites-table", site) is None and app.site == "", message="site gone")
        assert "no site" in screen_text(app).splitlines()[0] and site not in screen_text(app).splitlines()[0]

        for tab in ("secrets", "types", "audit", "services"):
            await show_tab(pilot, tab)
            await wait_until(pilot, lambda: NO_SITE in screen_text(app), message=f"{tab}: where to create a site")
        await show_tab(pilot, "secrets")
        await pilot.press("n")  # nothing to create a secret in
        await settled(pilot)
        assert not isinstance(app.screen, SecretFormDialog)

        new = f"{site}-again"
        await open_tab(pilot, "5", "sites")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NewSiteDialog), message="new site dialog")
        app.screen.query_one("#with-token", Checkbox).value = False
        await pilot.press(*new, "ctrl+s")
        await wait_until(pilot, lambda: app.site == new, message="the new site opened")
        await show_tab(pilot, "secrets")
        await wait_until(pilot, lambda: "No secrets yet — press n to create one." in screen_text(app), message="its secrets")
        assert f"site {new}" in screen_text(app).splitlines()[0]
