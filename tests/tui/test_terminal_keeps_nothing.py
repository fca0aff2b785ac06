"""The terminal keeps nothing when the TUI is killed or copies: SIGTERM and SIGHUP re-mask, clear
the clipboard and restore the terminal; a cleared clipboard is cleared in tmux too; the palette
offers no screenshot (a file that could hold a revealed value)."""

from __future__ import annotations

import signal

import pytest

from shared.models import SecretCreate
from pty_session import ALT_SCREEN_OFF, PtySession
from tui.clipboard import CLEARED
from tui.ui.textual_private import notification_messages
from tui_helpers import wait_until

MOUSE_OFF = (b"\x1b[?1000l", b"\x1b[?1003l", b"\x1b[?1006l")


def _args(secrets_server, site: str) -> list[str]:
    return ["--url", secrets_server.url, "--token", secrets_server.admin_token, "--site", site]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_remasks_and_restores_the_terminal(secrets_server, admin, site, signum):
    value = "signal-canary-7d2e41"
    admin.create_secret(site, None, SecretCreate(name="REVEALED", value=value))
    with PtySession(_args(secrets_server, site)) as tty:
        tty.wait_loaded("REVEALED")
        tty.send("s")
        tty.wait_for_screen(value)
        tty.proc.send_signal(signum)
        code = tty.finish()
        output, screen = tty.output, tty.screen
    assert code == 128 + signum
    assert value not in screen  # the last frame drawn before leaving was masked
    restored = output[output.rindex(ALT_SCREEN_OFF):]
    assert value.encode() not in restored
    tail = output[output.rindex(value.encode()):]
    for sequence in (*MOUSE_OFF, ALT_SCREEN_OFF):
        assert sequence in tail, sequence


def test_a_stop_signal_clears_a_copied_value_from_the_clipboard(secrets_server, admin, site):
    import base64

    value = "clipboard-canary-19b3"
    admin.create_secret(site, None, SecretCreate(name="COPIED", value=value))
    copied = f"\x1b]52;c;{base64.b64encode(value.encode()).decode()}\x07".encode()
    cleared = f"\x1b]52;c;{base64.b64encode(CLEARED.encode()).decode()}\x07".encode()
    with PtySession([*_args(secrets_server, site), "--clipboard-seconds", "600"]) as tty:
        tty.wait_loaded("COPIED")
        tty.send("c")
        at = tty.wait_for(copied)
        tty.proc.send_signal(signal.SIGTERM)
        assert tty.finish() == 128 + signal.SIGTERM
        assert tty.output.find(cleared, at) > at


def test_the_palette_offers_no_screenshot(make_app):
    app = make_app()
    titles = [command.title for command in app.get_system_commands(app.get_default_screen())]
    assert "Quit" in titles and "Screenshot" not in titles


async def test_the_screenshot_action_writes_no_file(started, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with started(notifications=True) as (app, pilot):
        app.call_later(app.run_action, "screenshot")
        await wait_until(pilot, lambda: any("Screenshots are turned off" in m for m in notification_messages(app)),
                         message="refusal")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def tmux(tmp_path):
    from tmux_server import TmuxServer

    server = TmuxServer(tmp_path)
    try:
        yield server
    finally:
        server.kill()


def _tui_in_tmux(tmux, secrets_server, site: str, *options: str) -> None:
    import sys

    from pty_session import CHILD, ROOT
    from tmux_server import clean_environment

    env = clean_environment(SITESECRETS_URL=secrets_server.url, SITESECRETS_TOKEN=secrets_server.admin_token,
                            SITESECRETS_SITE=site, PYTHONPATH=str(ROOT), LANG="C.UTF-8")
    tmux.start([sys.executable, str(CHILD), "plain", *options], env)


def test_the_clipboard_clear_removes_the_value_from_tmux_paste_buffers(tmux, secrets_server, admin, site):
    value = "tmux-canary-5e0a77"
    admin.create_secret(site, None, SecretCreate(name="COPIED", value=value))
    _tui_in_tmux(tmux, secrets_server, site, "--clipboard-seconds", "3")
    tmux.wait_for_screen("COPIED")
    tmux.wait_for_screen("r Refresh")
    tmux.run("send-keys", "c")
    # cleared: tmux's newest buffer is the harmless placeholder, and no buffer holds the value
    tmux.wait(lambda: (buffers := tmux.buffers()) and buffers[0] == CLEARED and value not in buffers,
              "the clear in tmux's buffers")


def test_quitting_removes_a_copied_value_from_tmux_paste_buffers(tmux, secrets_server, admin, site):
    value = "tmux-quit-canary-c41d"
    admin.create_secret(site, None, SecretCreate(name="COPIED", value=value))
    _tui_in_tmux(tmux, secrets_server, site, "--clipboard-seconds", "600")
    tmux.wait_for_screen("COPIED")
    tmux.wait_for_screen("r Refresh")
    tmux.run("send-keys", "c")
    tmux.wait(lambda: value in tmux.buffers(), "the copy in tmux's buffers")
    tmux.run("send-keys", "q")
    tmux.wait(lambda: value not in tmux.buffers() and CLEARED in tmux.buffers(), "the clear in tmux's buffers")
