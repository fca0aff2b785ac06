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

Counted in this process's memory, as the bad-token throttle is (`ratelimit.py`): each worker and
replica has budgets of its own.
"""

from __future__ import annotations

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

    def throttled(self, principal: Principal) -> Throttled | None:
        """Whether `principal` may write a denial of a new kind now; the site's budget first, so
        that once it is spent every token of the site is throttled as one."""
        if principal.site is not None:
            wait = self._sites.retry_after(principal.site)
            if wait is not None:
                return Throttled(wait, True, self._sites.threshold, self._sites.window)
        wait = self._tokens.retry_after(principal.token_id)
        if wait is not None:
            return Throttled(wait, False, self._tokens.threshold, self._tokens.window)
        return None

    def charge(self, principal: Principal, *, token: bool = True) -> None:
        """Count an event `principal`'s denial wrote: against its token (unless `token` is False:
        the token's own throttle event, written once its budget is spent) and its site."""
        if token:
            self._tokens.record_failure(principal.token_id)
        if principal.site is not None:
            self._sites.record_failure(principal.site)
