"""The Audit tab's questions, without Textual: how a target filter is asked of the server, how one
filtered batch of events is fetched, how an event's target reads in a narrow column, and how many
attempts a coalesced denial stands for.

The server matches a `target` exactly or by a prefix ending in `*` (docs/API.md, query
parameters). A user types a part of a target (`MAIN_DB`), so a part is matched here, over the
newest events, up to `SCAN_LIMIT` of them per batch; a text that starts a target (`secret:site/`)
is sent as a prefix, and a whole target the TUI filled in itself ("audit of this secret") exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.models import AuditEvent, AuditVerification
from tui.display import plural

TARGET_KINDS = ("app", "secret", "service", "site", "token", "type")
"""What a target names, the text before its `:` (`secret:site/NAME`, `service:NAME`)."""
SCAN_PAGE = 200
"""Events fetched per request while matching a part of a target here."""
SCAN_LIMIT = 2000
"""Events looked at per batch for a part of a target before saying none of them matched."""


@dataclass(frozen=True)
class TargetQuery:
    """How a target filter is asked: `server` is the `target` parameter, `part` is matched here
    (lowercase, anywhere in the target)."""

    server: str | None = None
    part: str | None = None


def target_query(text: str, exact: str | None = None) -> TargetQuery:
    """The query for what the user typed; `exact` is a whole target the TUI itself filled in."""
    text = text.strip()
    if not text:
        return TargetQuery()
    if text == exact or text.endswith("*"):
        return TargetQuery(server=text)
    kind, colon, _ = text.partition(":")
    if colon and kind in TARGET_KINDS:  # a target begins with its kind, so this part can only start one
        return TargetQuery(server=text + "*")
    return TargetQuery(part=text.lower())


@dataclass(frozen=True)
class AuditBatch:
    """Events to add to the table, the cursor of the next older batch (None: no older events), and
    how many events were looked at to find them."""

    items: list[AuditEvent]
    next: str | None
    scanned: int


def fetch_batch(client: Any, site: str | None, before: str | None, limit: int, action: str, actor: str,
                target: TargetQuery) -> AuditBatch:
    """The next batch of events older than `before` that match, of `site` or (None) of the whole
    server (the operator's log); blocks (run it in a worker)."""
    filters = {"action": action, "actor": actor, "target": target.server or ""}
    if target.part is None:
        page = client.audit(site, limit=limit, before=before, **filters)
        return AuditBatch(page.items, page.next, len(page.items))
    found: list[AuditEvent] = []
    scanned = 0
    cursor = before
    while True:
        page = client.audit(site, limit=SCAN_PAGE, before=cursor, **filters)
        scanned += len(page.items)
        found += [event for event in page.items if target.part in (event.target or "").lower()]
        cursor = page.next
        if cursor is None or len(found) >= limit or scanned >= SCAN_LIMIT:
            return AuditBatch(found, cursor, scanned)


def short_target(action: str, target: str | None) -> str:
    """The target without the kind its action already names: `site/MAIN_DB` for a
    `secret.reveal` of `secret:site/MAIN_DB`; `-` for none."""
    if not target:
        return "-"
    kind = action.split(".", 1)[0]
    return target[len(kind) + 1:] if target.startswith(kind + ":") else target


def repeated(event: AuditEvent) -> int | None:
    """How many attempts one event stands for: a denial's repeats within its window, which the
    server writes as one event with `details.repeated` (docs/API.md, "Repeated denials"); None
    for an event that stands for itself alone."""
    count = event.details.get("repeated") if isinstance(event.details, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else None


def verified(site: str, result: AuditVerification) -> str:
    """What an intact chain's verification says, the same in the TUI and the command line: how
    many links were checked, and how many of them are plain SHA-256 from before the log was keyed
    (checked and pinned, but written when a writer of the database could have rewritten them)."""
    said = f"the audit chain of site {site} verifies: {plural(result.events, 'event')}"
    if result.unkeyed:
        said += f", {result.unkeyed} of them linked by SHA-256 before the chain was keyed"
    return said
