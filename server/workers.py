"""`serve --workers N`: N forked worker processes on one listening socket, and their supervisor.

The parent binds the socket and holds the server lock, then forks the workers one at a time, each
once the one before has said it is ready (so the first opens, and if need be migrates, the
database alone). Before forking it opens no store and starts no thread: a forked child keeps only
the thread that forked, so a lock another thread held would stay held in it for ever, and a
database connection must not be shared by two processes. Each worker opens its own store (its own
connections and writer thread), serves, and on SIGTERM drains and exits.

The parent:
- reports ready (`on_ready`) once every worker is; a worker that fails before it is ready (a
  wrong key, no database) stops the start: the others are stopped and its exit status is the
  parent's (the worker said why, on stderr);
- replaces a worker that dies after that (kill -9, a crash), and logs it;
- on SIGTERM or SIGINT closes its copy of the socket, forwards SIGTERM to every worker, waits for each to finish its in-flight
  requests and exit, and returns 0.
A worker is killed with its parent (Linux's `PR_SET_PDEATHSIG`): a supervisor killed outright takes
its workers along, as a single process would go, instead of leaving them serving unsupervised.
"""

from __future__ import annotations

import ctypes
import logging
import mmap
import os
import signal
import struct
import sys
import traceback
from typing import Callable

log = logging.getLogger("sitesecrets.server")

_PR_SET_PDEATHSIG = 1
StartWorker = Callable[[int], int]
"""Runs in a new worker: serves, writing one byte to the given descriptor once it is ready; returns
the worker's exit status."""


class Balance:
    """How many connections each worker holds, in memory the parent and its workers share.

    Every worker's accept loop wakes for a new connection and the first to call accept wins it,
    so connections pile onto whichever worker the scheduler runs first (16 keep-alive
    connections split 13 to 3 in a trial); the busier worker then sets the pace and the p99. With
    this, a worker holding more connections than another declines to accept (`may_accept`) and
    the less busy one takes the connection, so the split stays within one. A slot is -1 while its
    worker is not running, and is then left out, so no one waits for a worker being replaced.
    """

    def __init__(self, slots: int) -> None:
        self._slots = slots
        self._memory = mmap.mmap(-1, 8 * slots)  # anonymous and shared: inherited across fork
        self.slot = -1
        for slot in range(slots):
            self.vacate(slot)

    def vacate(self, slot: int) -> None:
        struct.pack_into("q", self._memory, 8 * slot, -1)

    def hold(self, connections: int) -> None:
        """This worker (`slot`) now holds `connections` connections."""
        struct.pack_into("q", self._memory, 8 * self.slot, connections)

    def may_accept(self) -> bool:
        counts = struct.unpack_from(f"{self._slots}q", self._memory)
        mine = counts[self.slot]
        return all(mine <= count for count in counts if count >= 0)


class Supervisor:
    """Start `count` workers with `start_worker`, keep `count` running, stop them on a signal."""

    def __init__(self, count: int, start_worker: StartWorker, on_stop: Callable[[], None] = lambda: None,
                 balance: Balance | None = None) -> None:
        """`on_stop` runs once stopping begins: the parent closes its copy of the listening socket
        there, so that new connections are refused as soon as the workers have closed theirs.
        `balance`: the workers' shared connection counts; each worker's slot is set before it starts."""
        self._balance = balance
        self._slots: dict[int, int] = {}  # worker pid -> its slot in `balance`
        self._count = count
        self._start_worker = start_worker
        self._on_stop = on_stop
        self._pid = os.getpid()
        self._workers: set[int] = set()
        self._starting: int | None = None
        self._stopping = False

    def run(self, on_ready: Callable[[], None]) -> int:
        """Serve until stopped by a signal (0), or until a worker fails to start (its status)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        signal.signal(signal.SIGHUP, self._forward)  # logrotate's "reopen your files": the workers hold them
        for slot in range(self._count):
            failed = None if self._stopping else self._fork(slot)
            if failed is not None:
                self._stop(signal.SIGTERM, None)
                self._reap_all()
                return failed
        if not self._stopping:
            on_ready()
        return self._supervise()

    def _supervise(self) -> int:
        while self._workers:
            pid, status = os.waitpid(-1, 0)  # retried after a signal's handler (PEP 475)
            if pid not in self._workers:
                continue
            self._workers.discard(pid)
            slot = self._slots.pop(pid)
            if self._balance is not None:
                self._balance.vacate(slot)
            if self._stopping:
                continue
            log.warning("worker pid %d %s; starting another", pid, _how(status))
            failed = self._fork(slot)
            if failed is not None:
                log.error("the new worker could not start; stopping the server")
                self._stop(signal.SIGTERM, None)
                self._reap_all()
                return failed
        return 0

    def _reap_all(self) -> None:
        while self._workers:
            pid, _ = os.waitpid(-1, 0)
            self._workers.discard(pid)

    def _forward(self, signum: int, frame: object) -> None:
        if os.getpid() != self._pid:
            return
        for pid in list(self._workers):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def _stop(self, signum: int, frame: object) -> None:
        if os.getpid() != self._pid:
            return  # a worker just forked, before it set its own handlers: not the supervisor's business
        if not self._stopping:
            self._stopping = True
            self._on_stop()
        for pid in [*self._workers, *([self._starting] if self._starting else [])]:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def _fork(self, slot: int) -> int | None:
        """Start one worker and wait until it is ready: None, or the exit status it failed with."""
        ready, announce = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready)
            if self._balance is not None:
                self._balance.slot = slot
            self._become_worker(announce)
        os.close(announce)
        self._starting = pid
        try:
            said = _read_byte(ready)
        finally:
            os.close(ready)
            self._starting = None
        if said:
            self._workers.add(pid)
            self._slots[pid] = slot
            if self._stopping:  # the stop came between the fork and `_starting`: it missed this one
                os.kill(pid, signal.SIGTERM)
            return None
        _, status = os.waitpid(pid, 0)
        if self._stopping:  # stopped by us while starting: not a failure
            return None
        return max(1, os.waitstatus_to_exitcode(status))

    def _become_worker(self, announce: int) -> None:
        """The worker's whole life; never returns into the parent's code."""
        status = 1
        try:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, signal.SIG_DFL)  # until the worker's server sets its own
            die_with(self._pid)
            status = self._start_worker(announce)
        except BaseException:  # noqa: BLE001 - a worker must end here whatever happens
            traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:  # None: closed before the start (`>&-`)
                    stream.flush()
            os._exit(status)  # not the parent's cleanup (its `finally` blocks, atexit, buffers)


def die_with(parent: int) -> None:
    """Ask the kernel to kill this process when `parent` ends (Linux; elsewhere nothing to ask)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it ended before the request took effect
        os._exit(1)


def _read_byte(fd: int) -> bool:
    """Whether a byte came before the end of the pipe (a worker that died says nothing)."""
    return os.read(fd, 1) != b""


def _how(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    return f"was killed by signal {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
