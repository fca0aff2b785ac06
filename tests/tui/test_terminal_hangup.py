"""A TUI whose terminal goes away exits on its own: without a SIGHUP (a dead SSH session under
setsid, a lost multiplexer client) instead of spinning on end-of-file, and with one (a dropped SSH
session) instead of waiting for ever on its output; a TUI suspended and resumed on a live
terminal carries on."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

from pty_session import CHILD, ROOT, TIMEOUT
from waiting import wait_until

ALT_SCREEN_ON = b"\x1b[?1049h"


def _read_until(master: int, marker: bytes) -> None:
    seen = bytearray()
    deadline = time.monotonic() + TIMEOUT
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{marker!r} never written; output {bytes(seen[-500:])!r}"
        if select.select([master], [], [], remaining)[0]:
            seen += os.read(master, 65536)


def _take_terminal() -> None:
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the pty becomes the child's controlling terminal, as under sshd


def _exit_when_the_terminal_closes(secrets_server, site: str, *, controlling: bool) -> int:
    """Start the TUI on a pty (its controlling terminal or not), close the pty's other end once the
    TUI is drawn, and return the TUI's exit status."""
    master, slave = os.openpty()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TEXTUAL", "SITESECRETS"))}
    env.update(TERM="xterm-256color", PYTHONPATH=str(ROOT), LANG="C.UTF-8")
    args = ["--url", secrets_server.url, "--token", secrets_server.admin_token, "--site", site]
    child = subprocess.Popen([sys.executable, str(CHILD), "plain", *args], stdin=slave, stdout=slave,
                             stderr=slave, env=env, cwd=ROOT, start_new_session=True, close_fds=True,
                             preexec_fn=_take_terminal if controlling else None)
    os.close(slave)
    try:
        _read_until(master, b"Refresh")
        os.close(master)
        return child.wait(timeout=TIMEOUT)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_closed_terminal_ends_the_tui_without_a_signal(secrets_server, site):
    # a session of its own and no controlling terminal: closing the pty sends it no SIGHUP
    code = _exit_when_the_terminal_closes(secrets_server, site, controlling=False)
    assert code == 128 + signal.SIGHUP  # it stopped as it does for SIGHUP


def test_a_dropped_ssh_session_ends_the_tui(secrets_server, site):
    """When sshd's side of the terminal closes, the kernel sends the terminal's foreground process
    SIGHUP and then SIGCONT. Textual's SIGCONT handler restarts its output on the dead terminal,
    and that writer thread dies on its first write; the App then waited for ever to hand it the
    last of its output (a TUI left behind by every dropped session, holding its token)."""
    assert _exit_when_the_terminal_closes(secrets_server, site, controlling=True) == 128 + signal.SIGHUP


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "T"


def test_a_suspended_tui_resumes_on_a_live_terminal(secrets_server, admin, site):
    """ctrl+z and `fg` still work: the SIGCONT of a shell's `fg` reaches Textual while the terminal
    lives, and the TUI takes the alternate screen back and answers keys."""
    from pty_session import PtySession
    from shared.models import SecretCreate

    admin.create_secret(site, None, SecretCreate(name="SUSPENDED", value="v"))
    args = ["--url", secrets_server.url, "--token", secrets_server.admin_token, "--site", site]
    with PtySession(args) as tty:
        tty.wait_loaded("SUSPENDED")
        tty.proc.send_signal(signal.SIGTSTP)  # what ctrl+z at a shell sends
        left = tty.wait_for(b"\x1b[?1049l")
        wait_until(lambda: _stopped(tty.proc.pid), "the TUI to stop", TIMEOUT)
        tty.proc.send_signal(signal.SIGCONT)  # `fg`
        tty.wait_for(ALT_SCREEN_ON, after=left)
        tty.send("q")
        assert tty.finish() == 0
