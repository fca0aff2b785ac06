"""`sitesecrets-server audit export` and `audit verify`: the operator's commands on the audit log.

Both read the database directly (the data directory's SQLite file, or `--database-url`), so they
work whether or not a server is running, and neither writes anything. `verify` needs the master
key (the data directory's `master.key`, or the environment's), as the links it checks are MACs
under a key derived from it; `export` does not.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path

from typing import TYPE_CHECKING

from shared.wording import plural

from . import files

if TYPE_CHECKING:
    from .store.audit_key import AuditKey

_ID = re.compile(r"[0-9]{1,19}")
_TIME = re.compile(r"\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d)?Z?)?")


def add_commands(commands, data_dir, database_url) -> None:
    """The `audit` command and its subcommands, on `sitesecrets-server`'s parser."""
    audit = commands.add_parser("audit", help="export the audit log, or verify its hash chains")
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    export = sub.add_parser("export", help="write audit events as JSON lines (one API AuditEvent each), oldest first")
    data_dir(export)
    database_url(export)
    export.add_argument("--since", required=True, metavar="ID|TIME",
                        help="events after this id (resume with the last id written), or from this UTC time (2026-01-31 or 2026-01-31T12:00:00Z)")
    export.add_argument("--site", help="only this site's events (its current lifetime)")
    export.add_argument("--format", choices=["jsonl"], default="jsonl")
    export.add_argument("--to", type=Path, metavar="FILE", help="a new file (created 0600) instead of stdout")
    verify = sub.add_parser("verify", help="walk the hash chains; name the first broken link")
    data_dir(verify)
    database_url(verify)
    verify.add_argument("--site", help="only this site's chain (default: every chain)")


def cmd_audit(args: argparse.Namespace) -> int:
    from .datadir import open_store

    store = open_store(args.data_dir, args.database_url)
    try:
        return (_export if args.audit_command == "export" else _verify)(store, args)
    finally:
        store.close()


def _chain(store, site: str | None) -> str | None:
    if site is None:
        return None
    uid = store.read(lambda tx: tx.chain_sites())
    found = [chain for chain, (name, _) in uid.items() if name == site]
    if not found:
        raise SystemExit(f"sitesecrets-server: no site {site!r}")
    return found[0]


def _export(store, args: argparse.Namespace) -> int:
    from .audit_export import export_events

    chain = _chain(store, args.site)
    if _ID.fullmatch(args.since):
        since = int(args.since)
    elif _TIME.fullmatch(args.since) and _is_time(args.since):
        at = args.since if "T" in args.since else f"{args.since}T00:00:00Z"
        at = at if at.endswith("Z") else f"{at}{':00' if at.count(':') == 1 else ''}Z"
        first = store.read(lambda tx: tx.first_audit_id_at(at))
        since = (first - 1) if first is not None else sys.maxsize
    else:
        print("sitesecrets-server: --since takes an event id or a UTC time such as 2026-01-31T12:00:00Z", file=sys.stderr)
        return 2
    target = open(_new_file(args.to), "w", encoding="utf-8") if args.to else nullcontext(sys.stdout)
    with target as out:
        count, last = export_events(store, out, since, chain)
    print(f"exported {plural(count, 'event')}" + (f"; resume with --since {last}" if count else ""), file=sys.stderr)
    return 0


def _new_file(path: Path) -> int:
    """`--to`, created 0600; a path already taken is refused with the way to resume an export."""
    from .datadir import DataDirError

    try:
        return files.create_private_file(path)
    except FileExistsError:
        raise DataDirError(f"{path} exists; choose a new file (to add to an earlier export, "
                           f"write to standard output: --since ID >> {path})") from None


def _is_time(text: str) -> bool:
    """Whether `text` (of `_TIME`'s form) is a real moment: 2026-13-45 would export nothing, silently."""
    try:
        datetime.fromisoformat(text.removesuffix("Z"))
    except ValueError:
        return False
    return True


def _audit_key(store, data_dir: Path | None) -> AuditKey | None:
    """The audit key, read with the master key and without writing (an older database is not
    upgraded here: its chains are SHA-256 and are walked as such, `None`)."""
    from . import keys, tokenkey
    from .datadir import KEY_CHECK, DataDirError, as_data_dir_error

    if data_dir is None and not os.environ.get(keys.ENV_VAR):
        raise DataDirError(f"audit verify needs the master key: --data-dir (holding {keys.KEY_FILE}) or ${keys.ENV_VAR}")
    try:
        master = keys.load_master_key(Path(data_dir or "."), store.read(lambda tx: tx.get_meta(KEY_CHECK)) or "")
        return tokenkey.read_audit_key(store, master)
    except (keys.MasterKeyError, tokenkey.TokenKeyError) as error:
        raise as_data_dir_error(error) from None


def _verify(store, args: argparse.Namespace) -> int:
    from .audit_chain import verify_chain

    key = _audit_key(store, args.data_dir)
    if key is None:
        print("note: this database's links are not keyed yet (start the server, or run any command that opens it "
              "with the master key, to key them); they are checked as SHA-256, which anyone who can write the "
              "database can recompute", file=sys.stderr)
    chain = _chain(store, args.site)
    names = store.read(lambda tx: tx.chain_sites())
    chains = [chain] if chain is not None else [c[0] for c in store.read(lambda tx: tx.audit_chains())]
    broken = 0
    for each in chains:
        report = verify_chain(store, each, key)
        label = "events of no site" if each == "" else (f"site {names[each][0]!r}" if each in names else f"deleted site lifetime {each}")
        counted = plural(report.events, "event") + (f", after the anchor at event {report.anchor_id}" if report.anchor_id else "") + (
            f", {report.unsealed} from before the chain" if report.unsealed else "") + (
            f", {report.unkeyed} linked by SHA-256 before the chain was keyed" if report.unkeyed and key is not None else "")
        if report.ok:
            print(f"ok: {label}: {counted}")
            continue
        broken += 1
        where = f"event {report.broken_id} {report.reason}" if report.broken_id is not None else report.reason
        print(f"BROKEN: {label}: {where} ({counted} checked)")
    return 1 if broken else 0
