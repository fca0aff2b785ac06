"""Every command answers `--help` with exit 0, and a command line that can't be done as asked
exits 2 with a message on stderr, before anything is sent."""

from __future__ import annotations

import pytest

COMMANDS = [
    [], ["run"], ["ls"], ["get"], ["set"], ["rm"], ["import"], ["export"],
    ["services"], ["services", "ls"], ["services", "show"], ["services", "create"], ["services", "bind"],
    ["services", "unbind"], ["services", "rm"],
    ["token"], ["token", "create"], ["token", "ls"], ["token", "revoke"],
    ["apps"], ["apps", "ls"], ["apps", "create"], ["apps", "set"],
    ["versions"], ["rollback"], ["trash"], ["trash", "ls"], ["trash", "restore"], ["trash", "purge"],
    ["sites"], ["sites", "ls"], ["sites", "create"], ["sites", "set"], ["sites", "rm"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "sitesecrets")
def test_every_command_has_help(cli, command):
    result = cli(*command, "--help", url="http://127.0.0.1:9")  # help never contacts the server
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ")
    assert result.stderr == ""


@pytest.mark.parametrize("argv", [
    ["get"],
    ["set"],
    ["set", "NAME", "the-value-as-an-argument"],
    ["rm"],
    ["ls", "--bogus"],
    ["import"],
    ["export", "--format", "xml"],
    ["services"],
    ["services", "bind", "api"],
    ["services", "frobnicate"],
    ["token", "create", "--name", "x"],
    ["token", "create", "--name", "x", "--role", "root"],
    ["apps", "set", "web"],
    ["apps", "create", "web", "--site-secrets", "maybe"],
    ["sites", "rm"],
    ["sites", "set", "shop"],
    ["sites", "set", "shop", "--max-secrets", "many"],
    ["sites", "create", "shop", "--token-name", "first"],
    ["set", "N", "--expected-version", "two"],
    ["run", "--site", "s", "--", "true"],
    ["run", "--service", "api", "true"],
    ["run", "--service", "api", "--"],
    ["run", "--service", "api", "--no-such-option", "--", "true"],
    ["versions"],
    ["rollback", "NAME"],
    ["rollback", "NAME", "--to", "two"],
    ["trash"],
    ["trash", "restore"],
    ["trash", "purge"],
    ["trash", "empty"],
    ["get", "NAME", "--version", "latest"],
    ["get", "NAME", "--version", "0"],
    ["rollback", "NAME", "--to", "0"],
    ["rollback", "NAME", "--to", "1", "--expected-version", "-1"],
    ["ls", "--due", "soon"],
    ["set", "NAME", "--generate", "--length", "many"],
], ids=" ".join)
def test_usage_errors_exit_2(cli, argv):
    result = cli(*argv, url="http://127.0.0.1:9")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.strip() and result.stdout == ""


def test_no_token_is_a_usage_error(cli):
    result = cli("ls", env={"SITESECRETS_TOKEN": ""})
    assert result.returncode == 2 and "token" in result.stderr


def test_a_url_that_is_not_a_server_url_is_a_usage_error(cli):
    result = cli("ls", url="ftp://example.org")
    assert result.returncode == 2 and "ftp://example.org" in result.stderr


def test_plain_http_to_another_host_is_refused_before_the_token_is_sent(cli):
    result = cli("ls", url="http://example.org")
    assert result.returncode == 2 and "--insecure" in result.stderr


def test_unreachable_server_exits_75_with_a_clear_message(cli):
    result = cli("ls", url="http://127.0.0.1:9", env={"SITESECRETS_RETRY_SECONDS": "0"})  # retries: test_exit_statuses
    assert result.returncode == 75 and "127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_help_says_what_url_is_as_every_command_does(cli):
    result = cli("run", "--help", url="http://127.0.0.1:9")
    assert "server URL (env SITESECRETS_URL)" in " ".join(result.stdout.split())


def test_run_help_explains_watch_signal_and_grace(cli):
    result = cli("run", "--help", url="http://127.0.0.1:9")
    assert result.returncode == 0, result.stderr
    for option in ("--watch", "--signal", "--grace"):
        assert option in result.stdout
    assert "TERM" in result.stdout and "10" in result.stdout


def test_audit_ls_help_says_each_filter_takes_a_prefix(cli):
    """README: `--action`, `--target`, `--actor` exact or a prefix ending in `*`; the server takes
    `actor=deploy-*` as it takes the others, but `--actor`'s help said only 'a token name'."""
    import argparse

    from tui.cli import build_parser

    audit = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["audit"]
    ls = next(a for a in audit._actions if isinstance(a, argparse._SubParsersAction)).choices["ls"]
    helps = {a.dest: a.help for a in ls._actions}
    assert [f for f in ("action", "target", "actor") if "prefix ending in *" not in helps[f]] == []
