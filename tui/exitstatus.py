"""The exit statuses of `sitesecrets`, one scheme for every subcommand and for `run` before it
execs (README, "Exit statuses"). Standard library only: `run` imports it on every start.

The line a script draws is "ask again later" against "ask differently": 1 keeps meaning the
server (or this client, on the server's rules) refused, 2 a usage error, and a server that could
not be reached, or answered that it cannot serve just now, is 75, sysexits.h's EX_TEMPFAIL
("the request should be reattempted later"; sendmail's status for a mailer it could not
connect to). curl splits that case into one status per cause (6, 7, 28, 35...), which a script
must then list; Vault's CLI puts every API error under 2, which here is a usage error.
"""

from __future__ import annotations

OK = 0
REFUSED = 1
"""The server refused (401, 403, 404, 409, 422, 413...), or this client refused on its rules
(an untrusted certificate, an incomplete environment): the same command will fail again."""
USAGE = 2
TEMPORARY = 75
"""No answer (connection refused or reset, a timeout, no server socket, a name not found), or an
answer that says "not now" (`TEMPORARY_HTTP`): the same command may succeed later."""

TEMPORARY_HTTP = frozenset({429, 502, 503, 504, 507})
"""Answers about the server's state rather than the request: too many requests, a gateway with
no server behind it, the database or audit log out of reach, storage full."""


def for_http_status(status: int) -> int:
    """The exit status of a command that ended on an HTTP error answer `status`."""
    return TEMPORARY if status in TEMPORARY_HTTP else REFUSED
