"""The children the TUI starts get the user's environment, nothing the client set for itself:
the API client turns pydantic's plugins off in its own process (PYDANTIC_DISABLE_PLUGINS), and
tmux, asked to drop a copied value from its paste buffers, sees the user's setting or none.
(`run`'s children: tests/cli/test_run_command.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

DROP_A_COPY = ("import tui.client; from tui.clipboard import delete_tmux_copies, fingerprint; "
               "delete_tmux_copies(fingerprint('copied'))")
"""The TUI's clipboard clear inside tmux, in a process that has loaded the API client."""


@pytest.mark.parametrize("users", [None, "my_plugin"], ids=["unset", "the users"])
def test_tmux_started_for_the_clipboard_sees_pydantic_plugins_as_the_user_left_them(tmp_path, users):
    seen = tmp_path / "tmux-environment.json"
    fake = tmp_path / "bin" / "tmux"  # tmux's own environment cannot be read back from a real one
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nimport json, os\nopen({str(seen)!r}, 'w').write(json.dumps(dict(os.environ)))\n")
    fake.chmod(0o700)
    env = {"PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}", "TMUX": "/tmp/tmux-0/default,1,0",
           "HOME": str(tmp_path)}
    if users is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = users
    subprocess.run([sys.executable, "-c", DROP_A_COPY], cwd=REPO, env=env, check=True, timeout=60)
    assert json.loads(seen.read_text()).get("PYDANTIC_DISABLE_PLUGINS") == users


def test_tmux_started_for_the_clipboard_gets_no_token(tmp_path):
    # tmux needs none, and a tmux client hands its environment to the tmux server, which outlives the TUI
    seen = tmp_path / "tmux-environment.json"
    fake = tmp_path / "bin" / "tmux"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nimport json, os\nopen({str(seen)!r}, 'w').write(json.dumps(dict(os.environ)))\n")
    fake.chmod(0o700)
    env = {"PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}", "TMUX": "/tmp/tmux-0/default,1,0",
           "HOME": str(tmp_path), "SITESECRETS_TOKEN": "ss_" + "t" * 43}
    subprocess.run([sys.executable, "-c", DROP_A_COPY], cwd=REPO, env=env, check=True, timeout=60)
    tmux_env = json.loads(seen.read_text())
    assert "SITESECRETS_TOKEN" not in tmux_env and tmux_env["TMUX"] == "/tmp/tmux-0/default,1,0"
