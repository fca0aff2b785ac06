"""`sitesecrets versions | rollback | trash`: a secret's kept values and its deleted siblings.

Nothing here prints a value: versions are listed by fingerprint ("same as v3"), a rollback names
a version, the trash lists names. Reading an older value is `get NAME --version N`.
"""

from __future__ import annotations

import argparse
import sys

from .common import (Refused, client_for, confirm, print_json, print_table, say_services_to_restart, site_of, version_number,
                     wants_json)

WHEN = "%Y-%m-%d %H:%M"


def add_parsers(commands, parent: argparse.ArgumentParser) -> None:
    versions = commands.add_parser("versions", parents=[parent],
                                   help="a secret's kept versions, newest first (never the values)")
    versions.add_argument("name")
    versions.add_argument("--app", help="the app whose secret it is (default: the site's own)")
    versions.add_argument("--json", action="store_true", help="JSON even on a terminal")
    versions.set_defaults(run=cmd_versions)

    rollback = commands.add_parser("rollback", parents=[parent],
                                   help="make a kept version's value current again (as a new version)")
    rollback.add_argument("name")
    rollback.add_argument("--app", help="the app whose secret it is (default: the site's own)")
    rollback.add_argument("--to", type=version_number, required=True, metavar="N", help="the kept version to roll back to")
    rollback.add_argument("--expected-version", type=version_number, metavar="V", help="roll back only if the secret is at version V")
    rollback.set_defaults(run=cmd_rollback)

    trash = commands.add_parser("trash", help="deleted secrets, kept for the site's trash_days")
    sub = trash.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = sub.add_parser("ls", parents=[parent], help="list the site's trash (every scope)")
    ls.add_argument("--json", action="store_true", help="JSON even on a terminal")
    ls.set_defaults(run=cmd_trash_ls)
    restore = sub.add_parser("restore", parents=[parent], help="bring a deleted secret back, with its versions")
    restore.add_argument("name")
    restore.add_argument("--app", help="the app whose secret it was (default: the site's own)")
    restore.set_defaults(run=cmd_trash_restore)
    purge = sub.add_parser("purge", parents=[parent], help="wipe a deleted secret now (admins; asks first unless --yes)")
    purge.add_argument("name")
    purge.add_argument("--app", help="the app whose secret it was (default: the site's own)")
    purge.add_argument("--yes", action="store_true", help="do not ask")
    purge.set_defaults(run=cmd_trash_purge)


def cmd_versions(args: argparse.Namespace) -> None:
    from tui.history import same_as

    with client_for(args) as client:
        versions = client.list_versions(site_of(args), args.app, args.name)
    if wants_json(args):
        print_json([v.model_dump(mode="json") for v in versions])
        return
    twins = same_as(versions)
    rows = [[f"{v.version}", "*" if v.current else "", v.created_at.strftime(WHEN), v.created_by, v.type,
             "same as " + ", ".join(f"v{n}" for n in twins[v.version]) if twins[v.version] else ""]
            for v in versions]
    print_table(["VERSION", "CURRENT", "CREATED", "BY", "TYPE", "VALUE"], rows)


def cmd_rollback(args: argparse.Namespace) -> None:
    from shared.models import Rollback
    from tui.client import build

    site = site_of(args)
    with client_for(args) as client:
        body = build(Rollback, version=args.to, **({} if args.expected_version is None
                                                   else {"expected_version": args.expected_version}))
        before = client.get_secret(site, args.app, args.name).version
        secret = client.rollback(site, args.app, args.name, body)
        if secret.version == before:
            print(f"{secret.name} already holds the value of version {args.to}; nothing changed "
                  f"(version {secret.version})", file=sys.stderr)
            return
        print(f"rolled back {secret.name} to the value of version {args.to}: now version {secret.version}", file=sys.stderr)
        say_services_to_restart(client, site, secret)


def cmd_trash_ls(args: argparse.Namespace) -> None:
    with client_for(args) as client:
        items = client.list_trash(site_of(args))
    if wants_json(args):
        print_json([t.model_dump(mode="json") for t in items])
        return
    rows = [[t.name, f"app:{t.app}" if t.app else "site", t.version, t.deleted_at.strftime(WHEN), t.deleted_by,
             t.purge_at.strftime(WHEN)] for t in items]
    print_table(["NAME", "SCOPE", "VERSION", "DELETED", "BY", "PURGED"], rows)


def cmd_trash_restore(args: argparse.Namespace) -> None:
    with client_for(args) as client:
        secret = client.restore_secret(site_of(args), args.app, args.name)
    print(f"restored {secret.name} (version {secret.version})", file=sys.stderr)


def cmd_trash_purge(args: argparse.Namespace) -> None:
    scope = f"app {args.app}" if args.app else f"site {site_of(args)}"
    if not args.yes and not confirm(f"wipe trashed secret {args.name} of {scope} and all its versions for good?"):
        raise Refused("nothing was purged")
    with client_for(args) as client:
        client.purge_secret(site_of(args), args.app, args.name)
    print(f"purged {args.name}", file=sys.stderr)
