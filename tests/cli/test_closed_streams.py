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


def with_closed(live: Live, site: str, redirection: str, *args: str,
                input: str | None = None) -> subprocess.CompletedProcess:
    """Run `sitesecrets ARGS` from a shell that closed one of its streams first (`>&-`, `<&-`, `2>&-`);
    the streams left open are captured as text (stdin: `input`)."""
    env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=live.admin_token, SITESECRETS_SITE=site)
    argv = ["sh", "-c", f'exec "$@" {redirection}', "sh", sys.executable, "-m", "tui.cli", *args]
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, timeout=60,
                            input=None if input is None else input.encode("utf-8"),
                            stdin=subprocess.DEVNULL if input is None else None)
    result.stdout, result.stderr = result.stdout.decode("utf-8"), result.stderr.decode("utf-8")
    return result


def test_a_closed_stdout_is_refused_before_anything_is_read_or_changed(live: Live, site):
    live.put_secret(site, "API_KEY", "old")
    for args in (["get", "API_KEY"], ["set", "API_KEY", "--generate"], ["export"], ["ls"]):
        result = with_closed(live, site, ">&-", *args)
        assert result.returncode == 2, args
        assert result.stderr == "sitesecrets: standard output is closed (>&-); nothing was done\n", args
    assert live.secret(site, "API_KEY").json()["version"] == 1
    assert live.audit(site, action="secret.reveal") == []


def test_set_with_stdin_closed_sends_no_value(live: Live, site):
    live.put_secret(site, "DB_PASSWORD", "keep me")
    result = with_closed(live, site, "<&-", "set", "DB_PASSWORD")
    assert result.returncode == 2
    assert "standard input is closed" in result.stderr and "Traceback" not in result.stderr
    assert live.reveal(site, "DB_PASSWORD") == "keep me"


def test_rm_with_stdin_closed_asks_for_yes_and_deletes_nothing(live: Live, site):
    live.put_secret(site, "KEY", "v")
    result = with_closed(live, site, "<&-", "rm", "KEY")
    assert result.returncode == 2 and "pass --yes" in result.stderr
    assert live.secret(site, "KEY").status_code == 200


def test_login_with_stdin_closed_stores_nothing(live: Live, site):
    result = with_closed(live, site, "<&-", "login")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "nothing was stored" in result.stderr


def test_a_closed_stderr_keeps_errors_out_of_stdout(live: Live, site):
    result = with_closed(live, site, "2>&-", "get", "MISSING")
    assert result.returncode == 1
    assert result.stdout == ""


def test_completion_with_stdout_closed_says_so_in_one_sentence(live: Live, site):
    result = with_closed(live, site, ">&-", "completion", "bash")
    assert (result.returncode, result.stderr) == (2, "sitesecrets: standard output is closed (>&-); nothing was done\n")


def test_completion_into_a_gone_reader_ends_quietly(live: Live, site):
    result = into_a_gone_reader(live, site, "completion", "bash")
    assert (result.returncode, result.stderr) == (SIGPIPE_STATUS, "")
