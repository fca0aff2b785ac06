"""Secrets written to a file go only into a file no other user can read. `sitesecrets export > .env`
under the usual umask 022 makes a file every account on a shared host may read; the commands that
print a value or a token refuse such a standard output before they read or create anything, as a
token file others may read is refused, and say how to write it privately. Each command here runs
from a real shell that made the redirection itself, against the module's real server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import REPO, Live, base_env

PRINTING_A_SECRET = [["get", "API_KEY"], ["export"], ["export", "--format", "json"], ["set", "API_KEY", "--generate"],
                     ["token", "create", "--name", "deploy", "--role", "editor"]]


def into_file(live: Live, site: str, umask: str, target: Path, *args: str) -> subprocess.CompletedProcess:
    """`(umask UMASK; sitesecrets ARGS > TARGET)` in sh; stderr captured as text."""
    env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=live.admin_token, SITESECRETS_SITE=site)
    argv = ["sh", "-c", f'umask {umask}; exec "$@" > "$TARGET"', "sh", sys.executable, "-m", "tui.cli", *args]
    return subprocess.run(argv, cwd=REPO, env={**env, "TARGET": str(target)}, stdin=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, timeout=60)


@pytest.mark.parametrize("args", PRINTING_A_SECRET, ids=" ".join)
def test_a_file_other_users_can_read_is_refused_before_anything_is_read_or_made(live: Live, site, tmp_path, args):
    live.put_secret(site, "API_KEY", "old")
    tokens = len(live.ok("GET", "/v1/tokens")["items"])
    target = tmp_path / "out"
    result = into_file(live, site, "022", target, *args)
    assert result.returncode == 2
    assert f"standard output is {target}, a file every user of this host may read (mode 644)" in result.stderr
    assert result.stderr.rstrip().endswith("nothing was done")
    assert target.read_text() == ""
    assert live.audit(site, action="secret.reveal") == []
    assert live.secret(site, "API_KEY").json()["version"] == 1
    assert len(live.ok("GET", "/v1/tokens")["items"]) == tokens


@pytest.mark.parametrize("args", PRINTING_A_SECRET, ids=" ".join)
def test_a_private_file_gets_the_secret(live: Live, site, tmp_path, args):
    live.put_secret(site, "API_KEY", "old")
    target = tmp_path / "out"
    result = into_file(live, site, "077", target, *args)
    assert result.returncode == 0, result.stderr
    assert target.stat().st_mode & 0o777 == 0o600
    assert target.read_text().strip()


def test_output_that_holds_no_secret_may_go_to_any_file(live: Live, site, tmp_path):
    live.put_secret(site, "API_KEY", "old")
    target = tmp_path / "names.json"
    result = into_file(live, site, "022", target, "ls", "--json")
    assert result.returncode == 0, result.stderr
    assert '"API_KEY"' in target.read_text()


def test_a_new_sites_admin_token_into_a_readable_file_creates_no_site(live: Live, site, tmp_path):
    target = tmp_path / "site.token"
    result = into_file(live, site, "022", target, "sites", "create", f"{site}-new", "--admin-token")
    assert result.returncode == 2 and "every user of this host may read" in result.stderr
    assert live.admin.get(f"/v1/sites/{site}-new").status_code == 404
    target.chmod(0o600)  # as the refusal says
    assert into_file(live, site, "022", target, "sites", "create", f"{site}-new", "--admin-token").returncode == 0
    assert target.read_text().startswith("ss_")
