"""The zygote of the command-line tests (`forkserver.py`): a child forked from it is indistinguishable,
to the child and to the test, from a new interpreter started with the same argv, environment,
directory and stdio. Each test runs `zygote_probe` both ways and compares."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

import cli_helpers
from cli_helpers import base_env, run_text
from forkserver import ForkServer, ForkServerBroken
from waiting import wait_until

HERE = Path(__file__).resolve().parent


@pytest.fixture
def zygote() -> Iterator[ForkServer]:
    server = ForkServer(HERE, module="zygote_probe", warm=["json"])
    yield server
    server.stop()


def forked(zygote: ForkServer, *args: str, input: bytes | None = None, env: dict[str, str] | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess:
    result = zygote.run(list(args), env or base_env(ONLY_HERE="1"), HERE, input, timeout)
    assert result is not None, zygote.broken
    return result


def started(*args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zygote_probe", *args], cwd=HERE, env=env or base_env(ONLY_HERE="1"),
                          capture_output=True, input=input, stdin=subprocess.DEVNULL if input is None else None,
                          timeout=60)


def same(a: subprocess.CompletedProcess, b: subprocess.CompletedProcess) -> bool:
    return (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)


@pytest.mark.parametrize("status", [0, 1, 2, 75])
def test_exit_status_comes_back(zygote, status):
    result = forked(zygote, "exit", str(status))
    assert result.returncode == status
    assert same(result, started("exit", str(status)))


def test_exit_with_text_prints_it_and_is_1_as_the_interpreter_does(zygote):
    result = forked(zygote, "exit-text", "sitesecrets: no")
    assert (result.returncode, result.stderr) == (1, b"sitesecrets: no\n")
    assert same(result, started("exit-text", "sitesecrets: no"))


def test_uncaught_exception_is_a_traceback_and_1(zygote):
    result = forked(zygote, "raise", "boom")
    assert result.returncode == 1 and result.stderr.endswith(b"ValueError: boom\n")
    assert result.stderr == started("raise", "boom").stderr


def test_output_bytes_are_exact(zygote):
    result = forked(zygote, "bytes")
    assert (result.stdout, result.stderr) == (b"a\r\nb\rc\n\xff\x00", b"e\r\n")
    assert same(result, started("bytes"))


def test_input_reaches_stdin_and_no_input_is_an_empty_stdin(zygote):
    assert forked(zygote, "echo", input=b"line\r\n\x00").stdout == b"line\r\n\x00"
    assert forked(zygote, "echo").stderr == b"0\n"


def test_large_output_on_both_streams_does_not_block(zygote):
    result = forked(zygote, "write", str(1 << 20))
    assert (len(result.stdout), len(result.stderr), result.returncode) == (1 << 20, 1 << 20, 0)


def test_child_sees_what_a_new_interpreter_sees(zygote):
    """Environment exactly as given (nothing of this process's, such as PYTEST_XDIST_WORKER or
    the zygote's), descriptors 0-2 only, signal dispositions, stdio, argv, sys.path[0]."""
    mine, theirs = json.loads(forked(zygote, "state").stdout), json.loads(started("state").stdout)
    assert mine == theirs
    assert mine["env"] == base_env(ONLY_HERE="1")
    assert len(mine["fds"]) == 4  # 0, 1, 2 and the one listing them


def test_umask_is_the_callers(zygote):
    before = os.umask(0o077)
    try:
        assert json.loads(forked(zygote, "state").stdout)["umask"] == 0o077
    finally:
        os.umask(before)


def test_timeout_kills_the_child(zygote):
    with pytest.raises(subprocess.TimeoutExpired) as expired:
        forked(zygote, "pid-then-wait", timeout=2)
    pid = int(expired.value.output)
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped before the exception


def test_another_locale_is_left_to_a_new_interpreter(zygote):
    forked(zygote, "exit", "0")
    assert zygote.run(["exit", "0"], base_env(LANG="en_US.UTF-8"), HERE, None, 60) is None
    assert zygote.broken is None


def test_run_text_forks_tui_cli_and_falls_back_for_another_locale(monkeypatch):
    for env in (base_env(), base_env(LANG="C", PYTHONIOENCODING="latin-1")):
        result = run_text([sys.executable, "-m", "tui.cli", "--help"], env=env)
        assert result.returncode == 0 and result.stdout.startswith("usage: sitesecrets")
        assert result.stderr == ""
    assert cli_helpers.zygote().broken is None


def test_a_dead_zygote_is_reported_and_its_requests_go_to_new_interpreters(zygote):
    forked(zygote, "exit", "0")
    zygote._proc.kill()
    zygote._proc.wait()
    with pytest.warns(ForkServerBroken, match="exited"):
        assert zygote.run(["exit", "3"], base_env(), HERE, None, 60) is None
    assert zygote.broken


def test_zygote_gone_while_its_child_runs_is_an_error_and_the_child_is_killed(zygote):
    forked(zygote, "exit", "0")
    failures: list[BaseException] = []

    def request() -> None:
        try:
            forked(zygote, "pid-then-wait")
        except BaseException as error:
            failures.append(error)

    waiting = threading.Thread(target=request)
    waiting.start()
    children = wait_until(lambda: children_of(zygote._proc.pid), "the zygote's child")
    zygote._proc.kill()  # the child goes on; its status can no longer come
    waiting.join(60)
    assert len(failures) == 1 and isinstance(failures[0], RuntimeError) and "went away" in str(failures[0])
    wait_until(lambda: all(gone(pid) for pid in children), "the killed child gone")


def children_of(pid: int) -> list[int]:
    return [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()]


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_child_that_cannot_take_the_request_is_an_error_not_a_status(zygote):
    with pytest.raises(RuntimeError, match="could not take the request"):
        forked(zygote, "exit", "0", env=base_env(BAD="a\0b"))  # a new interpreter cannot have it either
    assert forked(zygote, "exit", "3").returncode == 3
