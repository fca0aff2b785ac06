"""ctrl+c at a prompt or while `local` starts: the terminal shows one line, the exit status is 130
(128 + SIGINT, as a shell reports), no traceback, and nothing was changed."""

from __future__ import annotations

import sys
from pathlib import Path

from cli_helpers import REPO, Live, base_env
from pty_process import PtyProcess

INTERRUPTED = "sitesecrets: interrupted"


def at_terminal(live: Live, site: str, *args: str) -> PtyProcess:
    env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=live.admin_token, SITESECRETS_SITE=site)
    return PtyProcess([sys.executable, "-m", "tui.cli", *args], env, str(REPO))


def lines_after(tty: PtyProcess, prompt: str) -> list[str]:
    """The lines the terminal showed after `prompt`, without the terminal's own `^C` echo."""
    return [line for line in tty.after(prompt).replace("^C", "").splitlines() if line.strip()]


def test_ctrl_c_at_the_hidden_value_prompt_of_set_is_one_line_and_status_130(live, site):
    tty = at_terminal(live, site, "set", "NEVER_SENT")
    tty.wait_for("value of NEVER_SENT: ")
    tty.type("half typed")
    tty.ctrl_c()
    assert tty.finish() == 130
    assert lines_after(tty, "value of NEVER_SENT: ") == [INTERRUPTED]
    assert "Traceback" not in tty.output and "half typed" not in tty.output
    assert live.secret(site, "NEVER_SENT").status_code == 404


def test_ctrl_c_at_the_question_of_rm_is_one_line_and_status_130(live, site):
    live.put_secret(site, "KEPT", "v")
    tty = at_terminal(live, site, "rm", "KEPT")
    tty.wait_for("[y/N] ")
    tty.ctrl_c()
    assert tty.finish() == 130
    assert lines_after(tty, "[y/N] ") == [INTERRUPTED]
    assert "Traceback" not in tty.output
    assert live.secret(site, "KEPT").status_code == 200


def test_ctrl_c_at_the_login_prompt_is_one_line_and_stores_nothing(live, site, tmp_path):
    env = base_env(SITESECRETS_URL=live.url, XDG_CONFIG_HOME=str(tmp_path / "config"))
    tty = PtyProcess([sys.executable, "-m", "tui.cli", "login"], env, str(REPO))
    tty.wait_for("token for ")
    tty.ctrl_c()
    assert tty.finish() == 130
    assert lines_after(tty, f"token for {live.url}: ") == [INTERRUPTED]
    assert not (tmp_path / "config" / "sitesecrets").exists()


def test_ctrl_c_while_local_starts_is_one_line_and_status_130(tmp_path):
    env = base_env(PYTHONPATH=str(REPO), TERM="xterm-256color")
    tty = PtyProcess([sys.executable, str(Path(__file__).with_name("slow_local.py")), "--data-dir", str(tmp_path / "d")],
                     env, str(REPO))
    tty.wait_for("starting the embedded server")
    tty.ctrl_c()
    assert tty.finish() == 130
    assert lines_after(tty, "starting the embedded server") == [INTERRUPTED]
    assert "Traceback" not in tty.output
