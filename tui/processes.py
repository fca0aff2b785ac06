"""What `run --watch` asks of the kernel about the processes it supervises: that CMD die with the
supervisor (PR_SET_PDEATHSIG), and its whole process group too (`GroupKeeper`), that the orphans
of CMD's processes come to the supervisor (PR_SET_CHILD_SUBREAPER) to be reaped there, and
whether a process group has anyone left. Linux's prctl and /proc; where they are missing, each
says so and does nothing. Standard library only, as the rest of `run`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Callable

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Have the processes CMD's processes orphan reparented to this process rather than to init
    (Linux's PR_SET_CHILD_SUBREAPER), so their ends reach it as SIGCHLD: the supervisor can then
    tell when what a stopped CMD left in its process group is gone. False where it cannot."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def die_with_this_process() -> Callable[[], None] | None:
    """A `preexec_fn` that asks the kernel to SIGKILL the child when this process ends (Linux's
    PR_SET_PDEATHSIG), or None where there is no prctl. A supervisor killed with SIGKILL (the OOM
    killer, `kill -9`) forwards nothing: without it CMD would run on, unsupervised, with the
    secrets in its environment, beside the one the process manager starts next. The request
    follows the thread that forks, the main thread here, which lives as long as the supervisor.
    prctl is looked up here, before any fork: the child only calls it."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    supervisor = os.getpid()

    def in_the_child() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
        if os.getppid() != supervisor:  # it ended before the request took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return in_the_child


KEEPER_NAME = "sitesecrets-run-watch-keeper"
"""The keeper's last argument, so `ps` shows what it is."""
_KEEPER = """
import os, signal, sys
group = 0
for line in sys.stdin.buffer:  # the group to end, or 0, each time it changes
    group = int(line)
if group:  # the pipe ended without a last 0: the supervisor is gone, and CMD's group is left
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
"""


class GroupKeeper:
    """A small process that SIGKILLs CMD's process group when the supervisor dies without saying
    goodbye (kill -9, the OOM killer), so nothing CMD started runs on unsupervised with its secrets.

    PR_SET_PDEATHSIG ends CMD itself, but not what CMD runs: the program a script runs in the
    foreground, or what it started and left, are in CMD's process group and are not this
    process's children; the kernel clears PDEATHSIG in every fork, and a dead supervisor can
    signal nobody. So a process that outlives it does it: it holds the read end of a pipe whose
    only write end is the supervisor's, and the end of the pipe, which the kernel makes happen
    however the supervisor ends, is its cue. It is a fresh interpreter (`-I -S`, empty
    environment) rather than a fork: it holds no token and no value, and forking a process with
    threads running is unsafe. It runs in a session of its own, so a signal to the supervisor's
    group or terminal does not end it first, and with nothing open but the pipe, so it keeps no
    reader of the supervisor's stdout or stderr waiting.

    The supervisor tells it each new group (`keep`), and 0 once the group it told has ended or on
    an orderly exit (`release`, `close`): a process group id may be taken again by an unrelated
    process once the group is gone, and must then not be killed."""

    def __init__(self) -> None:
        self._write: int | None = None
        self.pid: int | None = None
        read, write = os.pipe()  # neither end inheritable: CMD never holds the write end
        try:
            self.pid = subprocess.Popen([sys.executable, "-I", "-S", "-c", _KEEPER, KEEPER_NAME], stdin=read, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env={}, start_new_session=True).pid
        except OSError:
            os.close(write)  # no keeper: PDEATHSIG still ends CMD itself
        else:
            self._write = write
        finally:
            os.close(read)

    def keep(self, pgid: int) -> None:
        """Kill process group `pgid` if this process dies before `release` or `close`."""
        if self._write is None:
            return
        try:
            os.write(self._write, f"{pgid}\n".encode())  # a few bytes: one atomic write to a pipe
        except OSError:  # the keeper has been killed: PDEATHSIG still ends CMD itself
            os.close(self._write)
            self._write = None

    def release(self) -> None:
        """The group last kept has ended: nothing to kill."""
        self.keep(0)

    def close(self) -> None:
        """An orderly exit: release, and let the keeper end without killing anything."""
        self.release()
        if self._write is not None:
            os.close(self._write)
            self._write = None


def group_alive(pgid: int) -> bool:
    """Whether any process of process group `pgid` is left (a zombie not reaped yet counts)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # there is one, if not ours to signal
        return True
    return True


def reap_orphans(child: int | None) -> None:
    """Reap every child that has ended but CMD (`child`, which its own thread waits for). As PID 1
    of a container the supervisor is the parent of every process CMD's processes orphan, and one
    it does not reap stays a zombie, a slot of the process table, until the container ends."""
    for pid in children_of_this_process():
        if pid != child:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # reaped meanwhile
                pass


def children_of_this_process() -> list[int]:
    """The pids of this process's children, from every thread (Linux's /proc; none elsewhere)."""
    found: list[int] = []
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children", encoding="ascii") as file:
                found += [int(pid) for pid in file.read().split()]
        except OSError:  # the thread has ended
            pass
    return found
