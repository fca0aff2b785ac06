"""`ApiCaller`: how widgets and screens call the server without blocking the event loop.

`call_api` runs a client method in a thread worker; the result comes back on the event loop
through the worker's `StateChanged` message and is handed to the caller's `done` callback. Every
failure goes to one place, `SiteSecretsApp.handle_api_error`, unless the caller's
`on_api_error` claims it first (a form keeps its fields and marks the field at fault). A call
still running after 200 ms shows progress in the header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from rich.text import Text
from textual.worker import Worker, WorkerState

from tui.client import ApiError, ServerUnreachable
from tui.display import safe_text

PROGRESS_AFTER = 0.2
"""Seconds before a call counts as slow and the header shows that it is working."""

TOKEN_REFUSED = "the server no longer accepts this token (revoked or expired)"
LOGIN_AGAIN = "In a shell run sitesecrets login, then start sitesecrets again."
"""What to do about a refused token: `sitesecrets login` (tui/scripting/account.py) stores a new one."""


NOT_NOW_STATUSES = frozenset({429, 502, 503, 504})


def not_now(error: BaseException) -> bool:
    """True for an answer about the server's state rather than the request (its database away,
    too busy): the same call may work in a moment. Not a changed master key (503 too), which
    lasts until someone restarts the server."""
    return (isinstance(error, ApiError) and error.status in NOT_NOW_STATUSES
            and error.code != "master_key_changed")


def token_refused(error: BaseException) -> bool:
    """True for the server's 401: the token was revoked or has expired. No retry, form or dialog
    can do anything about it; only a new token can."""
    return isinstance(error, ApiError) and error.status == 401


@dataclass
class _Call:
    """A call still running: what to do with its result, and whether the header counts it as slow
    (kept here, not on the Worker: a Textual object is not ours to add attributes to)."""

    done: Callable[[Any], None] | None
    failed: Callable[[BaseException], None] | None = None
    slow: bool = False


class ApiCaller:
    """Mix into a Widget or Screen (before it in the bases) to get `call_api`."""

    def call_api(
        self,
        fn: Callable[..., Any],
        *args: Any,
        group: str,
        done: Callable[[Any], None] | None = None,
        exclusive: bool = True,
        failed: Callable[[BaseException], None] | None = None,
    ) -> Worker:
        """Run `fn(*args)` in a thread; `done(result)` on success; on failure `failed(error)` (if
        given: what the caller shows in place of the result) and then the error is reported. A
        newer call in an exclusive group cancels the older one, whose result is then dropped."""
        calls = self._api_calls()
        if exclusive:  # the older call of the group is cancelled below; it may never report finishing
            for older in [w for w in calls if w.group == group]:
                self._forget(older)
        worker = self.run_worker(  # type: ignore[attr-defined]
            lambda: fn(*args), thread=True, group=group, exclusive=exclusive,
            exit_on_error=False, name=group,
        )
        calls[worker] = _Call(done, failed)
        self.set_timer(PROGRESS_AFTER, lambda: self._mark_slow(worker))  # type: ignore[attr-defined]
        return worker

    def _api_calls(self) -> dict[Worker, _Call]:
        """This caller's calls still running. In the instance's own dict because a mixin has no
        `__init__` of its own to run before the Widget's."""
        return self.__dict__.setdefault("_api_calls_running", {})

    def _forget(self, worker: Worker) -> _Call | None:
        """Stop tracking `worker`; the header no longer counts it as slow."""
        call = self._api_calls().pop(worker, None)
        if call is not None and call.slow:
            self.app.busy -= 1  # type: ignore[attr-defined]
        return call

    def on_unmount(self) -> None:
        """Gone (a dialog closed) with calls still running: Textual cancels them and no answer
        comes back here, so they stop counting for the header now (it said "working…" for good)."""
        for worker in list(self._api_calls()):
            self._forget(worker)

    def _mark_slow(self, worker: Worker) -> None:
        call = self._api_calls().get(worker)
        if call is not None and not worker.is_finished:
            call.slow = True
            self.app.busy += 1  # type: ignore[attr-defined]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker not in self._api_calls() or not worker.is_finished:
            return
        call = self._forget(worker)
        app = self.app  # type: ignore[attr-defined]
        if event.state == WorkerState.SUCCESS:
            app.api_reachable()
            if call.done is not None:
                call.done(worker.result)
        elif event.state == WorkerState.ERROR:
            if call.failed is not None:
                call.failed(worker.error)
            self.report_api_error(worker.error)

    def report_api_error(self, error: BaseException) -> None:
        """Report `error` as a failed call is reported: here if `on_api_error` claims it, else by the
        App. Also for a body refused on the client (`tui.client.build`) before anything was sent.
        A refused token and a server that cannot serve just now always reach the App, whoever
        claims errors: they are the server's state, not this call's (a form that kept the 401 to
        itself left the header saying "online"; one that toasted each 503 piled toasts up)."""
        if token_refused(error) or not_now(error) or not self.on_api_error(error):
            self.app.handle_api_error(error)  # type: ignore[attr-defined]

    def on_api_error(self, error: BaseException) -> bool:
        """Handle `error` here and return True, or return False to let the App report it."""
        return False

    def still_saving(self, *groups: str) -> bool:
        """True, and says so, while a change sent in one of `groups` has not been answered. A key
        that sends a change waits for it: sent again it was built from what the screen showed
        before the first landed (refused as "does not exist" or "changed meanwhile", or flipping a
        setting back), and the newer call dropped the first's answer with its notice."""
        if any(worker.group in groups for worker in self._api_calls()):
            self.notify("Still saving the last change: wait for the server's answer.", markup=False)  # type: ignore[attr-defined]
            return True
        return False


def could_not_load(what: str, error: BaseException) -> Text:
    """What a dialog or tab shows in place of `what` ("the history") when loading it failed: not an
    empty list, which would say there is nothing."""
    if isinstance(error, ServerUnreachable):
        return Text(f"The server cannot be reached: {what} will show here once it is back.", style="bold red")
    if token_refused(error):
        return Text(f"{TOKEN_REFUSED[0].upper()}{TOKEN_REFUSED[1:]}: {what} cannot load. {LOGIN_AGAIN}",
                    style="bold red")
    text = Text(f"Could not load {what}: ", style="bold red")
    if isinstance(error, ApiError):
        return text.append_text(safe_text(error.message))
    return text.append(f"unexpected error ({type(error).__name__}).")
