"""`sitesecrets sites ls | create | set | rm`: the operator's sites, from the shell.

Creating a site may also mint its first admin token, printed once on stdout (never taken from or
put on a command line). Deleting a site with everything in it (`rm --cascade`) asks for the
site's name at a terminal, or `--yes` elsewhere.
"""

from __future__ import annotations

import argparse
import sys

from tui.sitelimits import LIMIT_FIELDS, fullest, size_text, uses

from .common import (Refused, UsageError, client_for, connection_options, print_json, print_once, print_table,
                     refuse_open_stdout, stdin_is_terminal, wants_json)


def add_parsers(commands) -> None:
    parent = connection_options(site=False)  # the site is the command's argument
    sites = commands.add_parser("sites", help="sites, their limits and usage (the operator)")
    sub = sites.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = sub.add_parser("ls", parents=[parent], help="list sites with their usage against their limits")
    ls.add_argument("--json", action="store_true", help="JSON even on a terminal")
    _refuse_site_option(ls, "sites ls lists every site; it takes no --site")
    ls.set_defaults(run=cmd_sites_ls)

    create = sub.add_parser("create", parents=[parent], help="create a site (and, with --admin-token, its first admin token)")
    _site_argument(create, "sites create")
    create.add_argument("--admin-token", action="store_true", help="also create an admin token bound to the site, printed once")
    create.add_argument("--token-name", metavar="LABEL", help="that token's name (default NAME-admin)")
    create.add_argument("--expires-in-days", type=int, metavar="N", help="that token expires after N days")
    create.add_argument("--json", action="store_true", help="print the site (and the token) as JSON")
    create.set_defaults(run=cmd_sites_create)

    set_ = sub.add_parser("set", parents=[parent], help="change a site's limits ('default' puts one back to the server's)")
    _site_argument(set_, "sites set")
    for field in LIMIT_FIELDS:
        set_.add_argument(field.flag, dest=field.key, type=_limit, metavar="N|default", help=field.label.lower())
    set_.add_argument("--json", action="store_true", help="print the site as JSON")
    set_.set_defaults(run=cmd_sites_set)

    rm = sub.add_parser("rm", parents=[parent], help="delete an empty site; --cascade: with everything in it")
    _site_argument(rm, "sites rm")
    rm.add_argument("--cascade", action="store_true", help="delete its secrets (wiped), services, apps, types and tokens too")
    rm.add_argument("--yes", action="store_true", help="do not ask (needed for --cascade when not at a terminal)")
    rm.set_defaults(run=cmd_sites_rm)
    for parser in (create, set_, rm):
        _usage_names_site_as_needed(parser)


def _site_argument(parser: argparse.ArgumentParser, command: str) -> None:
    """The site a `sites` command acts on: its argument, SITE in its usage, or a --site given
    before the command (`sitesecrets --site S sites set ...`, `tui.siteoption`). `--site` after the
    command, which the other commands take, is refused with the usage to write instead."""
    parser.add_argument("name", metavar="SITE", nargs="?", help="the site's name")
    parser.set_defaults(site_dest="name", site_required=True)  # one of the two is needed
    _refuse_site_option(parser, f"the site is this command's argument: sitesecrets {command} SITE ..., not --site")


def _usage_names_site_as_needed(parser: argparse.ArgumentParser) -> None:
    """The usage shows SITE as needed, not `[SITE]`: argparse may leave it out only because a
    --site before the command can stand for it. argparse's own usage, with that one change, is
    made the parser's `usage` (public API only), so it is called once every option is added."""
    usage = parser.prog + parser.format_usage().partition(parser.prog)[2].rstrip("\n")  # after "usage: "
    parser.usage = usage.replace("[SITE]", "SITE").replace("%", "%%")  # `usage` is a %-format


def _refuse_site_option(parser: argparse.ArgumentParser, message: str) -> None:
    """A hidden `--site` that is a usage error saying `message` under this command's own usage,
    where argparse alone said 'unrecognized arguments' under the top-level one."""

    class SiteOption(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            parser.error(message)

    parser.add_argument("--site", action=SiteOption, help=argparse.SUPPRESS)


_DEFAULT = object()


def _limit(text: str):
    if text == "default":
        return _DEFAULT
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number or 'default'")
    return int(text)


def site_rows(items: list) -> list[list]:
    """Each site: every count a limit caps as `used/limit`, the one nearest its limit, then sizes
    and the other settings."""
    return [[s.name, *(f"{use.used}/{use.limit}" for use in uses(s)), fullest(s).share(), size_text(s.usage.value_bytes),
             size_text(s.limits.max_value_bytes), s.limits.max_versions, s.limits.trash_days] for s in items]


SITE_HEADERS = ["NAME", "SECRETS", "APPS", "SERVICES", "TYPES", "TOKENS", "FULLEST", "VALUES", "MAX VALUE", "VERSIONS",
                "TRASH DAYS"]


def cmd_sites_ls(args):
    with client_for(args) as client:
        items = client.list_sites()
    if wants_json(args):
        print_json([s.model_dump(mode="json") for s in items])
        return
    print_table(SITE_HEADERS, site_rows(items))


def cmd_sites_create(args):
    from shared.models import Role, SiteCreate, TokenCreate
    from tui.client import ApiError, build

    if args.admin_token:
        refuse_open_stdout("the site's admin token")
    body = build(SiteCreate, name=args.name)
    token_body = None
    if args.admin_token:  # judged before anything is sent, so a bad name creates no site either
        extra = {} if args.expires_in_days is None else {"expires_in_days": args.expires_in_days}
        token_body = build(TokenCreate, name=args.token_name or f"{args.name}-admin", role=Role.admin, site=args.name, **extra)
    elif args.token_name or args.expires_in_days is not None:
        raise UsageError("--token-name and --expires-in-days go with --admin-token")
    with client_for(args) as client:
        site = client.create_site(body)
        print(f"created site {site.name}", file=sys.stderr)
        created = None
        if token_body is not None:
            try:
                created = client.create_token(token_body)
            except ApiError as error:
                raise Refused(f"the site was created, but not its admin token: {error.message}") from None
    if args.json:
        print_json({"site": site.model_dump(mode="json"), "token": created.model_dump(mode="json") if created else None})
    elif created is not None:
        print(f"admin token {created.id} for {site.name}; shown this once:", file=sys.stderr)
        print_once(created.token, f"admin token {created.id} was created, not shown: "
                                  f"`sitesecrets token revoke {created.id}` revokes it")


def cmd_sites_set(args):
    from shared.models import LimitsUpdate, SiteUpdate
    from tui.client import build

    chosen = {f.key: getattr(args, f.key) for f in LIMIT_FIELDS if getattr(args, f.key) is not None}
    if not chosen:
        raise UsageError("name at least one limit: " + ", ".join(f.flag for f in LIMIT_FIELDS))
    limits = build(LimitsUpdate, **{k: None if v is _DEFAULT else v for k, v in chosen.items()})
    with client_for(args) as client:
        site = client.update_site(args.name, build(SiteUpdate, limits=limits))
    if wants_json(args):
        print_json(site.model_dump(mode="json"))
        return
    print_table(["LIMIT", "VALUE"], [[f.label.lower(), getattr(site.limits, f.key)] for f in LIMIT_FIELDS])


def cmd_sites_rm(args):
    if args.cascade and not args.yes:
        _confirm_by_name(args.name)
    from tui.client import ApiError

    with client_for(args) as client:
        try:
            client.delete_site(args.name, cascade=args.cascade)
        except ApiError as error:
            if error.code == "site_not_empty":  # the way forward, which the server does not know
                error.message = (f"{error.message.rstrip('.')}; nothing was deleted: "
                                 f"`sitesecrets sites rm {args.name} --cascade` deletes it with everything in it")
            raise
    print(f"deleted site {args.name}" + (" with everything in it" if args.cascade else ""), file=sys.stderr)


def _confirm_by_name(name: str) -> None:
    """A cascade delete goes ahead only once the site's name is typed back at the terminal."""
    if not stdin_is_terminal():
        raise UsageError("rm --cascade deletes every secret of the site: pass --yes when not at a terminal")
    from tui.display import safe_str
    from tui.prompt import ask

    try:
        typed = ask(f"This deletes site {safe_str(name)!r} with every secret, service, app, type and token in it.\n"
                    "Type the site's name to go on: ")
    except EOFError:
        typed = ""
    if typed.strip() != name:
        raise Refused("not deleted: the name typed did not match")
