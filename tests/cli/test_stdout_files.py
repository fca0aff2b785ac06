"""A token or a value printed into a file goes only into a file other users may not read.

`sitesecrets export > .env` or `token create ... > deploy.token` under the usual umask 022 makes a
0644 file, and on a shared host "others" are the other tenants. Each command that prints a token
or a value refuses such a standard output before it asks the server for anything, so no token is
minted and no value revealed (or audited) into it; a 0600 or 0640 file, a pipe or a terminal is
written as before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import REPO, Live, base_env


def into_file(live: Live, site: str, path: Path, mode: int, *args: str) -> subprocess.CompletedProcess:
    """`sitesecrets ARGS > path`, the file made `mode` first as a shell's redirection would find it."""
    path.touch()
    path.chmod(mode)
    env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=live.admin_token, SITESECRETS_SITE=site)
    with path.open("wb") as out:
        result = subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=REPO, env=env, stdout=out,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60)
    result.stderr = result.stderr.decode()
    return result


COMMANDS = {
    "get": ["get", "DB_PASSWORD"],
    "export": ["export"],
    "set --generate": ["set", "DB_PASSWORD", "--generate"],
    "token create": ["token", "create", "--name", "deploy", "--role", "viewer"],
    "sites create --admin-token": ["sites", "create", "spilled", "--admin-token"],
}


@pytest.mark.parametrize("command", COMMANDS, ids=list(COMMANDS))
def test_a_token_or_value_is_not_printed_into_a_file_every_user_may_read(live: Live, site, tmp_path, command):
    live.put_secret(site, "DB_PASSWORD", "stdout-file-canary")
    before = live.audit(site)
    out = tmp_path / "out.txt"
    result = into_file(live, site, out, 0o644, *COMMANDS[command])
    assert result.returncode == 2, result.stderr
    assert f"standard output is {out}, a file every user of this host may read (mode 644)" in result.stderr
    assert "umask 077" in result.stderr and "nothing was done" in result.stderr
    assert out.read_bytes() == b""
    assert live.audit(site) == before  # nothing revealed, minted or changed
    assert live.reveal(site, "DB_PASSWORD") == "stdout-file-canary"
    assert "deploy" not in [t["name"] for t in live.ok("GET", "/v1/tokens")["items"]]
    assert live.admin.get("/v1/sites/spilled").status_code == 404


@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_a_file_only_its_owner_or_group_may_read_takes_the_value(live: Live, site, tmp_path, mode):
    live.put_secret(site, "DB_PASSWORD", "stdout-file-canary")
    out = tmp_path / "out.txt"
    result = into_file(live, site, out, mode, "get", "DB_PASSWORD")
    assert result.returncode == 0, result.stderr
    assert out.read_text() == "stdout-file-canary"
