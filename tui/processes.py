"""What `run --watch` asks of the kernel about the processes it supervises: that CMD die with the
supervisor (PR_SET_PDEATHSIG), that the orphans of CMD's processes come to the supervisor
(PR_SET_CHILD_SUBREAPER) to be reaped there, and whether a process group has anyone left.
Linux's prctl and /proc; where they are missing, each says so and does nothing. Standard library
only, as the rest of `run`.
"""

from __future__ import annotations

import os
import signal
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
