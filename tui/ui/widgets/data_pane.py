"""`DataPane`: the shape every tab of the main screen shares.

A pane loads its data in a worker (`fetch`, off the event loop), fills a `FittedTable` with one
keyed row per item (`rows`, `cells`), keeps the highlighted item highlighted across reloads,
shows it (`show`), and offers its keys in the command palette. Keys in `CHANGING` are disabled
in read-only mode. A pane with a `FILTER_HINT` placeholder has a `/` filter box (built on first use) that
keeps the rows whose `haystack` holds what was typed; beside an empty table `empty_text` says why
it is empty and what to press. New and edit open the pane's `form`; a saved form and a confirmed delete are
posted to the screen as messages (`tui.ui.messages`), and the screen does the work and reloads
the panes that depend on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable, ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input

from tui.client import ApiError
from tui.display import safe_text
from tui.ui.api import ApiCaller, could_not_load, token_refused
from tui.ui.widgets.fitted_table import FittedTable
from tui.ui.widgets.safe_input import SafeInput

PaletteCommand = tuple[str, str, Callable[[], Any]]


def same_data(old: Any, new: Any) -> bool:
    """Whether two loads fetched the same: equal values, or objects whose attributes are equal."""
    if old == new:
        return True
    return type(old) is type(new) and hasattr(old, "__dict__") and vars(old) == vars(new)


NO_SITE = "No site is open: the Sites tab (5) creates one, or opens another."


class DataPane(ApiCaller, Vertical):
    DEFAULT_CLASSES = "data-pane"
    BINDINGS: ClassVar[list[Binding]] = []
    NAME: ClassVar[str] = ""
    """Names the pane's workers (`<NAME>-load`)."""
    PALETTE: ClassVar[str] = ""
    """The prefix of the pane's commands in the palette, e.g. "Secrets"."""
    CHANGING: ClassVar[frozenset[str]] = frozenset()
    """Actions that change data: disabled (and gone from footer and palette) in read-only mode."""
    NOT_IN_PALETTE: ClassVar[frozenset[str]] = frozenset()
    """Actions the screen already offers in the palette from every tab."""
    FILTER_HINT: ClassVar[str] = ""
    """The placeholder of the pane's filter box (what it matches); empty: the pane has none."""
    NOUN: ClassVar[str] = "items"
    """What the rows are, for the text beside an empty table ("No secrets yet")."""
    SITE_SCOPED: ClassVar[bool] = True
    """The rows are the open site's: with no site open (the operator deleted the last one) the
    pane fetches nothing and says where to create one."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.data: Any = None
        """What `fetch` returned last; None until the first load is done."""
        self._rows: dict[str, Any] = {}
        """Row key -> item, in table order."""
        self._form_waiting: tuple[Any] | None = None
        """The item of a form asked for while a load ran: opened on the fresh data once it is in."""
        self.load_failed: BaseException | None = None
        """Why the last load failed while there was no data to show: said beside the empty table."""

    def on_mount(self) -> None:
        if self.SITE_SCOPED:
            self.watch(self.app, "site", self._site_changed, init=False)
        self.load()

    def _site_changed(self, _site: str) -> None:
        """Another site is open: the rows of the one just left go at once, not when the new site's
        load answers, so no key acts on one of them meanwhile (`d` or `h` on it would act on the
        secret of that name in the site now open), and the pane beside them shows nothing of them
        (a revealed value is masked: another site's secret may have the same name and version)."""
        self.data = None
        self.load_failed = None
        self.fill()

    @property
    def table(self) -> DataTable:
        return self.query_one(FittedTable)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in self.CHANGING and (self.app.read_only or self.no_site))

    @property
    def no_site(self) -> bool:
        """True when the pane shows a site's rows and no site is open."""
        return self.SITE_SCOPED and not self.app.site

    # ------------------------------------------------------------ loading

    def load(self, select: str | None = None) -> None:
        """Fetch the pane's data; then show it, highlighting the row keyed `select` if given, else
        the row highlighted before where it still shows."""
        if self.no_site:
            self.show_no_site()
            return
        self.call_api(self.fetch, self.app.client, self.app.site, group=f"{self.NAME}-load",
                      done=lambda data: self._loaded(data, select), failed=self._load_failed)

    def _load_failed(self, error: BaseException) -> None:
        """With nothing loaded yet, the pane says why beside its empty table (it was blank once
        the toast faded); with data, the rows shown stay (the server away for a moment), unless
        the site itself is gone (404: deleted by someone else, or no longer this token's), whose
        rows no key may act on any more."""
        site_gone = self.SITE_SCOPED and isinstance(error, ApiError) and error.status == 404
        if self.data is None or site_gone:
            self.data = None
            self.load_failed = error
            self.fill()

    def show_no_site(self) -> None:
        """No rows, and beside the table `NO_SITE`."""
        self.data = None
        self.fill()

    def calls_running(self) -> bool:
        """True while any call of this pane (a load, a reveal, ...) has not finished."""
        return bool(self._api_calls())

    def load_running(self) -> bool:
        """True while a load of this pane has not finished. (Not `loading`: that name is Textual's
        reactive for a widget covered by a spinner, which counts as disabled, so a method there,
        always truthy, took the pane's boxes and table out of the tab / shift+tab order.)"""
        return any(worker.name == f"{self.NAME}-load" for worker in self._api_calls())

    def refresh_quietly(self) -> None:
        """Fetch the data again to show what changed elsewhere; redraw only if something did, so
        an unchanged tab keeps its cursor, scroll and revealed value exactly as they are."""
        if self.no_site:
            return
        self.call_api(self.fetch, self.app.client, self.app.site, group=f"{self.NAME}-load",
                      done=self._refreshed)

    def _refreshed(self, data: Any) -> None:
        if not same_data(self.data, data):
            self._loaded(data, None)
        else:
            self._open_waiting_form()

    def fetch(self, client: Any, site: str) -> Any:
        """The pane's data from `client` for `site`; runs in a thread, so touches no widget."""
        raise NotImplementedError

    def _loaded(self, data: Any, select: str | None) -> None:
        self.data = data
        self.load_failed = None
        self.fill(select)
        self._open_waiting_form()

    def report_api_error(self, error: BaseException) -> None:
        # A form waiting for a load that failed is not opened later, unasked, by some other load.
        self._form_waiting = None
        super().report_api_error(error)

    def _open_waiting_form(self) -> None:
        waiting, self._form_waiting = self._form_waiting, None
        if waiting is not None:
            self.open_form(waiting[0])

    def fill(self, select: str | None = None) -> None:
        """Rebuild the rows from `data` that pass the filter, then highlight `select` or the row
        highlighted before."""
        current = self.highlighted_key()
        wanted = select or current
        table = self.table
        table.clear()
        self._rows.clear()
        needle = self.needle.lower()
        for key, item in self.rows():
            if needle and not any(needle in field.lower() for field in self.haystack(item)):
                continue
            self._rows[key] = item
            table.add_row(*self.cells(item), key=key)
        keys = list(self._rows)
        if wanted in keys:
            table.move_cursor(row=keys.index(wanted))
        self.show(self.highlighted())

    def rows(self) -> Iterable[tuple[str, Any]]:
        """(row key, item) for each row to show, in order."""
        return ()

    def cells(self, item: Any) -> list[Text]:
        """The cells of `item`'s row."""
        raise NotImplementedError

    # ------------------------------------------------------------ filter

    def haystack(self, item: Any) -> Iterable[str]:
        """The texts of `item` the filter looks in (any case, any part)."""
        return ()

    @property
    def needle(self) -> str:
        """What the filter box holds now ("" when the pane has none)."""
        boxes = self.query(f"#{self.NAME}-filter")
        return boxes.first(Input).value.strip() if boxes else ""

    async def action_filter(self) -> None:
        """Show the filter box above the table and focus it. It is built on the first `/`, not
        with the pane: an Input (and its cursor timer) the first frame does not show."""
        boxes = self.query(f"#{self.NAME}-filter")
        if boxes:
            box = boxes.first(Input)
        else:
            box = SafeInput(placeholder=self.FILTER_HINT, id=f"{self.NAME}-filter", classes="pane-filter")
            await self.mount(box, before=self.table)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        boxes = self.query(f"#{self.NAME}-filter")
        box = boxes.first(Input) if boxes else None
        if box is not None and (box.value or box.display):
            box.value = ""
            box.display = False
            self.fill()
            self.table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == f"{self.NAME}-filter":
            self.fill()
            if self.table.row_count:
                self.table.move_cursor(row=0)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == f"{self.NAME}-filter":
            self.table.focus()
            self.table.move_cursor(row=0)

    def empty_text(self) -> Text:
        """What the pane beside an empty table says: loading, nothing matching, or what to press."""
        if self.no_site:
            return Text(NO_SITE, style="dim")
        if self.data is None and self.load_failed is not None:
            said = could_not_load(f"the {self.NOUN}", self.load_failed)
            # `r` cannot help a refused token: offering it sent the user round in a loop
            return said if token_refused(self.load_failed) else said.append(" · r tries again", style="dim")
        if self.data is None:
            return Text("Loading…", style="dim")
        needle = self.needle
        if needle:
            text = Text(f"No {self.NOUN} match ", style="dim")
            text.append_text(safe_text(needle, style="bold"))
            text.append(": escape clears the filter.")
            return text
        if "new" in self.CHANGING and self.check_action("new", ()):
            return Text(f"No {self.NOUN} yet — press n to create one.", style="dim")
        return Text(f"No {self.NOUN} yet.", style="dim")

    # ------------------------------------------------------------ the highlighted item

    def highlighted_key(self) -> str | None:
        row = self.table.cursor_row
        keys = list(self._rows)
        return keys[row] if self.table.row_count and 0 <= row < len(keys) else None

    def highlighted(self) -> Any:
        """The item of the highlighted row, or None when there is none."""
        key = self.highlighted_key()
        return None if key is None else self._rows[key]

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self.show(self.highlighted())

    def show(self, item: Any) -> None:
        """Show `item` (None: nothing highlighted) beside the table."""

    # ------------------------------------------------------------ new, edit, delete

    def action_refresh(self) -> None:
        self.load()

    def action_new(self) -> None:
        self.open_form(None)

    def action_edit(self) -> None:
        item = self.highlighted()
        if item is not None:
            self.open_form(item)

    def open_form(self, item: Any) -> None:
        """Open the form for `item` (None: a new one); tell the screen when it saved. While a load
        runs (a change made in another tab is being fetched) the form waits for its data."""
        if self.load_running():
            self._form_waiting = (item,)
            return
        form = self.form(item)
        if form is not None:
            self.app.push_screen(form, lambda saved: None if saved is None else self.post_message(self.saved(saved)))

    def form(self, item: Any) -> ModalScreen | None:
        """The dialog that creates (item None) or edits `item`; None when it cannot open yet."""
        raise NotImplementedError

    def saved(self, item: Any) -> Message:
        """What to tell the screen once the form saved `item`."""
        raise NotImplementedError

    def action_delete(self) -> None:
        item = self.highlighted()
        if item is not None:
            title, question, request = self.deletion(item)
            self.confirm_then_post(title, question, request)

    def deletion(self, item: Any) -> tuple[str, Text, Message]:
        """The dialog title and question (a Text from `safe_text`) for deleting `item`, and the
        message that asks the screen to delete it."""
        raise NotImplementedError

    def confirm_then_post(self, title: str, question: Text, message: Message) -> None:
        """Ask `question`; post `message` only on an explicit yes."""
        from tui.ui.dialogs.confirm import ConfirmDialog

        self.app.push_screen(ConfirmDialog(title, question, "Delete"),
                             lambda yes: self.post_message(message) if yes else None)

    # ------------------------------------------------------------ command palette

    def palette_commands(self) -> list[PaletteCommand]:
        """One command per key shown in the footer that is enabled now."""
        return [(f"{self.PALETTE}: {binding.description}", "", lambda a=binding.action: self.run_action(a))
                for binding in self.BINDINGS
                if binding.show and binding.action not in self.NOT_IN_PALETTE and self.check_action(binding.action, ())]
