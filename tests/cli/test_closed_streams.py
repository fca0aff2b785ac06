"""When a standard stream is gone: stdout's reader went away (`sitesecrets export | head -1`, a
provider CLI that failed before reading), or the shell closed the stream itself (`>&-`, `<&-`,
`2>&-`). A command then ends with one sentence, never a traceback; what it prints only once (a
generated value, a new token) is never reported as shown when it was not; and nothing meant for
stderr ends up in stdout."""

from __future__ import annotations

import os
import subprocess
import sys

from cli_helpers import REPO, Live, base_env

SIGPIPE_STATUS = 141
"""128 + SIGPIPE: what a shell reports for `yes | head -1`."""


def into_a_gone_reader(live: Live, site: str, *args: str) -> subprocess.CompletedProcess:
    """Run `sitesecrets ARGS` with stdout a pipe whose reader has already gone, so every write to
    it fails (EPIPE), as at the end of `| head -1`."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=live.admin_token, SITESECRETS_SITE=site)
    try:
        result = subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                stdout=write_end, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write_end)
    result.stderr = result.stderr.decode("utf-8")
    return result


def test_export_into_a_gone_reader_ends_quietly_as_a_pipe_does(live: Live, site):
    live.put_secret(site, "A", "1")
    result = into_a_gone_reader(live, site, "export")
    assert result.returncode == SIGPIPE_STATUS
    assert result.stderr == ""


def test_get_and_ls_into_a_gone_reader_end_quietly_too(live: Live, site):
    live.put_secret(site, "A", "1")
    for args in (["get", "A"], ["ls"]):
        result = into_a_gone_reader(live, site, *args)
        assert (result.returncode, result.stderr) == (SIGPIPE_STATUS, ""), args


def test_set_generate_into_a_gone_reader_says_the_new_value_is_set_and_where_to_read_it(live: Live, site):
    live.put_secret(site, "API_KEY", "old")
    result = into_a_gone_reader(live, site, "set", "API_KEY", "--generate")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert live.secret(site, "API_KEY").json()["version"] == 2  # the change was made before the write failed
    new = live.reveal(site, "API_KEY")
    assert new not in result.stderr
    assert "shown once above" not in result.stderr
    assert "API_KEY now holds a new generated value (version 2)" in result.stderr
    assert "`sitesecrets get API_KEY` shows it" in result.stderr


def test_token_create_into_a_gone_reader_names_the_token_to_revoke(live: Live, site):
    result = into_a_gone_reader(live, site, "token", "create", "--name", "deploy", "--role", "editor")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    listed = live.ok("GET", "/v1/tokens")["items"]
    created = next(t for t in listed if t["name"] == "deploy")
    assert f"sitesecrets token revoke {created['id']}" in result.stderr
