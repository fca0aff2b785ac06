"""The Services tab (`4`): services with their app, bindings, last load and "restart needed";
new, bindings and delete; the apps modal; what read-only users see; untrusted names shown literally."""

from __future__ import annotations

from textual.command import CommandPalette

from shared.models import AppCreate, Role, SecretCreate, SecretRef, SecretUpdate, Service, ServiceCreate, ServiceEnv
from tui.ui.dialogs.apps import AppsDialog
from tui.ui.dialogs.confirm import ConfirmDialog
from tui.ui.dialogs.service_form import ServiceFormDialog
from tui.ui.textual_private import notification_messages
from tui_helpers import make_token, running, screen_text, settled, show_tab, terminal_bytes, wait_until


def _services(app) -> list[str]:
    if not app.screen.query("#services-table"):
        return []
    table = app.screen.query_one("#services-table")
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


async def _open_services(pilot, names: list[str]) -> None:
    app = pilot.app
    await pilot.press("4")
    await wait_until(pilot, lambda: app.screen.query("#services-pane") and
                     app.screen.query_one("#services-pane").data is not None and _services(app) == names,
                     message=f"services {names}")
    await wait_until(pilot, lambda: "Refresh" in screen_text(app).splitlines()[-1], message="footer drawn")


def _offered(dialog) -> list[str]:
    picker = dialog.query_one("#service-bindings")
    return [str(picker.get_option_at_index(i).prompt) for i in range(picker.option_count)]


def _fetch_env(admin, site: str, service: str) -> ServiceEnv:
    return admin.request("GET", f"/v1/sites/{site}/services/{service}/env", ServiceEnv)


async def test_new_service_with_bindings_checks_its_name_and_offers_its_apps_secrets(started, admin, site):
    admin.create_app(site, AppCreate(name="web", site_secrets=True))
    admin.create_app(site, AppCreate(name="other", site_secrets=True))
    admin.create_secret(site, None, SecretCreate(name="SHARED", value="v"))
    admin.create_secret(site, "web", SecretCreate(name="DB", value="v"))
    admin.create_secret(site, "other", SecretCreate(name="NOT_MINE", value="v"))
    admin.create_service(site, ServiceCreate(name="taken", secrets=[]))
    async with started(notifications=True) as (app, pilot):
        await _open_services(pilot, ["taken"])
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceFormDialog), message="form")
        dialog = app.screen
        await pilot.press(*"Bad")
        await wait_until(pilot, lambda: "A service name is lowercase" in screen_text(app), message="slug check")
        dialog.query_one("#service-name").value = "taken"
        await wait_until(pilot, lambda: "already a service 'taken'" in screen_text(app), message="taken check")
        dialog.query_one("#service-name").value = "api"
        assert _offered(dialog) == ["SHARED (site)"]
        dialog.query_one("#service-app").value = "web"
        await wait_until(pilot, lambda: _offered(dialog) == ["SHARED (site)", "DB (app web)"], message="web's")
        dialog.query_one("#service-bindings").focus()
        await pilot.press("space", "down", "space")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: _services(app) == ["api", "taken"], message="listed")
        assert "Saved service api." in notification_messages(app)
    service = next(s for s in admin.list_services(site).items if s.name == "api")
    assert service.app == "web" and service.secrets == [SecretRef(name="SHARED"), SecretRef(name="DB", app="web")]


async def test_bindings_picker_offers_only_what_the_app_may_bind(started, admin, site):
    admin.create_app(site, AppCreate(name="closed", site_secrets=False))
    admin.create_secret(site, None, SecretCreate(name="SITE_WIDE", value="v"))
    admin.create_secret(site, "closed", SecretCreate(name="OWN", value="v"))
    admin.create_secret(site, "closed", SecretCreate(name="SECOND", value="v"))
    admin.create_service(site, ServiceCreate(name="job", app="closed", secrets=[{"name": "OWN", "app": "closed"}]))
    async with started() as (app, pilot):
        await _open_services(pilot, ["job"])
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceFormDialog), message="picker")
        dialog = app.screen
        assert _offered(dialog) == ["OWN (app closed)", "SECOND (app closed)"]
        assert dialog.query_one("#service-bindings").selected == ["closed/OWN"]
        await pilot.press("space", "down", "space", "ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, ServiceFormDialog), message="saved")
    assert admin.list_services(site).items[0].secrets == [SecretRef(name="SECOND", app="closed")]


async def test_restart_needed_after_update_names_the_secret_and_clears_after_env_fetch(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="API_KEY", value="one"))
    admin.create_secret(site, None, SecretCreate(name="CALM", value="one"))
    admin.create_service(site, ServiceCreate(name="api", secrets=[{"name": "API_KEY"}, {"name": "CALM"}]))
    _fetch_env(admin, site, "api")
    admin.update_secret(site, None, "API_KEY", SecretUpdate(value="two"))
    async with started(rows=2) as (app, pilot):
        # The Secrets tab's detail: the version the service loaded next to the current one.
        await wait_until(pilot, lambda: "api: loaded v1 · current v2  restart needed" in screen_text(app),
                         message="versions in the secret's detail")
        await pilot.press("4")
        await wait_until(pilot, lambda: "RESTART NEEDED: API_KEY" in screen_text(app), message="marker")
        status = next(line for line in screen_text(app).splitlines() if line.startswith(" status"))
        assert status.split()[1:] == ["⚠", "RESTART", "NEEDED:", "API_KEY"]  # CALM did not change
        _fetch_env(admin, site, "api")
        await pilot.press("r")
        await wait_until(pilot, lambda: "up to date" in screen_text(app), message="marker cleared")
        assert "RESTART NEEDED" not in screen_text(app)
        assert "API_KEY (site): loaded v2 · current v2" in screen_text(app)


async def test_delete_asks_first_and_cancel_keeps_the_service(started, admin, site):
    admin.create_service(site, ServiceCreate(name="gone", secrets=[]))
    admin.create_service(site, ServiceCreate(name="kept", secrets=[]))
    async with started() as (app, pilot):
        await _open_services(pilot, ["gone", "kept"])
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="question")
        assert "Delete the service gone?" in screen_text(app)
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDialog), message="cancelled")
        await settled(pilot)
        assert _services(app) == ["gone", "kept"]
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), message="question")
        await pilot.press("y")
        await wait_until(pilot, lambda: _services(app) == ["kept"], message="deleted")
    assert [s.name for s in admin.list_services(site).items] == ["kept"]


async def test_apps_modal_creates_an_app_and_flips_its_site_secrets(started, admin, site):
    async with started(notifications=True) as (app, pilot):
        await _open_services(pilot, [])
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AppsDialog), message="apps modal")
        app.screen.query_one("#app-name").focus()  # the dialog opens on the list
        await pilot.press(*"Web")
        await wait_until(pilot, lambda: "An app name is lowercase" in screen_text(app), message="slug check")
        app.screen.query_one("#app-name").value = "web"
        app.screen.query_one("#app-site-secrets").value = False
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen.query_one("#apps-table").row_count == 1, message="created")
        assert [(a.name, a.site_secrets) for a in admin.list_apps(site)] == [("web", False)]
        app.screen.query_one("#apps-table").focus()
        await pilot.press("t")
        await wait_until(pilot, lambda: "Services of web may use site-level secrets." in
                         notification_messages(app), message="flipped")
        assert [(a.name, a.site_secrets) for a in admin.list_apps(site)] == [("web", True)]
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, AppsDialog), message="apps closed")
        # Also from the command palette, on any tab.
        await show_tab(pilot, "secrets")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), message="palette")
        await pilot.press(*"Apps: create")
        await wait_until(pilot, lambda: "Apps: create an app" in screen_text(app), message="hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AppsDialog), message="apps from palette")


async def test_palette_offers_the_services_tab_actions(started, admin, site):
    async with started() as (app, pilot):
        await _open_services(pilot, [])
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), message="palette")
        await pilot.press(*"Services: New")
        await wait_until(pilot, lambda: "Services: New" in screen_text(app), message="hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceFormDialog), message="form")


def _footer(app) -> str:
    return screen_text(app).splitlines()[-1]


async def test_read_only_and_viewers_see_services_without_changing_keys(make_app, admin, site):
    admin.create_service(site, ServiceCreate(name="svc", secrets=[]))
    for app in (make_app(read_only=True), make_app(token=make_token(admin, Role.viewer))):
        async with running(app, size=(120, 24)) as (app, pilot):
            await _open_services(pilot, ["svc"])
            await wait_until(pilot, lambda: "Refresh" in _footer(app), message="footer")
            assert not any(word in _footer(app) for word in ("New", "Bindings", "Delete", "Apps"))
            await pilot.press("n", "b", "d", "a")
            await settled(pilot)
            assert app.screen.query("#services-pane")  # still the main screen: no dialog opened
    assert [s.name for s in admin.list_services(site).items] == ["svc"]


async def test_services_tab_and_its_dialogs_fit_80x24(started, admin, site):
    admin.create_secret(site, None, SecretCreate(name="A_SECRET", value="v"))
    admin.create_service(site, ServiceCreate(name="svc", secrets=[{"name": "A_SECRET"}, {"name": "NOT_YET"}]))
    async with started() as (app, pilot):
        await _open_services(pilot, ["svc"])
        text = screen_text(app)
        lines = text.splitlines()
        assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
        for expected in ("4 Services", "missing: NOT_YET", "A_SECRET (site)", "does not exist yet", "b Bindings"):
            assert expected in text, expected
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceFormDialog), message="picker")
        assert "NOT_YET (site) · does not exist yet" in screen_text(app) and "Save (ctrl+s)" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ServiceFormDialog), message="picker closed")
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AppsDialog), message="apps")
        assert "Create (ctrl+s)" in screen_text(app) and "New app" in screen_text(app)


async def test_hostile_service_and_secret_names_from_the_server_show_literally(make_app, site):
    # Names can't hold markup or controls on our server; a compromised or foreign one could send them.
    hostile = "[red]x [@click=app.quit]q[/] x[/bold] \x1b]52;c;SGk=\x07"
    service = Service.model_construct(name=hostile, app="[link=https://x]y[/link]",
                                      secrets=[SecretRef.model_construct(name=hostile, app=None)],
                                      loaded_at=None, restart_required=True,
                                      stale=[SecretRef.model_construct(name=hostile, app=None)], loaded_versions=[])
    app = make_app()
    app.client.list_services = lambda _site: type("L", (), {"items": [service]})()
    async with running(app, size=(160, 24)) as (app, pilot):
        await _open_services(pilot, [hostile.replace("\x1b", "\\x1b").replace("\x07", "\\x07")])
        text = screen_text(app)
        assert "[red]x [@click=app.quit]q[/] x[/bold] \\x1b]52;c;SGk=\\x07" in text
        assert "RESTART NEEDED: [red]x [@click=app.quit]q[/]" in text and "[link=https://x]y[/link]" in text
        assert "\x1b]52" not in terminal_bytes(app) and "\x07" not in terminal_bytes(app)
        line = next(i for i, row in enumerate(text.splitlines()) if "[@click=app.quit]q[/]" in row)
        await pilot.click(offset=(text.splitlines()[line].index("q[/]"), line))
        await settled(pilot)
        assert app.is_running and app.return_code is None


async def test_t_again_before_the_answer_is_not_sent_with_the_old_setting(started, admin, site):
    # Sent again it asked for the setting the first `t` had just set: two presses flipped it once,
    # and the second press's notice never came.
    import threading

    admin.create_app(site, AppCreate(name="web"))
    async with started(notifications=True) as (app, pilot):
        release = threading.Event()
        update, sent = app.client.update_app, []

        def held(*args):
            sent.append(args[-1].site_secrets)
            release.wait(30)
            return update(*args)

        app.client.update_app = held
        await _open_services(pilot, [])
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AppsDialog) and app.screen.apps, message="apps modal")
        try:
            await pilot.press("t")
            await wait_until(pilot, lambda: sent == [False], message="the first flip sent")
            await pilot.press("t")
            await wait_until(pilot, lambda: any("Still saving" in m for m in notification_messages(app)),
                             message="the second t says why it waits")
            await pilot.press("escape")  # nor does the dialog close before the answer
            await settled(pilot)
            assert isinstance(app.screen, AppsDialog)
        finally:
            release.set()
        await wait_until(pilot, lambda: "Services of web may no longer use site-level secrets." in
                         notification_messages(app), message="flipped once")
        await wait_until(pilot, lambda: "no" in str(app.screen.query_one("#apps-table").get_row_at(0)[1]),
                         message="shown as no")
        await pilot.press("t")  # once answered, `t` flips what is shown
        await wait_until(pilot, lambda: "Services of web may use site-level secrets." in notification_messages(app),
                         message="flipped back")
        assert sent == [False, True]
    assert [(a.name, a.site_secrets) for a in admin.list_apps(site)] == [("web", True)]


async def test_t_refused_because_services_bind_site_secrets_names_them(started, admin, site):
    # The toast said "1 service(s) of app 'web' bind site-level secrets; unbind them first", not which.
    from tui.ui.dialogs.message import MessageDialog

    admin.create_app(site, AppCreate(name="web"))
    admin.create_secret(site, None, SecretCreate(name="SHARED", value="v"))
    admin.create_service(site, ServiceCreate(name="checkout", app="web", secrets=[{"name": "SHARED"}]))
    async with started(rows=1) as (app, pilot):
        await _open_services(pilot, ["checkout"])
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AppsDialog) and app.screen.apps, message="apps modal")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog), message="why it was refused")
        assert "• checkout" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, AppsDialog), message="back in the apps")
    assert admin.list_apps(site)[0].site_secrets
