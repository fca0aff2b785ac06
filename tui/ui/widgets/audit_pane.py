"""The Audit tab (admins): the site's audit log newest first, loading older events as the table
scrolls towards its end. Filters: a choice of the known actions (`shared.audit_actions`), an
actor, and a target matched by part (`tui.auditview`). A line under the table says why it is empty,
or shows the highlighted event's whole target; `enter` opens one event's every field; on demand
(`v`), whether the site's audit hash chain verifies. The operator (an admin bound to no site) switches
with `a` between the open site's log and the whole server's (`GET /v1/audit`: every site's events,
deleted sites' included, such as who deleted one with its contents, and those of no site), which
has a SITE column and a line above the table saying which log it is."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Input, Select, Static

from shared.audit_actions import AUDIT_ACTIONS, action_groups
from shared.models import AuditEvent, AuditVerification
from tui.auditview import AuditBatch, fetch_batch, repeated, short_target, target_query, verified
from tui.display import clipped, safe_str, safe_text, short_time
from tui.ui.keys import FILTER, REFRESH, Key, bindings
from tui.ui.widgets.data_pane import NO_SITE, DataPane
from tui.ui.widgets.fitted_table import FittedTable
from tui.ui.widgets.safe_input import SafeInput

_OUTCOME_STYLE = {"ok": "green", "denied": "bold red", "error": "red"}
ACTOR_WIDTH = 10
"""Cells an actor takes in the table (cut with `…`); the target gets the room that is left."""
SITE_WIDTH = 10
"""Cells a site takes in the whole log's table (cut with `…`; the event's every field has it whole)."""
_EVENT_HINT = " · enter: every field"
"""The status line's last words, which a long target or actor is cut to leave in view."""
WHOLE_LOG = "Whole server's log: every site, deleted ones too · a: the open site's only"
"""The line above the table while the operator's whole log is shown."""
COLUMNS = ("at", "outcome", "action", "actor", "target")
WHOLE_COLUMNS = ("at", "outcome", "action", "actor", "site", "target")


def action_choices() -> list[tuple[Text, str]]:
    """The action filter's options: any, then each object's `<object>.*` and its actions."""
    choices = [(Text("any action"), "")]
    for group in action_groups():
        choices.append((Text(f"{group}.* (every {group} action)"), f"{group}.*"))
        choices += [(Text(f"  {action}"), action) for action in AUDIT_ACTIONS if action.startswith(group + ".")]
    return choices


def table_time(moment: Any) -> str:
    """`12-02 13:30`: month, day and UTC time, leaving the target room at 80 columns (the year
    is in the event's details, `enter`)."""
    return moment.strftime("%m-%d %H:%M") if hasattr(moment, "strftime") else short_time(moment)


class AuditTable(FittedTable):
    """A DataTable that says when its end comes into view, so older events can be fetched."""

    class NearEnd(Message):
        pass

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.row_count and new_value >= self.max_scroll_y - 2:
            self.post_message(self.NearEnd())

    def watch_cursor_coordinate(self, old_value, new_value) -> None:
        super().watch_cursor_coordinate(old_value, new_value)
        if self.row_count and new_value.row >= self.row_count - 3:
            self.post_message(self.NearEnd())


class AuditPane(DataPane):
    """Pages in as the table scrolls, instead of `DataPane`'s one load; nothing to change."""

    NAME = "audit"
    NOUN = "audit events"
    PALETTE = "Audit"
    PAGE_SIZE = 50
    BINDINGS = bindings("audit", REFRESH, FILTER, Key("v", "verify", "Verify"), Key("a", "whole_log", "All sites"),
                        Key("a", "site_log", "This site"),
                        Key("m", "more", "Older events", show=False),
                        Key("escape", "leave_filter", "Back to the table", show=False))
    data: list[AuditEvent] | None

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._next: str | None = None
        self._scanned = 0
        self._loading_more = False
        self._exact: str | None = None
        """A whole target the TUI filled in ("audit of this secret"): asked exactly while shown."""
        self._whole = False
        """True while the operator's whole log is shown instead of the open site's."""
        self._asked: tuple[str, str, Any] = ("", "", target_query(""))
        """The filters the table shows: older events and new ones are fetched for these, not for
        what is being typed into a filter before `enter`."""

    def compose(self) -> ComposeResult:
        yield Static(Text(WHOLE_LOG, style="bold", no_wrap=True, overflow="ellipsis"), id="audit-scope")
        with Horizontal(id="audit-filters"):
            yield Select(action_choices(), value="", allow_blank=False, id="audit-action", classes="audit-filter")
            yield SafeInput(placeholder="actor", id="audit-actor", classes="audit-filter")
            yield SafeInput(placeholder="target, or part of it", id="audit-target", classes="audit-filter")
        table = AuditTable(id="audit-table", cursor_type="row", zebra_stripes=True, whole=("at", "outcome"))
        table.add_columns(*COLUMNS)
        yield table
        yield Static(id="audit-status")

    # ------------------------------------------------------------ filters

    def _filters(self) -> tuple[str, str, Any]:
        action = self.query_one("#audit-action", Select).value
        actor = self.query_one("#audit-actor", Input).value.strip()
        target = target_query(self.query_one("#audit-target", Input).value, self._exact)
        return (action if isinstance(action, str) else ""), actor, target

    def show_target(self, target: str) -> None:
        """Show the open site's events of exactly `target`, whatever other filter or log was set."""
        self._exact = target
        self._show_whole(False)
        self.query_one("#audit-action", Select).value = ""
        self.query_one("#audit-actor", Input).value = ""
        self.query_one("#audit-target", Input).value = target
        self.load()
        self.table.focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "audit-action" and self.data is not None:
            self.load()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.load()
        self.table.focus()

    def action_filter(self) -> None:
        self.query_one("#audit-action", Select).focus()

    # ------------------------------------------------------------ which log

    @property
    def no_site(self) -> bool:
        return not self._whole and super().no_site

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("whole_log", "site_log"):  # one key, named for what it shows next
            # `GET /v1/audit` is the operator's alone: a site-bound token is never offered it
            return self.app.can_switch_site and self._whole == (action == "site_log")
        if action == "verify":
            return not self._whole  # the chain verified is a site's, not the one shown
        return super().check_action(action, parameters)

    def action_whole_log(self) -> None:
        """The whole server's log instead of the open site's; the filters stay."""
        if self.app.can_switch_site:
            self._show_whole(True)
            self.load()

    def action_site_log(self) -> None:
        """Back to the open site's log; the filters stay."""
        self._show_whole(False)
        self.load()

    def _show_whole(self, whole: bool) -> None:
        if whole == self._whole:
            return
        self._whole = whole
        self.query_one("#audit-scope", Static).display = whole
        self.data = None  # the rows of the other log go at once, as they do when the site changes
        table = self.table
        table.clear(columns=True)
        self._rows.clear()
        table.add_columns(*(WHOLE_COLUMNS if whole else COLUMNS))
        self.refresh_bindings()

    def action_leave_filter(self) -> None:
        """Escape in a filter goes back to the table, as escape leaves the Secrets tab's filter."""
        self.table.focus()

    # ------------------------------------------------------------ loading

    def _fetch(self, before: str | None) -> AuditBatch:
        action, actor, target = self._asked
        site = None if self._whole else self.app.site  # None: the whole log (`tui.client.audit`)
        return fetch_batch(self.app.client, site, before, self.PAGE_SIZE, action, actor, target)

    def load(self, select: str | None = None) -> None:
        """Fetch the newest events for the current filters, replacing the table."""
        if self.no_site:
            self.show_no_site()
            return
        self._loading_more = True
        self._asked = self._filters()
        for older in [worker for worker in self._api_calls() if worker.group == "audit-more"]:
            self._forget(older)  # older events for the filters (or site) the table showed until now
        self.call_api(self._fetch, None, group="audit-load", done=self._replace, failed=self._load_failed)

    def _load_failed(self, error: BaseException) -> None:
        """No rows, and why: the rows shown were for the filters before (or none), not the ones
        now in the boxes."""
        self._next, self._loading_more = None, False
        self.data, self.load_failed = None, error
        self.fill()

    def _replace(self, batch: AuditBatch) -> None:
        self.load_failed = None
        self.data = list(batch.items)
        self._next, self._scanned, self._loading_more = batch.next, batch.scanned, False
        self.fill()
        if self.table.row_count:
            self.table.move_cursor(row=0)

    def refresh_quietly(self) -> None:
        """Add the events recorded since the newest one shown, keeping the highlighted one."""
        if self.no_site:
            return
        self.call_api(self._fetch, None, group="audit-load", done=self._prepend)

    def _prepend(self, batch: AuditBatch) -> None:
        newest = self.data[0].id if self.data else 0
        fresh = [event for event in batch.items if event.id > newest]
        if fresh:
            if not self.data:
                self._next, self._scanned = batch.next, batch.scanned
            self.data = fresh + (self.data or [])
            self.fill()

    def on_audit_table_near_end(self, _: AuditTable.NearEnd) -> None:
        self.action_more()

    def action_more(self) -> None:
        if self._next and not self._loading_more:
            self._loading_more = True
            self.call_api(self._fetch, self._next, group="audit-more", done=self._append)

    def _append(self, batch: AuditBatch) -> None:
        known = {event.id for event in self.data or []}
        fresh = [event for event in batch.items if event.id not in known]
        self.data = (self.data or []) + fresh
        self._next, self._loading_more = batch.next, False
        self._scanned += batch.scanned
        for event in fresh:
            self._rows[str(event.id)] = event
            self.table.add_row(*self.cells(event), key=str(event.id))
        self.show(self.highlighted())

    def on_api_error(self, error: BaseException) -> bool:
        self._loading_more = False
        return False

    def action_verify(self) -> None:
        """Ask the server to walk the chain: it reads the whole log, so only when asked."""
        site = self.app.site
        if not site:
            self.notify(NO_SITE, markup=False)
            return
        self.call_api(self.app.client.verify_audit, site, group="audit-verify", done=lambda r: self._verified(site, r))

    def _verified(self, site: str, result: AuditVerification) -> None:
        if result.ok:
            said = verified(site, result)
            self.notify(f"{said[0].upper()}{said[1:]}.", markup=False)
            return
        reason = safe_str(result.reason)  # the server's words: a foreign one's may hold escape sequences
        where = f"Event {result.broken_id}: {reason}." if result.broken_id is not None else f"{reason}."
        self.notify(where, title=f"Audit chain of site {site} BROKEN", severity="error", markup=False, timeout=30)

    # ------------------------------------------------------------ rows and the line under them

    def rows(self) -> Iterable[tuple[str, AuditEvent]]:
        return ((str(event.id), event) for event in self.data or [])

    def cells(self, event: AuditEvent) -> list[Text]:
        action = safe_text(event.action)
        repeats = repeated(event)
        if repeats:
            action.append(f" ×{repeats:,}", style="bold")
        where = [clipped(event.site or "-", SITE_WIDTH)] if self._whole else []
        return [Text(table_time(event.at)), Text(event.outcome, style=_OUTCOME_STYLE.get(event.outcome, "")),
                action, clipped(event.actor, ACTOR_WIDTH), *where, safe_text(short_target(event.action, event.target))]

    def show(self, event: AuditEvent | None) -> None:
        line = Text(no_wrap=True, overflow="ellipsis")
        if event is not None:
            # the target and actor are cut to leave the hint in view: a long secret name pushed it off
            width = self.query_one("#audit-status", Static).content_size.width or 76  # padding and borders off
            room = max(width - len(" by ") - len(_EVENT_HINT), 20)
            actor = clipped(event.actor, max(ACTOR_WIDTH, room // 3))  # cells, not characters: 運 takes two
            line.append_text(clipped(event.target or "no target", room - actor.cell_len))
            line.append(" by ", style="dim")
            line.append_text(actor)
            line.append(_EVENT_HINT, style="dim")
        elif self.data is None and self.load_failed is not None:
            line.append_text(self.empty_text())
        else:
            line.append(self._why_empty(), style="dim")
        self.query_one("#audit-status", Static).update(line)

    def _why_empty(self) -> str:
        if self.no_site:
            return NO_SITE
        action, actor, target = self._asked
        asked = [f"action {action}"] if action else []
        asked += [f"actor {safe_str(actor)!r}"] if actor else []
        if target.part is not None:
            asked.append(f"a target containing {safe_str(target.part)!r}")
        elif target.server:
            asked.append(f"target {safe_str(target.server)}")
        if not asked:
            return "No events yet."
        why = "No events with " + ", ".join(asked)
        if target.part is not None and self._next:
            return f"{why} in the newest {self._scanned:,} (m: older)."
        return why + "."

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        chosen = self.highlighted()
        if chosen is not None:
            from tui.ui.dialogs.message import MessageDialog

            self.app.push_screen(MessageDialog(f"Audit event {chosen.id}", event_text(chosen)))


def event_text(event: AuditEvent) -> str:
    """Every field of `event`, one per line, its details as indented JSON (never a value)."""
    fields = [("at", event.at.isoformat() if hasattr(event.at, "isoformat") else str(event.at)),
              ("outcome", event.outcome), ("action", event.action),
              ("actor", f"{event.actor or '-'} (token {event.actor_id or '-'})"), ("site", event.site or "-"),
              ("target", event.target or "-"), ("source", event.source or "-")]
    lines = [f"{label:<9}{value}" for label, value in fields]
    lines.append("details  " + json.dumps(event.details, indent=2, ensure_ascii=False, sort_keys=True))
    return "\n".join(lines)
