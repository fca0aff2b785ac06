"""The Audit tab's `v` (issue 17, part 5): on demand, whether the site's audit hash chain verifies."""

from __future__ import annotations

import sqlite3

from shared.models import SecretCreate
from tui.ui.textual_private import notification_messages
from tui_helpers import screen_text, wait_until


async def open_audit(app, pilot) -> None:
    await pilot.press("3")
    # rows shown and the table focused, as the user sees it before pressing `v`
    await wait_until(pilot, lambda: app.screen.query("#audit-table") and app.screen.query_one("#audit-table").row_count >= 2
                     and app.focused is app.screen.query_one("#audit-table"), message="audit rows, focused")


async def test_verify_key_says_the_chain_holds(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="ONE", value="v"))
    async with started(notifications=True) as (app, pilot):
        await open_audit(app, pilot)
        assert "verifies" not in screen_text(app)  # not on every load: only when asked
        await pilot.press("v")
        # the message itself, not the screen's copy: the toast wraps it where the site's name puts the break
        await wait_until(pilot, lambda: any(f"The audit chain of site {site} verifies" in m for m in notification_messages(app))
                         and "verifies" in screen_text(app), message="verified, in a toast")


async def test_verify_key_names_the_edited_event(started, admin, site, secrets_server):
    admin.create_secret(site, None, SecretCreate(name="TWO", value="v"))
    [event] = admin.audit(site, action="secret.create").items
    with sqlite3.connect(secrets_server.state.settings.db_path) as conn:  # someone with the file in hand
        conn.execute("UPDATE audit_events SET actor = '[red]x' WHERE id = ?", (event.id,))
    async with started(notifications=True) as (app, pilot):
        await open_audit(app, pilot)
        assert "[red]x" in screen_text(app)  # the edited actor shows literally
        await pilot.press("v")
        await wait_until(pilot, lambda: any(m.startswith(f"Event {event.id}:") for m in notification_messages(app))
                         and "BROKEN" in screen_text(app), message="broken, in a toast")


def test_a_chain_from_before_keyed_links_says_how_many_links_are_plain_sha256():
    from shared.models import AuditVerification
    from tui.auditview import verified

    keyed = AuditVerification(ok=True, events=12)
    upgraded = AuditVerification(ok=True, events=12, unkeyed=9)
    assert verified("shop", keyed) == "the audit chain of site shop verifies: 12 events"
    assert verified("shop", upgraded) == ("the audit chain of site shop verifies: 12 events, "
                                          "9 of them linked by SHA-256 before the chain was keyed")


async def test_a_foreign_servers_reason_for_a_broken_chain_is_spelled_out_never_sent_to_the_terminal(started):
    from shared.models import AuditVerification
    from tui_helpers import show_tab, terminal_bytes

    hostile = "\x1b]52;c;SGFja2Vk\x07 [red]x[/] \u202eevil"  # a clipboard write, markup, a bidi override
    async with started(notifications=True) as (app, pilot):
        app.client.verify_audit = lambda _site: AuditVerification(ok=False, events=3, broken_id=2, reason=hostile)
        await show_tab(pilot, "audit")
        await pilot.press("v")
        await wait_until(pilot, lambda: "BROKEN" in screen_text(app), message="broken, in a toast")
        assert notification_messages(app) == ["Event 2: \\x1b]52;c;SGFja2Vk\\x07 [red]x[/] \\u202eevil."]
        sent = terminal_bytes(app)
        assert "\x1b]52" not in sent and "\u202e" not in sent and "\x07" not in sent
