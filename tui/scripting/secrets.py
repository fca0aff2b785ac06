"""`sitesecrets ls | get | set | rm`: secrets from the shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shared.limits import value_size

from .common import Refused, UsageError, client_for, confirm, print_json, print_table, site_of, wants_json, write_values


def add_parsers(commands, parent: argparse.ArgumentParser) -> None:
    ls = commands.add_parser("ls", parents=[parent], help="list secrets (a table on a terminal, JSON otherwise)")
    ls.add_argument("--app", help="list this app's secrets")
    ls.add_argument("--all", action="store_true", help="every scope of the site")
    ls.add_argument("--json", action="store_true", help="JSON even on a terminal")
    ls.set_defaults(run=cmd_ls)

    get = commands.add_parser("get", parents=[parent], help="print a secret's value (audited) and nothing else")
    get.add_argument("name")
    get.add_argument("--app")
    get.add_argument("--raw", action="store_true", help="on a terminal too, write the value exactly (control characters included)")
    get.set_defaults(run=cmd_get)

    set_ = commands.add_parser("set", parents=[parent], help="create or update a secret; the value comes from stdin, a prompt or a file")
    set_.add_argument("name")
    set_.add_argument("--app")
    set_.add_argument("--type", help="a secret type key; the value must then be JSON that validates")
    set_.add_argument("--description")
    set_.add_argument("--from-file", type=Path, metavar="PATH", help="read the value from PATH")
    set_.add_argument("--expected-version", type=int, metavar="N", help="update only if the secret is at version N")
    set_.set_defaults(run=cmd_set)

    rm = commands.add_parser("rm", parents=[parent], help="delete a secret (asks first unless --yes)")
    rm.add_argument("name")
    rm.add_argument("--app")
    rm.add_argument("--yes", action="store_true", help="do not ask")
    rm.set_defaults(run=cmd_rm)


def cmd_ls(args: argparse.Namespace) -> None:
    site = site_of(args)
    with client_for(args) as client:
        items = client.list_secrets(site) if args.all and not args.app else client.list_scope(site, args.app)
    if wants_json(args):
        print_json([s.model_dump(mode="json") for s in items])
        return
    rows = [[s.name, f"app:{s.app}" if s.app else "site", s.type, s.version, s.updated_at.strftime("%Y-%m-%d %H:%M"),
             ", ".join(s.used_by) or None] for s in items]
    print_table(["NAME", "SCOPE", "TYPE", "VERSION", "UPDATED", "USED BY"], rows)


def cmd_get(args: argparse.Namespace) -> None:
    with client_for(args) as client:
        value = client.reveal(site_of(args), args.app, args.name).value
    write_values(value + ("\n" if sys.stdout.isatty() else ""), args.raw)


def read_value(args: argparse.Namespace) -> str:
    """The value from --from-file, piped stdin, or a hidden prompt; never from an argument."""
    if args.from_file is not None:
        try:
            return args.from_file.read_bytes().decode("utf-8")  # not read_text: it would turn \r\n into \n
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"cannot read {args.from_file}: {getattr(error, 'strerror', None) or 'not UTF-8 text'}") from None
    if not sys.stdin.isatty():
        return sys.stdin.read()
    from tui.prompt import ask

    try:
        first = ask(f"value of {args.name}: ", echo=False)
        again = ask("again: ", echo=False)
    except EOFError:
        raise UsageError("no value was typed (ctrl+d); nothing was sent") from None
    if again != first:
        raise UsageError("the two values differ; nothing was sent")
    return first


def cmd_set(args: argparse.Namespace) -> None:
    from shared.models import SecretCreate, SecretUpdate
    from tui.client import ApiError, build

    value = read_value(args)
    site = site_of(args)
    with client_for(args) as client:
        limit = client.get_site(site).limits.max_value_bytes
        if value_size(value) > limit:
            raise Refused(f"the value is {value_size(value)} bytes, over the site's limit of {limit}; nothing was sent")
        try:
            current = client.get_secret(site, args.app, args.name)
        except ApiError as error:
            if error.code != "not_found" or error.details.get("resource") != "secret":
                raise
            current = None
        if current is None:
            if args.expected_version is not None:
                raise Refused(f"secret {args.name} does not exist, so it is not at version {args.expected_version}")
            body = build(SecretCreate, name=args.name, value=value, type=args.type, description=args.description or "")
            secret = client.create_secret(site, args.app, body)
            action = "created"
        else:
            chosen = {"type": args.type, "description": args.description, "expected_version": args.expected_version}
            body = build(SecretUpdate, value=value, **{k: v for k, v in chosen.items() if v is not None})
            secret = client.update_secret(site, args.app, args.name, body)
            action = "updated"
    print(f"{action} {secret.name} (version {secret.version})", file=sys.stderr)


def cmd_rm(args: argparse.Namespace) -> None:
    from tui.client import ApiError

    scope = f"app {args.app}" if args.app else f"site {site_of(args)}"
    if not args.yes and not confirm(f"delete secret {args.name} of {scope}?"):
        raise Refused("nothing was deleted")
    with client_for(args) as client:
        try:
            client.delete_secret(site_of(args), args.app, args.name)
        except ApiError as error:
            if error.code == "secret_in_use":
                services = ", ".join(error.details.get("services", []))
                raise Refused(f"{error.message}; services using it: {services}") from None
            raise
    print(f"deleted {args.name}", file=sys.stderr)
