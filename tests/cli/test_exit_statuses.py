"""The exit statuses a cron job, a CI deploy or a systemd unit decides by (README, "Exit
statuses"): 0 done, 1 refused (the server answered no, and asking again will not change that),
2 a usage error, 75 (sysexits' EX_TEMPFAIL) the server could not be reached or said it cannot
serve just now, so the same command may well succeed later.

The commands run in this process (`tui.cli.main`) against a real server on a unix socket, which
the tests stop and start again on the same socket, as an operator's restart would."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import pytest

from cli_helpers import Live, RecordingProxy
from tui import cli, run

REFUSED, USAGE, TEMPORARY = 1, 2, 75

Sitesecrets = Callable[..., tuple[int, str]]


@pytest.fixture
def sitesecrets(live: Live, site: str, monkeypatch, capsys) -> Sitesecrets:
    """`sitesecrets(*args, token=admin)`: run the command in this process as a script would;
    (exit status, stderr)."""

    def run(*args: str, token: str | None = None, url: str | None = None) -> tuple[int, str]:
        monkeypatch.setenv("SITESECRETS_URL", url or live.url)
        monkeypatch.setenv("SITESECRETS_TOKEN", token or live.admin_token)
        monkeypatch.setenv("SITESECRETS_SITE", site)
        capsys.readouterr()
        status = cli.main(list(args))
        return status, capsys.readouterr().err

    return run


@pytest.fixture
def stopped(live: Live):
    """The module's server, stopped for the test and started again (same socket) after it."""
    live.stop_server()
    yield live
    live.start_server()


def test_a_stopped_server_exits_75_so_a_script_knows_to_try_again(sitesecrets, stopped):
    status, said = sitesecrets("ls")
    assert status == TEMPORARY
    assert "no server socket" in said and "Traceback" not in said


@pytest.mark.parametrize("args", [["get", "NOPE"], ["versions", "NOPE"], ["services", "show", "nope"]])
def test_what_the_server_refuses_exits_1(sitesecrets, args):
    status, said = sitesecrets(*args)
    assert status == REFUSED and said.startswith("sitesecrets: ")


def test_a_write_the_server_refuses_exits_1_and_changes_nothing(live, site, sitesecrets):
    live.put_secret(site, "TAKEN", "first")
    status, said = sitesecrets("set", "TAKEN", "--from-file", "/dev/null", "--allow-empty", "--expected-version", "7")
    assert status == REFUSED
    assert live.reveal(site, "TAKEN") == "first"


def test_a_token_the_server_rejects_exits_1(sitesecrets):
    assert sitesecrets("ls", token="ss_" + "x" * 43)[0] == REFUSED


def test_a_role_that_may_not_exits_1(live, site, sitesecrets):
    assert sitesecrets("audit", "ls", token=live.mint("viewer", site))[0] == REFUSED


def test_a_usage_error_still_exits_2_even_with_the_server_stopped(sitesecrets, stopped):
    status, said = sitesecrets("ls", "--app", "")
    assert status == USAGE and "--app" in said


@pytest.fixture
def front(live: Live):
    """A relay in front of the module's server that can answer 503 for it (cli_helpers.RecordingProxy)."""
    relay = RecordingProxy(live.url)
    yield relay
    relay.close()


def test_a_write_answered_503_exits_75_and_is_not_sent_again(live, site, sitesecrets, front):
    live.put_secret(site, "GONE", "v")
    front.unavailable(1, method="DELETE")
    status, said = sitesecrets("rm", "GONE", "--yes", url=front.url)
    assert status == TEMPORARY and "cannot serve just now" in said
    assert [method for method, _, _ in front.requests].count("DELETE") == 1
    assert live.secret(site, "GONE").status_code == 200


# ----------------------------------------------------------------- `run`, before it execs


@dataclass
class Started:
    """What `run` exec'd in this process's place (nothing, when it did not start the command)."""

    argv: list[str] | None = None
    env: dict[str, str] | None = None


@pytest.fixture
def run_here(live: Live, site: str, monkeypatch, capsys) -> Callable[..., tuple[int, str, Started]]:
    """`run_here(*options, url=...)`: `sitesecrets run --service api OPTIONS -- true` in this
    process with a service token of `api` (binding API_KEY); (status, stderr, what was exec'd).
    exec itself would replace the test, so it is the one thing not real: it is recorded instead."""
    live.put_secret(site, "API_KEY", "k1")
    live.new_service(site, "api", None, [{"name": "API_KEY"}])
    token = live.mint("service", site, "api")
    started = Started()

    def execve(program: str, argv: list[str], env: dict[str, str]) -> None:
        started.argv, started.env = argv, env

    monkeypatch.setattr(os, "execve", execve)
    monkeypatch.setattr(run, "forbid_dumping", lambda: None)  # the test process stays debuggable
    monkeypatch.setattr(run, "restore_default_signals", lambda: None)  # pytest keeps Python's SIGPIPE

    def go(*options: str, url: str | None = None) -> tuple[int, str, Started]:
        monkeypatch.setenv("SITESECRETS_URL", url or live.url)
        monkeypatch.setenv("SITESECRETS_TOKEN", token)
        monkeypatch.setenv("SITESECRETS_SITE", site)
        capsys.readouterr()
        status = cli.main(["run", "--service", "api", *options, "--", "true"])
        return status, capsys.readouterr().err, started

    return go


def test_run_starts_the_command_when_the_server_answers(run_here):
    status, _, started = run_here()
    assert status == 0 and started.argv == ["true"] and started.env["API_KEY"] == "k1"


def test_run_against_a_stopped_server_exits_75_and_starts_nothing(run_here, stopped):
    status, said, started = run_here()
    assert status == TEMPORARY and started.argv is None
    assert "no server socket" in said and "not started" in said


def test_run_whose_fetch_is_answered_503_exits_75_and_starts_nothing(run_here, front):
    front.unavailable(1, retry_after=None)
    status, said, started = run_here(url=front.url)
    assert status == TEMPORARY and started.argv is None


def test_run_whose_load_cannot_be_recorded_for_now_exits_75_and_starts_nothing(live, site, run_here, front):
    front.unavailable(1, method="POST", retry_after=None)
    status, said, started = run_here(url=front.url)
    assert status == TEMPORARY and started.argv is None and "cannot record the load" in said
    assert live.service(site, "api")["loaded_at"] is None


def test_run_of_a_service_the_server_does_not_know_exits_1(run_here):
    status, said, started = run_here("--service", "nope")
    assert status == REFUSED and started.argv is None
