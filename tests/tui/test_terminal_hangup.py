"""A TUI whose terminal goes away without a SIGHUP (a dead SSH session under setsid or a lost
multiplexer client) exits on its own instead of spinning on end-of-file."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

from pty_session import CHILD, ROOT, TIMEOUT

ALT_SCREEN_ON = b"\x1b[?1049h"


def _read_until(master: int, marker: bytes) -> None:
    seen = bytearray()
    deadline = time.monotonic() + TIMEOUT
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{marker!r} never written; output {bytes(seen[-500:])!r}"
        if select.select([master], [], [], remaining)[0]:
            seen += os.read(master, 65536)


def test_a_closed_terminal_ends_the_tui_without_a_signal(secrets_server, site):
    master, slave = os.openpty()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TEXTUAL", "SITESECRETS"))}
    env.update(TERM="xterm-256color", PYTHONPATH=str(ROOT), LANG="C.UTF-8")
    args = ["--url", secrets_server.url, "--token", secrets_server.admin_token, "--site", site]
    # a session of its own and no controlling terminal: closing the pty sends it no SIGHUP
    child = subprocess.Popen([sys.executable, str(CHILD), "plain", *args], stdin=slave, stdout=slave,
                             stderr=slave, env=env, cwd=ROOT, start_new_session=True, close_fds=True)
    os.close(slave)
    try:
        _read_until(master, b"Refresh")
        os.close(master)
        code = child.wait(timeout=TIMEOUT)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert code == 128 + signal.SIGHUP  # it stopped as it does for SIGHUP
