"""A command of `sitesecrets` holding a value or a token leaves no core file when it is killed by a
signal whose default action is a dump (ctrl+\\ is SIGQUIT), however much the host lets it dump: a
core file would hold what it had read. The process is made not dumpable, which `execve` undoes, so
what `run` starts keeps its own say."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import REPO, base_env
from waiting import wait_until


def _allowing_core_dumps() -> None:
    """`preexec_fn`: the most the host lets a process dump (`ulimit -c unlimited`, `LimitCORE=`),
    and the dumping signals at their default: a job a non-interactive shell starts with `&` (a CI
    runner's, say) has SIGQUIT ignored, and exec keeps an ignored signal ignored."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    for signum in (signal.SIGQUIT, signal.SIGABRT):
        signal.signal(signum, signal.SIG_DFL)


def _reading_stdin(pid: int) -> bool:
    """Whether the process is blocked reading its stdin pipe (only once there can it be holding
    what was piped to it so far)."""
    try:
        return "pipe_read" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGQUIT, signal.SIGABRT], ids=["SIGQUIT", "SIGABRT"])
def test_set_killed_while_reading_a_value_leaves_no_core_file(tmp_path, signum):
    cwd = tmp_path / "cwd"  # where a core_pattern of "core" (the kernel's default) puts the file
    cwd.mkdir()
    env = base_env(SITESECRETS_URL="http://127.0.0.1:9", SITESECRETS_TOKEN="ss_" + "c" * 43, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "set", "CANARY", "--site", "s"], cwd=cwd, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=_allowing_core_dumps)
    try:
        proc.stdin.write(b"core-dump-canary-")  # part of a value; the rest never comes
        proc.stdin.flush()
        wait_until(lambda: _reading_stdin(proc.pid), "the value being read")
        proc.send_signal(signum)
        assert proc.wait(60) == -signum
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(60)
        proc.stdin.close()
    dumped = [path.name for path in cwd.iterdir()]
    assert dumped == [], dumped
