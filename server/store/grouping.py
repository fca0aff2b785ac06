"""The queue both stores' group commits are fed from: callers queue a `Job` and wait on it; one
thread takes each `group` of jobs queued at that moment and settles them with one commit.

SQLite's writer takes every write this way (`sqlite.py`), PostgreSQL's recorder the audited
reads (`postgres.py`); what a group's commit does, and what one failure in it does, is each
store's own.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable

MAX_GROUP = 128
"""Jobs settled by one commit at the most."""



class Job:
    """One queued write. `done` is a plain lock held until the commit carrying it is settled:
    releasing a lock costs the committing thread far less than `Event.set`, which a GIL profile
    showed taking a fifth of SQLite's writer's time."""

    __slots__ = ("fn", "done", "result", "error")

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self.done = threading.Lock()
        self.done.acquire()
        self.result: Any = None
        self.error: BaseException | None = None

    def wait(self) -> Any:
        """Block until settled; the result, or raise what the write raised."""
        self.done.acquire()
        if self.error is not None:
            raise self.error
        return self.result


def submit(jobs: "queue.SimpleQueue[Job | None]", fn: Callable[[Any], Any]) -> Any:
    """Queue `fn` and wait until the commit carrying it is settled: its result, or what it raised."""
    job = Job(fn)
    jobs.put(job)
    return job.wait()


def take_group(jobs: "queue.SimpleQueue[Job | None]", first: Job) -> list[Job]:
    """`first` and the jobs queued behind it, up to `MAX_GROUP`. A None (stop) met on the way is
    put back, so this group is settled and the taking thread then stops."""
    taken = [first]
    while len(taken) < MAX_GROUP:
        try:
            more = jobs.get_nowait()
        except queue.Empty:
            break
        if more is None:
            jobs.put(None)
            break
        taken.append(more)
    return taken
