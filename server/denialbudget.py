"""What denied requests may write to the audit log: a budget per token and one per site.

Coalescing (`denials.py`) bounds what one denial repeated costs, but a token can vary what it is
refused at will (a viewer revealing name after name, or sending from address after address), and
each new kind is a durable event. So a token whose denials wrote `PER_TOKEN` events within the
window is throttled: a further denial of a new kind is 429. A budget per token alone is multiplied
by the tokens a tenant holds (a site's admin, or a leaked admin token, may mint up to the site's
`max_tokens`), so the tokens of one site also share `PER_SITE`: whatever they number, a site's
denials write at most `PER_SITE` events a window, their counts as many again, and the site
throttle's one event and count. The operator's tokens (bound to no site) are charged
to no site: a tenant's flood never throttles them.

A denial takes its place in both budgets in one step, under the budget's lock, before its event is
written ("take a place if there is one"): checked first and charged once written, concurrent denials
would all find the room one of them left and all write. So within a process neither budget is
ever exceeded, however many threads are refused at once.

Counted in this process's memory, as the bad-token throttle is (`ratelimit.py`): each worker and
replica has budgets of its own.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, NamedTuple

from .auth import Principal
from .ratelimit import FailureLimiter

PER_TOKEN = 20
"""Denials a token may have written within the window: a person or a misconfigured client never
needs as many different refusals."""
PER_SITE = 100
"""Denials the tokens of one site may have written together within the window: five tokens'
worth, and a site of many services whose tokens all ask for the wrong thing still has room."""
WINDOW_SECONDS = 60.0


class Throttled(NamedTuple):
    """Why a denial of a new kind is refused: seconds to wait, and whether the site's budget (not
    the token's own) is spent."""

    retry_after: int
    by_site: bool
    threshold: int
    window: float


class DenialBudget:
    def __init__(self, *, per_token: int = PER_TOKEN, per_site: int = PER_SITE, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._tokens = FailureLimiter(per_token, window, clock=clock)
        self._sites = FailureLimiter(per_site, window, clock=clock)
        # one lock over both limiters: a place is taken in both or in neither
        self._lock = threading.Lock()

    def admission(self, principal: Principal) -> "Admission":
        """The claim of one denial of `principal` on the budgets (see `Admission`)."""
        return Admission(self, principal)

    def take(self, principal: Principal) -> Throttled | None:
        """Charge a denial of a new kind of `principal` to its token and its site if both have room
        (None), else say why not, charging nothing: the site's budget first, so that once it is
        spent every token of the site is throttled as one."""
        with self._lock:
            throttled = self._throttled(principal)
            if throttled is None:
                self._charge(principal, token=True)
            return throttled

    def give_back(self, principal: Principal) -> None:
        """Undo a `take` whose event could not be written."""
        with self._lock:
            self._tokens.give_back(principal.token_id)
            if principal.site is not None:
                self._sites.give_back(principal.site)

    def charge(self, principal: Principal, *, token: bool = True) -> None:
        """Count an event `principal`'s denial wrote whatever the budgets: against its token
        (unless `token` is False: the token's own throttle event, written once its budget is spent)
        and its site."""
        with self._lock:
            self._charge(principal, token=token)

    def _throttled(self, principal: Principal) -> Throttled | None:
        if principal.site is not None:
            wait = self._sites.retry_after(principal.site)
            if wait is not None:
                return Throttled(wait, True, self._sites.threshold, self._sites.window)
        wait = self._tokens.retry_after(principal.token_id)
        if wait is not None:
            return Throttled(wait, False, self._tokens.threshold, self._tokens.window)
        return None

    def _charge(self, principal: Principal, *, token: bool) -> None:
        if token:
            self._tokens.record_failure(principal.token_id)
        if principal.site is not None:
            self._sites.record_failure(principal.site)


class Admission:
    """One denial's claim on the budgets, which `DenialLog.deny` makes (as `admit`) only when the
    denial is to be written: calling it takes a place in both budgets if each has one (True), else
    `throttled` says why not (False). `give_back()` returns the place when the event could not be
    written after all (a 503): a denial is charged for what it wrote, nothing else."""

    __slots__ = ("_budget", "_principal", "throttled", "_taken")

    def __init__(self, budget: DenialBudget, principal: Principal) -> None:
        self._budget, self._principal = budget, principal
        self.throttled: Throttled | None = None
        self._taken = False

    def __call__(self) -> bool:
        self.throttled = self._budget.take(self._principal)
        self._taken = self.throttled is None
        return self._taken

    def give_back(self) -> None:
        if self._taken:
            self._taken = False
            self._budget.give_back(self._principal)
