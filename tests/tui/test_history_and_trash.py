"""The time dimension in the TUI: a secret's history (versions, same-as, old reveal, rollback),
the services named for a restart after a change, and the trash (restore, purge)."""

from __future__ import annotations

from shared.models import AppCreate, Role, SecretCreate, SecretUpdate, ServiceCreate
from tui.client import SiteSecretsClient
from tui.ui.dialogs.confirm import ConfirmDialog
from tui.ui.dialogs.history import HistoryDialog
from tui.ui.dialogs.secret_form import SecretFormDialog
from tui.ui.dialogs.trash import TrashDialog
from tui.ui.textual_private import notification_messages
from tui_helpers import make_token, screen_text, secrets_rows, settled, time_up, wait_until


def _three_versions(admin, site) -> None:
    """TOKEN v1 "first", v2 "second", v3 "first" again (so v3 is the same as v1)."""
    admin.create_secret(site, None, SecretCreate(name="TOKEN", value="first"))
    admin.update_secret(site, None, "TOKEN", SecretUpdate(value="second"))
    admin.update_secret(site, None, "TOKEN", SecretUpdate(value="first"))


async def _open_history(pilot, versions: int) -> HistoryDialog:
    app = pilot.app
    await pilot.press("h")
    await wait_until(pilot, lambda: isinstance(app.screen, HistoryDialog), message="history dialog")
    await wait_until(pilot, lambda: app.screen.query_one("#history-table").row_count == versions,
                     message=f"{versions} versions")
    return app.screen


async def test_history_lists_versions_newest_first_with_same_as_from_fingerprints(started, admin, site):
    _three_versions(admin, site)
    async with started(rows=1) as (app, pilot):
        dialog = await _open_history(pilot, 3)
        text = screen_text(app)
        assert "History of TOKEN (site)" in text
        lines = [line for line in text.splitlines() if " v1 " in line or " v2 " in line or " v3 " in line]
        assert [("v3" in a, "current" in a, "same as v1" in a) for a in lines[:1]] == [(True, True, True)]
        assert any("v1" in line and "same as v3" in line for line in lines)
        assert any("v2" in line and "same as" not in line for line in lines)
        assert "admin" in lines[0]
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HistoryDialog), message="closed")
        assert dialog.changed is None


async def test_app_secret_history_says_whether_it_differs_from_the_site_value(started, admin, site):
    admin.create_app(site, AppCreate(name="web"))
    admin.create_secret(site, None, SecretCreate(name="KEY", value="shared"))
    admin.create_secret(site, "web", SecretCreate(name="KEY", value="own"))
    admin.update_secret(site, "web", "KEY", SecretUpdate(value="shared"))
    async with started(rows=2) as (app, pilot):
        await pilot.press("down")  # KEY (app:web) sorts after KEY (site)
        await wait_until(pilot, lambda: app.screen.query_one("#secret-detail").secret.app == "web")
        await _open_history(pilot, 2)
        text = screen_text(app)
        assert "current; = site value" in text
        assert "differs" not in text


async def test_old_version_reveal_warns_counts_down_and_masks_again(started, admin, site):
    _three_versions(admin, site)
    async with started(rows=1, reveal_seconds=60) as (app, pilot):
        dialog = await _open_history(pilot, 3)
        await pilot.press("down", "s")  # v2
        view = dialog.query_one("#history-value")
        await wait_until(pilot, lambda: view.revealed, message="revealed")
        text = screen_text(app)
        assert "VALUE ON SCREEN, hides in" in text and "second" in text
        time_up(view)
        await wait_until(pilot, lambda: not view.revealed, message="masked by the countdown")
        assert "second" not in screen_text(app)
        await pilot.press("s")
        await wait_until(pilot, lambda: view.revealed, message="revealed again")
        await pilot.press("up")  # another version: masked at once
        await wait_until(pilot, lambda: not view.revealed, message="masked on move")
    events = admin.audit(site, action="secret.reveal").items
    assert events and all(event.details.get("version") == 2 for event in events)


async def test_an_old_value_longer_than_the_dialog_is_read_to_its_end_from_the_keyboard(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="PEM", value="\n".join(f"line-{n:02}" for n in range(40))))
    admin.update_secret(site, None, "PEM", SecretUpdate(value="new"))
    async with started(rows=1) as (app, pilot):
        dialog = await _open_history(pilot, 2)
        await pilot.press("down", "s")  # v1
        await wait_until(pilot, lambda: "line-00" in screen_text(app), message="old value shown")
        assert "line-39" not in screen_text(app)
        await pilot.press("tab")
        await wait_until(pilot, lambda: app.focused is dialog.query_one("#history-value-box"), message="tab: the value")
        await pilot.press("end")
        await wait_until(pilot, lambda: "line-39" in screen_text(app), message="the value's last line")


async def test_rollback_asks_first_then_names_the_services_to_restart(started, admin, site):
    _three_versions(admin, site)
    admin.create_service(site, ServiceCreate(name="checkout", secrets=[{"name": "TOKEN"}]))
    async with started(rows=1, notifications=True) as (app, pilot):
        dialog = await _open_history(pilot, 3)
        await pilot.press("down", "r")  # v2
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="confirm")
        text = screen_text(app)
        assert "Roll TOKEN back to version 2?" in text and "checkout" in text
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is dialog, message="cancelled")
        await settled(pilot)
        assert admin.get_secret(site, None, "TOKEN").version == 3
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="confirm again")
        await pilot.press("y")
        await wait_until(pilot, lambda: dialog.query_one("#history-table").row_count == 4, message="v4 listed")
        messages = notification_messages(app)
        assert any("Restart checkout" in message for message in messages)
        assert any("now v4" in message for message in messages)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen.query_one("#secrets-table").get_row_at(0)[3].plain == "4",
                         message="table reloaded")
    assert admin.reveal(site, None, "TOKEN").value == "second"


async def test_rollback_to_a_version_holding_the_current_value_says_nothing_would_change(started, admin, site):
    """v1 holds v3's value (equal fingerprints): a rollback would make no version, and asking
    "then restart checkout" of the user would send them to restart for nothing."""
    _three_versions(admin, site)
    admin.create_service(site, ServiceCreate(name="checkout", secrets=[{"name": "TOKEN"}]))
    async with started(rows=1, notifications=True) as (app, pilot):
        dialog = await _open_history(pilot, 3)
        await pilot.press("down", "down", "r")  # v1
        await wait_until(pilot, lambda: any("holds the current value already" in m for m in notification_messages(app)),
                         message="nothing to roll back")
        assert app.screen is dialog and not any("Restart" in m for m in notification_messages(app))
    assert admin.get_secret(site, None, "TOKEN").version == 3


async def test_viewer_sees_history_without_reveal_or_rollback(started, admin, site):
    _three_versions(admin, site)
    async with started(make_token(admin, Role.viewer), rows=1) as (app, pilot):
        dialog = await _open_history(pilot, 3)
        await pilot.press("down", "r", "s")
        await settled(pilot)
        assert app.screen is dialog
        text = screen_text(app)
        assert "roll back" not in text and "show/hide" not in text and "••••" not in text
    assert admin.get_secret(site, None, "TOKEN").version == 3


async def test_saving_a_new_value_names_the_services_to_restart(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="TOKEN", value="old"))
    admin.create_service(site, ServiceCreate(name="checkout", secrets=[{"name": "TOKEN"}]))
    admin.create_service(site, ServiceCreate(name="mailer", secrets=[{"name": "TOKEN"}]))
    async with started(rows=1, notifications=True) as (app, pilot):
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog), message="form")
        app.screen.query_one("#value").text = "new"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: any("Restart checkout, mailer" in message
                                            for message in notification_messages(app)), message="restart named")


async def test_description_only_edit_names_no_restart(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="TOKEN", value="old"))
    admin.create_service(site, ServiceCreate(name="checkout", secrets=[{"name": "TOKEN"}]))
    async with started(rows=1, notifications=True) as (app, pilot):
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretFormDialog), message="form")
        app.screen.query_one("#description").value = "just words"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "just words" in screen_text(app), message="saved")
        assert not any("Restart" in message for message in notification_messages(app))


# ------------------------------------------------------------ trash


async def _open_trash(pilot, rows: int) -> TrashDialog:
    app = pilot.app
    await pilot.press("T")
    await wait_until(pilot, lambda: isinstance(app.screen, TrashDialog), message="trash dialog")
    await wait_until(pilot, lambda: len(app.screen.items) == rows and app.screen.loads > 0,
                     message=f"{rows} trashed")
    return app.screen


async def test_trash_lists_deleted_secrets_and_restores_one(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="KEEP", value="k"))
    admin.create_secret(site, None, SecretCreate(name="GONE", value="g"))
    admin.delete_secret(site, None, "GONE")
    async with started(rows=1) as (app, pilot):
        dialog = await _open_trash(pilot, 1)
        text = screen_text(app)
        assert "GONE" in text and "purge at" in text and "admin" in text
        await pilot.press("r")
        await wait_until(pilot, lambda: dialog.restored is not None and not dialog.items, message="restored")
        assert "The trash is empty." in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: secrets_rows(app) == [("GONE", "site"), ("KEEP", "site")], message="listed")
    assert admin.reveal(site, None, "GONE").value == "g"


async def test_the_trash_names_the_highlighted_secret_in_full_when_the_table_cuts_names(started, admin, site):
    # Two names alike in their first 30 characters were both "TRASHED_SECR…": r restored one of them unseen.
    stem = "TRASHED_SECRET_WITH_A_LONG_NAME_"
    for name in (f"{stem}ALPHA", f"{stem}BETA"):
        admin.create_secret(site, None, SecretCreate(name=name, value="v"))
        admin.delete_secret(site, None, name)
    async with started(rows=0) as (app, pilot):
        await _open_trash(pilot, 2)
        await wait_until(pilot, lambda: f"{stem}ALPHA (site): r restore" in screen_text(app), message="first named")
        await pilot.press("j")
        await wait_until(pilot, lambda: f"{stem}BETA (site): r restore" in screen_text(app), message="second named")


async def test_purge_asks_first_and_is_for_admins(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="GONE", value="g"))
    admin.delete_secret(site, None, "GONE")
    async with started(rows=0) as (app, pilot):
        dialog = await _open_trash(pilot, 1)
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="confirm")
        assert "Purge GONE (site) now?" in screen_text(app)
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is dialog, message="cancelled")
        await settled(pilot)
        assert len(admin.list_trash(site)) == 1
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="confirm again")
        await pilot.press("y")
        await wait_until(pilot, lambda: not dialog.items, message="purged")
    assert admin.list_trash(site) == []


async def test_editor_restores_but_cannot_purge_and_viewer_only_looks(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="GONE", value="g"))
    admin.delete_secret(site, None, "GONE")
    async with started(make_token(admin, Role.editor), rows=0) as (app, pilot):
        dialog = await _open_trash(pilot, 1)
        assert "r restore" in screen_text(app) and "p purge" not in screen_text(app)
        await pilot.press("p")
        await settled(pilot)
        assert app.screen is dialog
    async with started(make_token(admin, Role.viewer), rows=0) as (app, pilot):
        dialog = await _open_trash(pilot, 1)
        assert "r restore" not in screen_text(app) and "p purge" not in screen_text(app)
        await pilot.press("r", "p")
        await settled(pilot)
        assert app.screen is dialog
    assert len(admin.list_trash(site)) == 1


async def test_history_and_trash_show_names_from_others_literally(started, admin, site, secrets_server):
    token = make_token(admin, Role.editor, name="[red]x [/foo] [@click=app.quit]q")
    other = SiteSecretsClient(secrets_server.url, token)
    try:
        admin.create_secret(site, None, SecretCreate(name="TOKEN", value="one"))
        other.update_secret(site, None, "TOKEN", SecretUpdate(value="two"))
        admin.create_secret(site, None, SecretCreate(name="GONE", value="g"))
        other.delete_secret(site, None, "GONE")
    finally:
        other.close()
    async with started(rows=1) as (app, pilot):
        await _open_history(pilot, 2)
        assert "[red]x [/foo]" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HistoryDialog), message="closed")
        await _open_trash(pilot, 1)
        assert "[red]x [/foo]" in screen_text(app)


async def test_hiding_every_value_hides_an_old_one_in_the_history_too(started, admin, site):
    _three_versions(admin, site)
    async with started(rows=1) as (app, pilot):
        dialog = await _open_history(pilot, 3)
        await pilot.press("down", "s")
        view = dialog.query_one("#history-value")
        await wait_until(pilot, lambda: view.revealed, message="revealed")
        app.forget_values()  # what q, SIGTERM and SIGHUP do first
        await wait_until(pilot, lambda: "second" not in screen_text(app), message="hidden")
        assert view._value is None


async def test_rollback_after_someone_else_changed_the_secret_shows_the_new_history_first(started, admin, site):
    _three_versions(admin, site)
    async with started(rows=1, notifications=True) as (app, pilot):
        dialog = await _open_history(pilot, 3)
        admin.update_secret(site, None, "TOKEN", SecretUpdate(value="colleague"))  # v4, unseen
        await pilot.press("down", "r")  # v2
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="confirm")
        await pilot.press("y")
        await wait_until(pilot, lambda: dialog.query_one("#history-table").row_count == 4, message="v4 shown")
        assert any("changed meanwhile" in message for message in notification_messages(app))
        assert admin.reveal(site, None, "TOKEN").value == "colleague"  # nothing overwritten
        await pilot.press("down", "down", "r")  # v2 again, now below v4 and v3
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="confirm again")
        assert "new version 5" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: dialog.query_one("#history-table").row_count == 5, message="v5")
    assert admin.reveal(site, None, "TOKEN").value == "second"


MARKUP = "[@click=app.quit]q[/] [red]x [/foo]"


async def test_markup_from_a_foreign_server_is_literal_in_history_rollback_and_trash(make_app, site):
    # Our server refuses such names; a compromised or foreign one might send them.
    from datetime import datetime, timezone

    from shared.models import Secret, SecretVersion, TrashedSecret
    from tui.ui.textual_private import notification_messages
    from tui_helpers import running

    now = datetime.now(timezone.utc)
    secret = Secret.model_construct(name=MARKUP, app=None, type=None, description="", version=2, created_at=now,
                                    updated_at=now, created_by=MARKUP, updated_by=MARKUP, used_by=[MARKUP],
                                    last_used_at=None, fingerprint="aa", rotate_every_days=None,
                                    rotation_due_at=None, rotation_overdue=False)
    versions = [SecretVersion.model_construct(version=n, created_at=now, created_by=MARKUP, type=None,
                                              current=n == 2, fingerprint=f"f{n}") for n in (2, 1)]
    trashed = TrashedSecret.model_construct(name=MARKUP, app=None, version=1, deleted_at=now, deleted_by=MARKUP,
                                            purge_at=now)
    app = make_app()
    app.client.list_secrets = lambda _site: [secret]
    app.client.list_versions = lambda *_: versions
    app.client.rollback = lambda *_: secret.model_copy(update={"version": 3})
    app.client.list_trash = lambda _site: [trashed]
    async with running(app, rows=1, size=(120, 30), notifications=True) as (app, pilot):
        await _open_history(pilot, 2)
        assert f"History of {MARKUP} (site)" in screen_text(app)
        await pilot.press("down", "r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="confirm")
        assert f"Roll {MARKUP} back to version 1?" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: any(f"Restart {MARKUP}" in m for m in notification_messages(app)),
                         message="restart named literally")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HistoryDialog), message="closed")
        await _open_trash(pilot, 1)
        assert screen_text(app).count(MARKUP) >= 2  # name and deleted-by, literally
        await settled(pilot)  # no markup action ran: the app still runs


class _Outage:
    """Make the server unreachable for `calls` (and the reconnect loop's health check) until `end()`."""

    def __init__(self, client: SiteSecretsClient, *calls: str) -> None:
        from tui.client import ServerUnreachable

        self.down = True
        for name in ("health", *calls):
            real = getattr(client, name)

            def call(*args, _real=real):
                if self.down:
                    raise ServerUnreachable(client.url, "connection refused")
                return _real(*args)

            setattr(client, name, call)

    def end(self) -> None:
        self.down = False


async def test_history_and_trash_say_the_server_is_unreachable_not_empty_and_load_once_it_is_back(
        started, admin, site):
    _three_versions(admin, site)
    admin.create_secret(site, None, SecretCreate(name="GONE", value="g"))
    admin.delete_secret(site, None, "GONE")
    async with started(rows=1) as (app, pilot):
        outage = _Outage(app.client, "list_versions", "list_trash")
        await pilot.press("h")
        await wait_until(pilot, lambda: "server cannot be reached" in screen_text(app), message="history says it")
        assert isinstance(app.screen, HistoryDialog)
        outage.end()
        # the rows and the message's removal reach the screen in the same refresh or in two: wait for both
        await wait_until(pilot, lambda: app.screen.query_one("#history-table").row_count == 3
                         and "server cannot be reached" not in screen_text(app), message="loaded, the message gone")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HistoryDialog), message="closed")
        outage = _Outage(app.client, "list_versions", "list_trash")
        await pilot.press("T")
        await wait_until(pilot, lambda: "server cannot be reached" in screen_text(app), message="trash says it")
        assert isinstance(app.screen, TrashDialog) and "The trash is empty" not in screen_text(app)
        outage.end()
        await wait_until(pilot, lambda: len(app.screen.items) == 1 and "GONE" in screen_text(app)
                         and "server cannot be reached" not in screen_text(app), message="loaded, the message gone")


def _held(client: SiteSecretsClient, name: str):
    """Hold `client.name` until the returned event is set; the list records each call's arguments."""
    import threading

    release, calls, real = threading.Event(), [], getattr(client, name)

    def held(*args):
        calls.append(args)
        release.wait(30)
        return real(*args)

    setattr(client, name, held)
    return release, calls


async def _pressed_again_it_waits(app, pilot, dialog) -> None:
    """`r` again while the first call is held says why nothing is sent, and escape does not close
    the dialog before the answer."""
    from tui.ui.textual_private import notification_messages

    await pilot.press("r")
    await wait_until(pilot, lambda: any("Still saving" in m for m in notification_messages(app)),
                     message="the second r says why it waits")
    await pilot.press("escape")
    await settled(pilot)
    assert app.screen is dialog


async def test_restore_pressed_again_before_the_answer_waits_for_it(started, admin, site):
    # Sent again it came back "does not exist" for the restore that had just worked, the trash went
    # on listing the secret, and the Secrets tab did not show it back.
    from tui.ui.textual_private import notification_messages

    admin.create_secret(site, None, SecretCreate(name="GONE", value="g"))
    admin.delete_secret(site, None, "GONE")
    async with started(rows=0, notifications=True) as (app, pilot):
        release, calls = _held(app.client, "restore_secret")
        dialog = await _open_trash(pilot, 1)
        try:
            await pilot.press("r")
            await wait_until(pilot, lambda: len(calls) == 1, message="restore sent")
            await _pressed_again_it_waits(app, pilot, dialog)
        finally:
            release.set()
        await wait_until(pilot, lambda: dialog.restored is not None and not dialog.items, message="restored")
        assert len(calls) == 1 and not any("does not exist" in m for m in notification_messages(app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: secrets_rows(app) == [("GONE", "site")], message="listed again")


async def test_rollback_asked_again_before_the_answer_waits_for_it(started, admin, site):
    # Sent again it was refused as "changed meanwhile: nothing was rolled back" after the first had
    # rolled back, and the first's notice and restart advice were dropped.
    from tui.ui.textual_private import notification_messages

    _three_versions(admin, site)
    async with started(rows=1, notifications=True) as (app, pilot):
        release, calls = _held(app.client, "rollback")
        dialog = await _open_history(pilot, 3)
        try:
            await pilot.press("down", "r")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="confirm")
            await pilot.press("y")
            await wait_until(pilot, lambda: len(calls) == 1, message="rollback sent")
            await _pressed_again_it_waits(app, pilot, dialog)
        finally:
            release.set()
        await wait_until(pilot, lambda: any("now v4" in m for m in notification_messages(app)), message="rolled back")
        assert not any("changed meanwhile" in m for m in notification_messages(app))


async def test_a_long_name_in_the_trash_gives_way_to_the_times(started, admin, site):
    # The deletion time was cut to "2026-12-03 12:…" beside a name already cut short.
    from tui.display import short_time

    name = "B" * 150
    admin.create_secret(site, None, SecretCreate(name=name, value="g"))
    admin.delete_secret(site, None, name)
    item = admin.list_trash(site)[0]
    async with started(rows=0) as (app, pilot):
        await _open_trash(pilot, 1)
        text = screen_text(app)
        assert short_time(item.deleted_at) in text and short_time(item.purge_at) in text


async def test_restoring_what_someone_else_purged_takes_its_row_away(started, admin, site):
    # The server said it does not exist, and the trash went on listing it.
    admin.create_secret(site, None, SecretCreate(name="GONE", value="g"))
    admin.delete_secret(site, None, "GONE")
    async with started(rows=0) as (app, pilot):
        dialog = await _open_trash(pilot, 1)
        admin.purge_secret(site, None, "GONE")  # meanwhile, elsewhere
        await pilot.press("r")
        await wait_until(pilot, lambda: not dialog.items and "The trash is empty." in screen_text(app),
                         message="row gone")
