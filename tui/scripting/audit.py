"""`sitesecrets audit ls | verify`: the site's audit log and its hash chain, for scripts (admins)."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime

from tui.auditview import repeated, verified

from .common import Refused, UsageError, client_for, print_json, print_table, site_of, wants_json

_PAGE = 500
_DEFAULT_LIMIT = 100
_TIME = re.compile(r"\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d)?Z?)?")


def add_parsers(commands, parent: argparse.ArgumentParser) -> None:
    audit = commands.add_parser("audit", help="the site's audit log (admins)")
    sub = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = sub.add_parser("ls", parents=[parent], help="events newest first, filtered")
    ls.add_argument("--action", help="an action, or a prefix ending in * (secret.*)")
    ls.add_argument("--target", help="a target (secret:site/NAME), or a prefix ending in *")
    ls.add_argument("--actor", help="a token name, or a prefix ending in * (deploy-*)")
    ls.add_argument("--since", metavar="TIME", help="only events at or after this UTC time (2026-01-31 or 2026-01-31T12:00:00Z)")
    ls.add_argument("--limit", type=int, help=f"at most this many events, the newest (default {_DEFAULT_LIMIT}; "
                                              "with --since, all of them)")
    ls.add_argument("--all-sites", action="store_true",
                    help="the operator's whole log: every site's events, deleted sites' included, and those of no site")
    ls.add_argument("--json", action="store_true", help="JSON even on a terminal")
    ls.set_defaults(run=cmd_audit_ls)
    verify = sub.add_parser("verify", parents=[parent], help="have the server walk the site's hash chain")
    verify.add_argument("--json", action="store_true", help="JSON even on a terminal")
    verify.set_defaults(run=cmd_audit_verify)


def since_of(text: str | None) -> str | None:
    """`--since` as the server's timestamps are written, so they compare as text."""
    if text is None:
        return None
    stamp = text if "T" in text else f"{text}T00:00:00"
    stamp = stamp.rstrip("Z")
    stamp += (":00" if stamp.count(":") == 1 else "") + "Z"
    try:  # the shape alone would take month 13 or 30 February, and list nothing
        valid = bool(_TIME.fullmatch(text)) and bool(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        valid = False
    if not valid:
        raise UsageError(f"--since {text!r} is not a UTC time such as 2026-01-31 or 2026-01-31T12:00:00Z")
    return stamp


def events(client, site: str | None, filters: dict[str, str], since: str | None, limit: int | None) -> list:
    """Newest first: the events at or after `since` (every one, if `since` is given) up to
    `limit` of them; neither given, the newest 100."""
    if limit is None and since is None:
        limit = _DEFAULT_LIMIT
    found, before = [], None
    while True:
        page = client.audit(site, limit=min(limit or _PAGE, _PAGE), before=before, **filters)
        for event in page.items:
            if since and event.at.strftime("%Y-%m-%dT%H:%M:%SZ") < since:
                return found
            found.append(event)
            if limit is not None and len(found) >= limit:
                return found
        before = page.next
        if before is None:
            return found


def cmd_audit_ls(args):
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be 1 or more")
    if args.all_sites and getattr(args, "site", None) is not None:
        raise UsageError("--all-sites lists every site's events: leave out --site")
    filters = {k: v for k, v in (("action", args.action), ("target", args.target), ("actor", args.actor)) if v}
    since = since_of(args.since)
    with client_for(args) as client:
        found = events(client, None if args.all_sites else site_of(args), filters, since, args.limit)
    if wants_json(args):
        print_json([e.model_dump(mode="json") for e in found])
        return
    where = ["SITE"] if args.all_sites else []
    print_table(["ID", "AT", *where, "OUTCOME", "ACTION", "ACTOR", "TARGET"],
                [[e.id, e.at.strftime("%Y-%m-%d %H:%M:%S"), *([e.site or "-"] if where else []), e.outcome,
                  counted_action(e), e.actor, e.target] for e in found])


def counted_action(event) -> str:
    """The action, with how many attempts a coalesced denial stands for (`secret.reveal ×37`), as
    the TUI's Audit tab shows it: one row of 37 denials must not read as one attempt."""
    count = repeated(event)
    return f"{event.action} ×{count:,}" if count else event.action


def cmd_audit_verify(args):
    site = site_of(args)
    with client_for(args) as client:
        result = client.verify_audit(site)
    if wants_json(args):
        print_json(result.model_dump(mode="json"))
    if not result.ok:
        where = f"event {result.broken_id} {result.reason}" if result.broken_id is not None else result.reason
        raise Refused(f"the audit chain of site {site} is broken: {where}")
    if not wants_json(args):
        print(verified(site, result), file=sys.stderr)
