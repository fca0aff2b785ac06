"""`sitesecrets ls | get | set | rm`: secrets from the shell (history and trash: history.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shared.limits import value_size

from .common import (Refused, UsageError, client_for, confirm, print_json, print_once, print_table,
                     refuse_open_stdout, say_services_to_restart, site_of, version_number, wants_json, write_values)


def add_parsers(commands, parent: argparse.ArgumentParser) -> None:
    ls = commands.add_parser("ls", parents=[parent], help="list secrets (a table on a terminal, JSON otherwise)")
    ls.add_argument("--app", help="list this app's secrets")
    ls.add_argument("--all", action="store_true", help="every scope of the site")
    ls.add_argument("--due", type=int, metavar="DAYS",
                    help="only secrets whose rotation falls due within DAYS days (0: those overdue)")
    ls.add_argument("--json", action="store_true", help="JSON even on a terminal")
    ls.set_defaults(run=cmd_ls)

    get = commands.add_parser("get", parents=[parent], help="print a secret's value (audited) and nothing else")
    get.add_argument("name")
    get.add_argument("--app")
    get.add_argument("--version", type=version_number, metavar="N", help="an older kept version's value (see `versions NAME`)")
    get.add_argument("--raw", action="store_true", help="on a terminal too, write the value exactly (control characters included)")
    get.set_defaults(run=cmd_get)

    set_ = commands.add_parser("set", parents=[parent], help="create or update a secret; the value comes from stdin, a prompt or a file")
    set_.add_argument("name")
    set_.add_argument("--app")
    set_.add_argument("--type", help="a secret type key; the value must then be JSON that validates")
    set_.add_argument("--description")
    set_.add_argument("--from-file", type=Path, metavar="PATH",
                      help="read the value from PATH ('-': standard input; ./- for a file of that name)")
    set_.add_argument("--allow-empty", action="store_true",
                      help="store an empty value (otherwise an empty stdin, file or prompt is refused)")
    set_.add_argument("--expected-version", type=int, metavar="N", help="update only if the secret is at version N")
    set_.add_argument("--generate", action="store_true",
                      help="a random value (letters, digits, - and _), printed once on stdout to set at the provider; "
                           "for a typed secret, its password/writeOnly field only")
    set_.add_argument("--length", type=int, metavar="N", help="with --generate: N characters (default: the field's "
                                                               "minLength/maxLength allow, else 32)")
    set_.add_argument("--field", metavar="F", help="with --generate, for a typed secret: the string field to generate")
    set_.add_argument("--rotate-every", type=rotation_days, metavar="DAYS",
                      help="rotation policy: due DAYS days after each new value (1 to 3650; 'off' removes it)")
    set_.add_argument("--patch", action="store_true",
                      help="for a typed secret: the value read is a JSON object of the fields to change (a merge "
                           "patch: the others keep their values, null removes one)")
    set_.add_argument("--keep-value", action="store_true",
                      help="send no value: change only --description, --type or --rotate-every of an existing secret")
    set_.set_defaults(run=cmd_set)

    rm = commands.add_parser("rm", parents=[parent], help="delete a secret into the trash (asks first unless --yes)")
    rm.add_argument("name")
    rm.add_argument("--app")
    rm.add_argument("--yes", action="store_true", help="do not ask")
    rm.set_defaults(run=cmd_rm)


OFF = "off"


def rotation_days(text: str) -> int | str:
    """`--rotate-every`: the days `SecretUpdate.rotate_every_days` takes, or OFF (remove the policy)."""
    from shared.models import SecretUpdate
    from tui.client import ApiError, build

    if text.lower() == OFF:
        return OFF
    days = int(text) if text.isascii() and text.isdigit() else 0  # 0: refused below, as any day out of range
    try:
        return build(SecretUpdate, rotate_every_days=days).rotate_every_days
    except ApiError:
        raise argparse.ArgumentTypeError("must be a number of days (1 to 3650), or 'off'") from None


def cmd_ls(args: argparse.Namespace) -> None:
    from shared.models import MAX_DUE_WITHIN_DAYS
    from tui.rotation import rotation_label

    if args.due is not None and not 0 <= args.due <= MAX_DUE_WITHIN_DAYS:
        raise UsageError(f"--due must be 0 to {MAX_DUE_WITHIN_DAYS} days")
    site = site_of(args)
    with client_for(args) as client:
        if args.all and not args.app:
            items = client.list_secrets(site, due_within_days=args.due)
        else:
            items = client.list_scope(site, args.app, due_within_days=args.due)
    if wants_json(args):
        print_json([s.model_dump(mode="json") for s in items])
        return
    rows = [[s.name, f"app:{s.app}" if s.app else "site", s.type, s.version, s.updated_at.strftime("%Y-%m-%d %H:%M"),
             rotation_label(s), ", ".join(s.used_by) or None] for s in items]
    print_table(["NAME", "SCOPE", "TYPE", "VERSION", "UPDATED", "ROTATION", "USED BY"], rows)


def cmd_get(args: argparse.Namespace) -> None:
    refuse_open_stdout("the value")
    with client_for(args) as client:
        value = client.reveal(site_of(args), args.app, args.name, version=args.version).value
    write_values(value + ("\n" if sys.stdout.isatty() else ""), args.raw)


def read_value(args: argparse.Namespace) -> str:
    """The value from --from-file, piped stdin, or a hidden prompt; never from an argument. An
    empty one (or a line ending alone, as `echo "$UNSET" |` pipes) only with --allow-empty: an
    empty pipe is far more often a command before it that failed (`provider-cli get KEY |
    sitesecrets set KEY`) than a value meant to be empty."""
    value = _read_value(args)
    if value in ("", "\n", "\r\n") and not args.allow_empty:  # a line ending alone: `echo "$UNSET" |`
        where = "the file" if args.from_file is not None and str(args.from_file) != "-" else (
            "the prompt" if sys.stdin.isatty() else "standard input")
        alone = " (a line ending alone)" if value else ""
        raise UsageError(f"the value from {where} is empty{alone}; pass --allow-empty to store it; nothing was sent")
    return value


def _read_value(args: argparse.Namespace) -> str:
    if args.from_file is not None and str(args.from_file) != "-":
        try:
            return args.from_file.read_bytes().decode("utf-8")  # not read_text: it would turn \r\n into \n
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"cannot read {args.from_file}: {getattr(error, 'strerror', None) or 'not UTF-8 text'}") from None
    if sys.stdin is None:  # closed (<&-): no value at all, not an empty one
        raise UsageError("standard input is closed (<&-): pipe the value in or pass --from-file; nothing was sent")
    if not sys.stdin.isatty():
        return _read_piped()
    from tui.prompt import MAX_LINE_BYTES, ask

    try:
        first = ask(f"value of {args.name}: ", echo=False)
        again = ask("again: ", echo=False)
    except EOFError:
        raise UsageError("no value was typed (ctrl+d); nothing was sent") from None
    if again != first:
        raise UsageError("the two values differ; nothing was sent")
    if len(first.encode("utf-8")) >= MAX_LINE_BYTES:  # the terminal may have cut it, as it did `again` alike
        raise UsageError(f"a terminal keeps only {MAX_LINE_BYTES} bytes of a typed line and this value may have "
                         "been cut there: pipe it in or use --from-file; nothing was sent")
    return first


def _read_piped() -> str:
    """Piped stdin as the UTF-8 it must be, read as bytes: a UTF-8 locale's text stdin raises on
    other bytes, and the C locale's turns them into lone surrogates the server then refuses."""
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("cannot read standard input: not UTF-8 text; nothing was sent") from None


def cmd_set(args: argparse.Namespace) -> None:
    from .generating import check_generate_options, generated_change

    check_generate_options(args)
    if args.generate:
        refuse_open_stdout("the generated value")
    for flag, given in (("--from-file", args.from_file is not None), ("--allow-empty", args.allow_empty)):
        if args.keep_value and given:
            raise UsageError(f"--keep-value and {flag} do not go together")
    for flag, given in (("--generate", args.generate), ("--keep-value", args.keep_value), ("--type", args.type is not None)):
        if args.patch and given:
            raise UsageError(f"--patch and {flag} do not go together")
    if args.keep_value and args.description is None and args.type is None and args.rotate_every is None:
        raise UsageError("--keep-value changes nothing without --description, --type or --rotate-every")
    value = None if args.generate or args.keep_value else read_value(args)
    patch = merge_patch(value) if args.patch else None
    site = site_of(args)
    generated = None
    with client_for(args) as client:
        limit = client.get_site(site).limits.max_value_bytes
        check_size(value, limit)
        current = existing_secret(client, site, args)
        if args.generate:
            change, generated, filled = generated_change(client, site, args, current)
            check_size(change.get("value"), limit)
        elif args.keep_value:
            if current is None:
                raise Refused(f"secret {args.name} does not exist; --keep-value changes only an existing one")
            change = {}
        elif args.patch:
            if current is None:
                raise Refused(f"secret {args.name} does not exist; --patch changes fields of an existing typed secret")
            change = {"value_patch": patch}
        else:
            change = {"value": value}
        secret, action = send_change(client, site, args, current, change)
        if generated is not None:
            again = f"sitesecrets get {args.name}" + (f" --app {args.app}" if args.app else "")
            print_once(generated,  # the one time it is shown: letters, digits, - and _ only
                       f"{filled} now holds a new generated value (version {secret.version}), not shown: "
                       f"`{again}` shows it")
            print(f"generated a new value for {filled}: shown once above; set it at the provider now", file=sys.stderr)
        print(f"{action} {secret.name} (version {secret.version})", file=sys.stderr)
        if current is not None and secret.version != current.version:
            say_services_to_restart(client, site, secret)


def merge_patch(text: str) -> dict:
    """`set --patch`'s value: a JSON object (RFC 7396), else UsageError; the text is never repeated,
    since a field of it is usually a password."""
    import json

    try:
        patch = json.loads(text)
    except (ValueError, RecursionError):
        patch = None
    if not isinstance(patch, dict):
        raise UsageError('the value of --patch is not a JSON object such as {"password": "..."}; nothing was sent')
    return patch


def check_size(value: str | None, limit: int) -> None:
    if value is not None and value_size(value) > limit:
        raise Refused(f"the value is {value_size(value)} bytes, over the site's limit of {limit}; nothing was sent")


def existing_secret(client, site: str, args: argparse.Namespace):
    """The secret `set` would update, or None when it is to be created."""
    from tui.client import ApiError

    try:
        return client.get_secret(site, args.app, args.name)
    except ApiError as error:
        if error.code != "not_found" or error.details.get("resource") != "secret":
            raise
        return None


def send_change(client, site: str, args: argparse.Namespace, current, change: dict):
    """Create or update the secret with `change` (`value`, `value_patch` or nothing) and the
    metadata options; (the Secret answered, "created" or "updated")."""
    from shared.models import SecretCreate, SecretUpdate
    from tui.client import build

    rotate = {} if args.rotate_every is None else {"rotate_every_days": None if args.rotate_every == OFF else args.rotate_every}
    if current is None:
        if args.expected_version is not None:
            raise Refused(f"secret {args.name} does not exist, so it is not at version {args.expected_version}")
        rotate = {k: v for k, v in rotate.items() if v is not None}  # a new secret has no policy to remove
        body = build(SecretCreate, name=args.name, type=args.type, description=args.description or "", **change, **rotate)
        return client.create_secret(site, args.app, body), "created"
    chosen = {"type": args.type, "description": args.description, "expected_version": args.expected_version}
    body = build(SecretUpdate, **change, **rotate, **{k: v for k, v in chosen.items() if v is not None})
    return client.update_secret(site, args.app, args.name, body), "updated"


def cmd_rm(args: argparse.Namespace) -> None:
    from tui.client import ApiError

    scope = f"app {args.app}" if args.app else f"site {site_of(args)}"
    if not args.yes and not confirm(f"delete secret {args.name} of {scope}?"):
        raise Refused("nothing was deleted")
    with client_for(args) as client:
        days = client.get_site(site_of(args)).limits.trash_days  # read first: once deleted, nothing may fail
        try:
            client.delete_secret(site_of(args), args.app, args.name)
        except ApiError as error:
            if error.code == "secret_in_use":
                services = ", ".join(error.details.get("services", []))
                raise Refused(f"{error.message}; services using it: {services}") from None
            raise
    if days:
        again = f"sitesecrets trash restore {args.name}" + (f" --app {args.app}" if args.app else "")
        print(f"deleted {args.name}: kept in the trash for {days} days (`{again}` brings it back)", file=sys.stderr)
    else:
        print(f"deleted {args.name}", file=sys.stderr)
