"""`sitesecrets run --watch`: stay as CMD's supervisor and start it again when its environment
changes. Standard library only, as the rest of `run`.

Three sources of events meet in one queue, read by the main thread alone: the signal handlers
(SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2), a thread per child that waits for it to
exit, and a thread that holds a waiting env fetch (`If-None-Match` + `Prefer: wait=60`) open.
`SimpleQueue.put` is reentrant, so a signal handler may call it, and the blocked `get` wakes for
it: nothing polls.

- A changed environment that is complete and acceptable, once it has stopped changing for
  `--settle` seconds (at most LONGEST_SETTLE after the first change): CMD's process group gets
  `--signal`, and `--grace` seconds for all of it to exit (the supervisor is a subreaper, so
  orphans of the group report their end to it), then the group SIGKILL, and CMD starts again
  with the newest environment (the load recorded just before). One that is not: CMD keeps the
  environment it has, and stderr says why, once.
- A forwarded signal: CMD's process group gets it (CMD and what it runs in the foreground, as from
  a terminal), and the supervisor exits with CMD's status once CMD has ended and the rest of its
  group too (given `--grace` seconds from CMD's end, then SIGKILL). SIGUSR1 and SIGUSR2 are
  passed on to CMD alone, and CMD runs on, watched as before.
- CMD exiting by itself: the supervisor exits with its status (128+N for signal N, as a shell
  says); starting it again is the job of the process manager above.
- The server out of reach: CMD keeps running, and stderr says so once (tui/watchfetch.py says
  when the fetch is tried again).
- The server refusing the watch (the token revoked or expired, the service deleted): CMD keeps
  running with the secrets it has, and stderr says once that it no longer follows changes and
  what resumes it: another token where its token came from (tui/watchfetch.py).
- As PID 1 (a container's entrypoint): the processes CMD's processes orphan are reaped.
- The supervisor killed outright (kill -9, the OOM killer): CMD dies with it (PR_SET_PDEATHSIG),
  and so does the rest of its process group (`tui.processes.GroupKeeper`).

CMD starts in a session of its own, so a terminal's Ctrl-C reaches the supervisor alone, which
forwards it once (in the terminal's group CMD would receive it twice).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace

from tui.credentials import TokenSource
from tui.envfetch import Prepared, RunError, Server, prepare, record_load
from tui.plain import spelled_out
from tui.processes import GroupKeeper, become_subreaper, die_with_this_process, group_alive, reap_orphans
from tui.retry import Retrier
from tui.startcheck import CannotStart, failed_start_status
from tui.watchfetch import REFUSED_RETRY, Changed, Reached, Refused, Resumed, TokenUnusable, Unreachable, watch_changes

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
PASSED_ON = (signal.SIGUSR1, signal.SIGUSR2)
"""Signals CMD gets as they come while it runs on and is watched (a server reopening its logs).
Left at their default, these and SIGQUIT (ctrl+\\) ended the supervisor and left CMD running
unsupervised, in a session of its own, with its secrets."""
LONGEST_SETTLE = 30.0
"""Seconds after the first of a run of changes when CMD is restarted even if they keep coming
(unless --settle itself is longer): a run of changes must not put a restart off for ever."""


@dataclass(frozen=True)
class Watch:
    """What `run --watch` was asked to do."""

    server: Server
    command: list[str]
    inherited: dict[str, str]
    allow_env: set[str]
    verbose: bool
    stop_signal: signal.Signals
    grace: float
    settle: float
    retry_seconds: float = 0.0  # the first start's retry budget (tui.retry); later ones keep CMD running instead
    token_source: TokenSource | None = None  # read again when the server refuses the token


# ----------------------------------------------------------------- the events the main thread reads
# (and those of the fetch thread, tui/watchfetch.py)


@dataclass(frozen=True)
class Signalled:
    signum: int


@dataclass(frozen=True)
class Exited:
    child: subprocess.Popen
    returncode: int


class Orphaned:
    """SIGCHLD while the supervisor reaps orphans (a subreaper, or PID 1): a process CMD's
    processes left behind may have ended."""


# ----------------------------------------------------------------- the threads that feed the queue
# (and the one that follows the environment, tui/watchfetch.py)


def await_exit(child: subprocess.Popen, events: queue.SimpleQueue) -> None:
    events.put(Exited(child, child.wait()))


def shell_status(returncode: int) -> int:
    """A child's status as a shell reports it: 128+N when signal N ended it."""
    return 128 - returncode if returncode < 0 else returncode


# ----------------------------------------------------------------- the supervisor


class Supervisor:
    """The main thread's state: the child, the start that waits for the environment to settle
    and the child to stop, and whether the supervisor is leaving (a signal was forwarded)
    rather than restarting."""

    def __init__(self, watch: Watch, events: queue.SimpleQueue, reaper: bool = False,
                 keeper: GroupKeeper | None = None) -> None:
        self.watch, self.events = watch, events
        self.reaper = reaper  # orphans come to this process, so it sees the old process group end
        self.child: subprocess.Popen | None = None
        self.running: dict[str, str] = {}  # the secrets of the running child
        self.latest: dict[str, str] = {}  # the secrets of the running or next start
        self.pending: Prepared | None = None
        self.changed_at: float | None = None  # the first change the pending start waits to settle
        self.stop_at: float | None = None  # when that start stops the child, if nothing changes meanwhile
        self.stopping = False
        self.draining = False  # stopped CMD has ended; what it left in its process group has not
        self.status: int | None = None  # the ended CMD's, while draining
        self.killed = False  # the grace is over and the group has had SIGKILL
        self.kill_at: float | None = None
        self.leaving = False
        self.said: str | None = None
        self.die_with = die_with_this_process()  # each CMD started ends with this supervisor
        self.keeper = keeper  # and so does its process group

    def run(self) -> int:
        """Supervise the started CMD; the status to exit with."""
        status = None
        while status is None:
            deadlines = [at for at in (self.stop_at, self.kill_at) if at is not None]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            try:
                event = self.events.get(timeout=timeout)
            except queue.Empty:
                status = self.on_deadline()
                continue
            status = self.handle(event)
        return status

    def on_deadline(self) -> int | None:
        now = time.monotonic()
        if self.stop_at is not None and now >= self.stop_at:
            self.stop()
        elif self.kill_at is not None and now >= self.kill_at:
            return self.kill()
        return None

    def handle(self, event: object) -> int | None:
        if isinstance(event, Signalled):
            if event.signum in PASSED_ON:
                self.signal_child(event.signum)
            else:
                self.forward(event.signum)
        elif isinstance(event, Exited):
            return self.on_exit(event)
        elif isinstance(event, Changed):
            self.on_change(event.payload)
        elif isinstance(event, Unreachable):
            self.say(f"{event.reason}; {self.name} keeps running, trying again")
        elif isinstance(event, Reached):
            self.say("the server answers again; watching for changes")
        elif isinstance(event, Refused):
            self.say(refused_sentence(self.watch, event.status, event.renewed))
        elif isinstance(event, Resumed):
            self.watch = replace(self.watch, server=event.server)  # loads are recorded with the token taken
            self.say("the server answers the watch again; following changes")
        elif isinstance(event, TokenUnusable):
            self.say(f"{event.reason}; {self.name} keeps running, not following changes")
        elif isinstance(event, Orphaned):
            reap_orphans(None if self.child is None else self.child.pid)
            if self.draining and not group_alive(self.child.pid):
                return self.drained()
        return None

    @property
    def name(self) -> str:
        return self.watch.command[0]

    def start(self, prepared: Prepared) -> int | None:
        """Record the load and start CMD; the status to exit with when it cannot start."""
        if prepared.versions is not None:
            # the first start may wait for a server restarting, as plain `run` does; a restart
            # may not: the signal handlers' events wait on this thread
            retrier = Retrier(self.watch.retry_seconds) if self.child is None else None
            try:
                record_load(self.watch.server, prepared.versions, retrier)
            except RunError as error:
                if self.child is None:  # the first start: refused as plain `run` refuses
                    raise
                # the old child is gone already: a service without its load recorded beats none
                self.say(f"{error}; starting {self.name} all the same")
        try:
            self.child = subprocess.Popen(self.watch.command, executable=prepared.program, env=prepared.env,
                                          start_new_session=True, preexec_fn=self.die_with)
        except OSError as error:
            tell(f"cannot start {self.name}: {error.strerror}")
            return failed_start_status(error)
        if self.keeper is not None:
            self.keeper.keep(self.child.pid)  # CMD leads a session, so its group has its pid
        self.latest = self.running = prepared.secrets
        threading.Thread(target=await_exit, args=(self.child, self.events), daemon=True).start()
        return None

    def on_change(self, payload: dict) -> None:
        if self.leaving:
            return
        watch = self.watch
        try:
            prepared = prepare(watch.command, watch.inherited, payload, watch.server.service,
                               watch.allow_env, watch.verbose)
        except (RunError, CannotStart) as error:
            self.say(f"{error}; {self.name} keeps running with the environment it has")
            return
        self.said = None
        if prepared.secrets == self.latest:  # a change CMD cannot see: a secret set to the value it had
            if self.pending is not None:
                self.pending = prepared  # the start under way records these newer versions
            elif prepared.versions is not None:
                self.record(prepared.versions)  # CMD has these values already: no restart, but loaded
            return
        self.latest, self.pending = prepared.secrets, prepared
        if self.stopping:  # a newer environment just replaces the pending one
            return
        if prepared.secrets == self.running:  # changed back before the restart: CMD has these values
            self.pending = self.changed_at = self.stop_at = None
            if prepared.versions is not None:
                self.record(prepared.versions)
            return
        # more changes often follow (an import, a user then its password): one restart, with all of them
        now = time.monotonic()
        self.changed_at = self.changed_at or now
        self.stop_at = min(now + watch.settle, self.changed_at + max(watch.settle, LONGEST_SETTLE))

    def stop(self) -> None:
        """The environment has settled: ask CMD to stop, for the pending start."""
        self.changed_at = self.stop_at = None
        self.stopping = True
        self.signal_group(self.watch.stop_signal)
        self.kill_at = time.monotonic() + self.watch.grace

    def on_exit(self, event: Exited) -> int | None:
        if event.child is not self.child:
            return None
        status = shell_status(event.returncode)
        if not self.leaving and (self.pending is None or not self.stopping):
            return status  # it ended by itself
        if self.reaper and not self.killed and group_alive(self.child.pid):
            # stopped, for a restart or for good: a script's shell ends at once, its program may
            # not. A new start beside it would find its port taken; the supervisor's exit would
            # leave it unsupervised. Its end comes as an Orphaned event, or the grace ends it (kill).
            self.draining, self.status = True, status
            if self.kill_at is None:  # a forwarded signal: the grace starts now
                self.kill_at = time.monotonic() + self.watch.grace
            return None
        return status if self.leaving else self.start_pending()

    def drained(self) -> int | None:
        """The stopped CMD's process group is gone: leave with CMD's status, or start the pending start."""
        return self.status if self.leaving else self.start_pending()

    def start_pending(self) -> int | None:
        if self.keeper is not None:
            self.keeper.release()  # the old group has ended (or is dying of SIGKILL): its id is free again
        prepared, self.pending, self.kill_at, self.stopping = self.pending, None, None, False
        self.draining = self.killed = False
        return self.start(prepared)

    def record(self, versions: list) -> None:
        try:
            record_load(self.watch.server, versions)
        except RunError as error:
            self.say(f"{error}; {self.name} keeps running")

    def forward(self, signum: int) -> None:
        """Pass a stop signal on to CMD's group, and leave once it has ended (up to the grace)."""
        self.leaving, self.pending, self.stop_at = True, None, None
        self.signal_group(signum)

    def signal_child(self, signum: int) -> None:
        if self.child is not None:
            self.child.send_signal(signum)  # does nothing once the child has been reaped

    def signal_group(self, signum: int) -> None:
        """`signum` to CMD's process group, as a terminal signals its foreground group: CMD and
        what it runs in it, such as a shell script's commands. A script's shell, killed at once by
        a TERM it does not trap, would otherwise leave its program running on, unsupervised, with
        the secrets, beside the one the next start begins."""
        if self.child is not None:
            try:
                os.killpg(self.child.pid, signum)  # CMD leads a session, so its group has its pid
            except ProcessLookupError:  # everyone in it has ended
                pass

    def kill(self) -> int | None:
        """The grace is over: SIGKILL, and wait for CMD's exit that follows; once CMD has ended,
        what it left is dying of SIGKILL, and nothing more is waited for."""
        self.kill_at, self.killed = None, True
        self.signal_group(signal.SIGKILL)
        return self.drained() if self.draining else None

    def say(self, sentence: str) -> None:
        """Tell stderr, once for as long as the same thing stays true."""
        if sentence != self.said:
            self.said = sentence
            tell(sentence)


def refused_sentence(watch: Watch, status: int, renewed: bool = False) -> str:
    """What a refusal of the watch means for CMD, and what resumes it; never the token itself."""
    service, site = watch.server.service, watch.server.site
    source = watch.token_source
    new_token = f"the new token in {source.where}" if renewed and source is not None else None
    why = {401: f"the server does not accept {new_token} either" if new_token
                else "the server no longer accepts the token (revoked or expired)",
           403: f"{new_token or 'the token'} may not read service {service}'s environment",
           404: f"the server knows no service {service} in site {site} any more"}.get(
        status, f"the server refuses the watch (HTTP {status})")
    minutes = f"{REFUSED_RETRY / 60:g} minutes"
    if source is not None and source.read is not None:
        again = f"asking again every {minutes}, and as soon as {source.where} holds another token"
    else:
        where = source.where if source is not None else "its token"
        again = f"asking again every {minutes} ({where} cannot change while it runs: start it again for another token)"
    return (f"{why}: {watch.command[0]} keeps running with the secrets it started with, but no longer "
            f"follows changes; {again}")


def tell(sentence: str) -> None:
    """One line on stderr. Its reader may have gone (`run --watch ... 2>&1 | logger`, the logger
    dead): the line is lost then, but the supervisor must not end over it and leave CMD alone."""
    try:
        print(f"sitesecrets run: {spelled_out(sentence)}", file=sys.stderr, flush=True)
    except OSError:  # and from now on nothing written to stderr (--verbose's lines too) can fail
        sys.stderr = open(os.devnull, "w", encoding="utf-8")


def supervise(watch: Watch, first: Prepared, etag: str) -> int:
    """Run CMD under supervision until it ends; its status. RunError when its first start is refused."""
    events: queue.SimpleQueue = queue.SimpleQueue()
    for signum in FORWARDED + PASSED_ON:
        signal.signal(signum, lambda number, _frame: events.put(Signalled(number)))
    # a container's entrypoint (PID 1), or a subreaper: the orphans of CMD's processes are ours to reap
    reaper = become_subreaper() or os.getpid() == 1
    if reaper:
        signal.signal(signal.SIGCHLD, lambda _number, _frame: events.put(Orphaned()))
    # started before CMD, so there is no moment CMD's group would outlive a killed supervisor; an
    # orderly end, an exception included, closes it without killing anything
    keeper = GroupKeeper()
    try:
        supervisor = Supervisor(watch, events, reaper, keeper)
        status = supervisor.start(first)
        if status is not None:
            return status
        threading.Thread(target=watch_changes, args=(watch.server, etag, events, watch.token_source), daemon=True).start()
        return supervisor.run()
    finally:
        keeper.close()
