"""The Sites tab (the operator: an admin bound to no site): every site with what it holds against
its limits (the table names the limit each site is nearest, the line under it every count against
its limit), sortable (`o`) and filterable (`/`); `n` creates a site with its first admin token,
`e` edits its limits, `d` deletes it with everything in it once its name is typed, and `enter`
opens it in the other tabs."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from shared.models import Site
from tui.client import SiteSecretsClient
from tui.display import clipped, plural
from tui.sitelimits import fullest, secrets_fill, secrets_text, size_text, uses
from tui.ui.keys import CLEAR_FILTER, DELETE, FILTER, NEW, REFRESH, Key, bindings
from tui.ui.messages import DeleteSite, OpenSite, SitesChanged
from tui.ui.widgets.compact_table import CompactTable
from tui.ui.widgets.data_pane import DataPane

SORTS = (
    ("name", lambda s: s.name),
    ("secrets used", lambda s: (-secrets_fill(s), s.name)),
    ("value bytes", lambda s: (-s.usage.value_bytes, s.name)),
    ("services", lambda s: (-s.usage.services, s.name)),
    ("tokens", lambda s: (-s.usage.tokens, s.name)),
    ("fullest", lambda s: (-fullest(s).fill, s.name)),
)
"""What `o` cycles through: (words, sort key); the fullest first for every count."""

COLUMNS = ("name", "secrets", "values", "services", "tokens", "fullest")
"""At 80 columns there is no room for every count against its limit: `fullest` names the one
nearest its limit, the line under the table shows them all."""
_SORT_OF_COLUMN = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5}


def style_of(fill: float) -> str:
    """Yellow from 80% of a limit, red at the limit."""
    return "bold red" if fill >= 1 else "yellow" if fill >= 0.8 else ""


def fill_style(site: Site) -> str:
    """The secrets column's style: how full the site is against `max_secrets`."""
    return style_of(secrets_fill(site))


def fullest_cell(site: Site) -> Text:
    """`apps 100%`: the limit the site will hit first, and how much of it is taken."""
    use = fullest(site)
    return Text(use.share(), style=style_of(use.fill))


CELL = 30
"""Cells of the detail's left column: `1,000,000/1,000,000 services` and a gap. Two columns of
counts fit 80 columns whatever the limits; one line of all four wrapped at a million."""
OPEN_HINT = "  enter opens it in the other tabs"
NAME_CELLS = 78 - len(OPEN_HINT)
"""A site's name is cut to leave its hint on the line at 80 columns (names run to 63 characters)."""


def two_columns(left: Text, right: Text) -> Text:
    """`left` padded to `CELL` cells, then `right`: one line of the detail's grid."""
    line = left.copy()
    line.pad_right(max(1, CELL - line.cell_len))
    return line.append_text(right)


def counts_lines(site: Site) -> Text:
    """`2/2 apps  0/500 services` over `0/100 types  0/1,000 tokens`, each styled by how full it is."""
    cells = [Text(use.text(), style=style_of(use.fill)) for use in uses(site) if use.noun != "secrets"]
    return Text("\n").join(two_columns(*cells[i:i + 2]) for i in range(0, len(cells), 2))


def trash_text(days: int) -> str:
    """How long the site's trash keeps a deleted secret: `trash 30 days`, or none at all."""
    return "no trash: deletes at once" if days == 0 else f"trash {plural(days, 'day')}"


class SitesPane(DataPane):
    DEFAULT_CSS = """
    #sites-table { height: 1fr; min-height: 4; }
    #site-detail { height: 7; border-top: solid $primary; padding: 0 1; }
    """
    NAME = "sites"
    PALETTE = "Sites"
    FILTER_HINT = "filter sites by name"
    NOUN = "sites"
    SITE_SCOPED = False
    CHANGING = frozenset({"new", "edit", "delete"})
    BINDINGS = bindings("sites", Key("enter", "open", "Open"), NEW, Key("e", "edit", "Limits"), DELETE,
                        Key("o", "sort", "Sort"), REFRESH, FILTER, CLEAR_FILTER)
    data: list[Site] | None

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sort = 0

    def compose(self) -> ComposeResult:
        table = CompactTable(id="sites-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Static(id="site-detail")

    def fetch(self, client: SiteSecretsClient, site: str) -> list[Site]:
        return client.list_sites()

    def fill(self, select: str | None = None) -> None:
        """As any pane's, and at first (no row highlighted yet) on the site open in the other tabs."""
        super().fill(select or (None if self.highlighted_key() is not None else self.app.site))

    def rows(self) -> Iterable[tuple[str, Site]]:
        for site in sorted(self.data or [], key=SORTS[self.sort][1]):
            yield site.name, site

    def haystack(self, site: Site) -> Iterable[str]:
        return (site.name,)

    def cells(self, site: Site) -> list[Text]:
        return [clipped(site.name, 18), Text(secrets_text(site), style=fill_style(site)),
                Text(size_text(site.usage.value_bytes)), Text(str(site.usage.services)), Text(str(site.usage.tokens)),
                fullest_cell(site)]

    def show(self, site: Site | None) -> None:
        self.query_one("#site-detail", Static).update(self.describe(site))

    def describe(self, site: Site | None) -> Text:
        if site is None and self.data is None:
            return self.empty_text()  # loading, or why the load failed
        if site is None:
            hint = "No site matches the filter; escape clears it." if self.needle else "No sites yet; n creates one."
            return Text(hint, style="dim")
        usage, limits = site.usage, site.limits
        line = clipped(site.name, NAME_CELLS, style="bold")
        line.append("  open in the other tabs" if site.name == self.app.site else OPEN_HINT, style="dim")
        line.append("\n")
        line.append_text(two_columns(
            Text(f"{secrets_text(site)} secrets ({secrets_fill(site):.0%})", style=fill_style(site)),
            Text(f"{size_text(usage.value_bytes)} of values, ≤{size_text(limits.max_value_bytes)} each")))
        line.append("\n")
        line.append_text(counts_lines(site))
        line.append(f"\nnames ≤{limits.max_name_length:,} · keeps {plural(limits.max_versions, 'version')} · "
                    f"{trash_text(limits.trash_days)}\nsorted by {SORTS[self.sort][0]} (o)", style="dim")
        return line

    # ------------------------------------------------------------ sort and open

    def action_sort(self) -> None:
        self.sort = (self.sort + 1) % len(SORTS)
        self.fill()
        self.notify(f"Sites sorted by {SORTS[self.sort][0]}.", markup=False, timeout=2)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        if event.column_index in _SORT_OF_COLUMN:
            self.sort = _SORT_OF_COLUMN[event.column_index]
            self.fill()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        site = self.highlighted()
        if site is not None:
            self.post_message(OpenSite(site.name))

    # ------------------------------------------------------------ new, limits, delete

    def form(self, site: Site | None):
        from tui.ui.dialogs.site_form import NewSiteDialog, SiteLimitsDialog

        return NewSiteDialog([s.name for s in self.data or []]) if site is None else SiteLimitsDialog(site)

    def saved(self, site: Site) -> SitesChanged:
        return SitesChanged(select=site.name)

    def action_delete(self) -> None:
        site = self.highlighted()
        if site is None:
            return
        from tui.ui.dialogs.site_delete import DeleteSiteDialog

        self.app.push_screen(DeleteSiteDialog(site), lambda yes: self.post_message(DeleteSite(site)) if yes else None)
