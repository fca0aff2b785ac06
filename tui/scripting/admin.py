"""`sitesecrets services | token | apps`: what the API offers admins and editors, from the shell.

The `token` commands take their own `--site`: the site a new token is bound to, the site whose
tokens `token ls` lists (without it, every token the caller may see), or the site whose token
`token revoke` revokes, by id or by name."""

from __future__ import annotations

import argparse
import sys

from shared.limits import is_token_id
from tui.display import plural

from .common import (Refused, UsageError, client_for, confirm, connection_options, print_json, print_once, print_table,
                     refuse_open_stdout, site_of, wants_json)


def add_parsers(commands, parent: argparse.ArgumentParser) -> None:
    services = commands.add_parser("services", help="services and their bindings")
    sub = services.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add(sub, parent, "ls", cmd_services_ls, "list services", json_flag=True)
    show = _add(sub, parent, "show", cmd_services_show, "one service: bindings, last load, restart needed", json_flag=True)
    show.add_argument("name")
    create = _add(sub, parent, "create", cmd_services_create, "create a service")
    create.add_argument("name")
    create.add_argument("--app", help="the app the service belongs to")
    create.add_argument("--secret", action="append", default=[], metavar="REF", help="bind NAME (site) or APP/NAME (repeatable)")
    for action, fn, text in (("bind", cmd_services_bind, "bind secrets"), ("unbind", cmd_services_unbind, "unbind secrets")):
        cmd = _add(sub, parent, action, fn, text)
        cmd.add_argument("name")
        cmd.add_argument("refs", nargs="+", metavar="REF", help="NAME for a site secret, APP/NAME for an app's")
    rm = _add(sub, parent, "rm", cmd_services_rm, "delete a service and revoke its tokens (asks first unless --yes)")
    rm.add_argument("name")
    rm.add_argument("--yes", action="store_true", help="do not ask")

    token = commands.add_parser("token", help="API tokens (admins)")
    sub = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    no_site = connection_options(site=False)
    create = _add(sub, no_site, "create", cmd_token_create, "create a token and print it once", json_flag=True)
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=["viewer", "editor", "admin", "service"])
    create.add_argument("--site", "--bind-site", dest="token_site", metavar="SITE",
                        help="bind the token to one site (a service token: default SITESECRETS_SITE)")
    create.add_argument("--service", help="the service a service token fetches (binds it to --site)")
    create.add_argument("--expires-in-days", type=int)
    ls = _add(sub, no_site, "ls", cmd_token_ls, "list tokens (never the tokens themselves)", json_flag=True)
    ls.add_argument("--site", dest="token_site", metavar="SITE", help="only the tokens bound to SITE")
    revoke = _add(sub, no_site, "revoke", cmd_token_revoke, "revoke a token by id, or by name (one token of that name)")
    revoke.add_argument("id", metavar="ID|NAME", help="the token's id (tok_..., as `token ls` lists it) or its name")
    revoke.add_argument("--site", dest="token_site", metavar="SITE",
                        help="a token bound to SITE only: a name is looked up among SITE's tokens, an id must be one of them")
    for command in (create, ls, revoke):
        command.set_defaults(site_dest="token_site")  # `sitesecrets --site S token ...` means their --site S

    apps = commands.add_parser("apps", help="the site's apps")
    sub = apps.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add(sub, parent, "ls", cmd_apps_ls, "list apps", json_flag=True)
    for action, fn in (("create", cmd_apps_create), ("set", cmd_apps_set)):
        cmd = _add(sub, parent, action, fn, f"{action} an app")
        cmd.add_argument("name")
        cmd.add_argument("--site-secrets", choices=["yes", "no"], default="yes" if action == "create" else None,
                         required=action == "set", help="may the app's services use site-level secrets")


def _add(sub, parent, name: str, fn, text: str, json_flag: bool = False) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, parents=[parent], help=text)
    if json_flag:
        parser.add_argument("--json", action="store_true", help="JSON even on a terminal")
    parser.set_defaults(run=fn)
    return parser


def parse_ref(text: str) -> dict[str, str]:
    app, _, name = text.rpartition("/")
    if not name:
        raise UsageError(f"{text!r} is not NAME or APP/NAME")
    return {"name": name, "app": app} if app else {"name": name}


def _show_services(args: argparse.Namespace, items: list, one: bool = False) -> None:
    """`items` as a table, or as JSON: a list, or with `one` (`show NAME`) the service itself, as
    `kubectl get KIND NAME -o json` prints one object where a listing prints a list."""
    if wants_json(args):
        dumped = [s.model_dump(mode="json") for s in items]
        print_json(dumped[0] if one else dumped)
        return
    rows = [[s.name, s.app, ", ".join(f"{r.app}/{r.name}" if r.app else r.name for r in s.secrets) or None,
             s.loaded_at.strftime("%Y-%m-%d %H:%M") if s.loaded_at else "never",
             "RESTART: " + ", ".join(r.name for r in s.stale) if s.restart_required else "ok"] for s in items]
    print_table(["NAME", "APP", "SECRETS", "LOADED", "STATUS"], rows)


def cmd_services_ls(args):
    with client_for(args) as client:
        _show_services(args, client.list_services(site_of(args)).items)


def cmd_services_show(args):
    with client_for(args) as client:
        _show_services(args, [client.get_service(site_of(args), args.name)], one=True)


def cmd_services_create(args):
    from shared.models import ServiceCreate
    from tui.client import build

    body = build(ServiceCreate, name=args.name, app=args.app, secrets=[parse_ref(r) for r in args.secret])
    with client_for(args) as client:
        client.create_service(site_of(args), body)
    print(f"created service {args.name}", file=sys.stderr)


def _rebind(args, change) -> None:
    from shared.models import ServiceUpdate
    from tui.client import build

    site = site_of(args)
    with client_for(args) as client:
        current = client.get_service(site, args.name)
        refs = change([r.model_dump(exclude_none=True) for r in current.secrets], [parse_ref(r) for r in args.refs])
        client.update_service(site, args.name, build(ServiceUpdate, secrets=refs))
    print(f"service {args.name} binds {plural(len(refs), 'secret')}", file=sys.stderr)


def cmd_services_bind(args):
    _rebind(args, lambda current, new: current + [r for r in new if r not in current])


def cmd_services_unbind(args):
    def without(current, gone):
        missing = [r for r in gone if r not in current]
        if missing:
            raise Refused(f"service {args.name} does not bind {', '.join(r['name'] for r in missing)}")
        return [r for r in current if r not in gone]

    _rebind(args, without)


def cmd_services_rm(args):
    # not undone by any trash: the service's tokens are revoked with it, and its functions stop at their next start
    if not args.yes and not confirm(f"delete service {args.name} of site {site_of(args)} and revoke its tokens?"):
        raise Refused("nothing was deleted")
    with client_for(args) as client:
        client.delete_service(site_of(args), args.name)
    print(f"deleted service {args.name}", file=sys.stderr)


def cmd_token_create(args):
    from shared.models import Role, TokenCreate
    from tui.client import build

    refuse_open_stdout("the new token")
    site = args.token_site or (site_of(args) if args.role == "service" else None)
    chosen = {"site": site, "service": args.service, "expires_in_days": args.expires_in_days}
    body = build(TokenCreate, name=args.name, role=Role(args.role),
                 **{key: value for key, value in chosen.items() if value is not None})
    with client_for(args) as client:
        created = client.create_token(body)
    if args.json:  # asked for: the token is in it, this once
        print_json(created.model_dump(mode="json"))
        return
    print(f"token {created.id} ({created.role}){_expiry_note(created, args.expires_in_days)}; shown this once:", file=sys.stderr)
    print_once(created.token,
               f"token {created.id} was created, not shown: `sitesecrets token revoke {created.id}` revokes it")


def _expiry_note(created, asked_days: int | None) -> str:
    """When the new token expires, said whenever it does: one asked without an expiry still
    expires with the token that made it, which nobody would guess from the command line."""
    if created.expires_at is None:
        return ""
    why = "" if asked_days is not None else ", with the token that created it"
    return f", expires {created.expires_at:%Y-%m-%d %H:%M} UTC{why}"


def cmd_token_ls(args):
    from tui.display import short_time

    with client_for(args) as client:
        items = client.list_tokens(site=args.token_site)
    if wants_json(args):
        print_json([t.model_dump(mode="json") for t in items])
        return
    print_table(["ID", "NAME", "ROLE", "SITE", "SERVICE", "CREATED", "EXPIRES", "LAST USED"],
                [[t.id, t.name, t.role.value, t.site, t.service, short_time(t.created_at),
                  short_time(t.expires_at) if t.expires_at else "-", short_time(t.last_used_at)] for t in items])


def cmd_token_revoke(args):
    from tui.credentials import looks_like_token
    from tui.display import safe_str

    if looks_like_token(args.id):  # never into a URL, where logs and proxies would keep it
        raise UsageError("that is a token, not a token id (tok_...); `sitesecrets token ls` lists the ids by name "
                         "(and since the token is now in your shell history, revoke it)")
    with client_for(args) as client:
        token_id = args.id if is_token_id(args.id) and args.token_site is None else _token_id(client, args.id, args.token_site)
        client.revoke_token(token_id)
    print(f"revoked {token_id}" + ("" if token_id == args.id else f" ({safe_str(args.id)})"), file=sys.stderr)


def _token_id(client, wanted: str, site: str | None) -> str:
    """The id of the one token `token ls [--site SITE]` lists whose id or name is `wanted`; Refused
    when none is, or several are (names need not be unique), so a revoke never guesses."""
    tokens = client.list_tokens(site=site)
    where = f" bound to site {site!r}" if site else ""
    if is_token_id(wanted):
        if any(t.id == wanted for t in tokens):
            return wanted
        raise Refused(f"token {wanted} is not{where}; nothing was revoked")
    named = [t.id for t in tokens if t.name == wanted]
    if not named:
        raise Refused(f"no token named {wanted!r}{where or ' that you may see'}; "
                      "`sitesecrets token ls` lists them; nothing was revoked")
    if len(named) > 1:
        raise Refused(f"{len(named)} tokens are named {wanted!r}{where}: {', '.join(named)}; "
                      "revoke one by its id; nothing was revoked")
    return named[0]


def cmd_apps_ls(args):
    from tui.display import short_time

    with client_for(args) as client:
        items = client.list_apps(site_of(args))
    if wants_json(args):
        print_json([a.model_dump(mode="json") for a in items])
        return
    print_table(["NAME", "SITE SECRETS", "CREATED"], [[a.name, "yes" if a.site_secrets else "no", short_time(a.created_at)] for a in items])


def cmd_apps_create(args):
    from shared.models import AppCreate
    from tui.client import build

    body = build(AppCreate, name=args.name, site_secrets=args.site_secrets == "yes")
    with client_for(args) as client:
        client.create_app(site_of(args), body)
    print(f"created app {args.name}", file=sys.stderr)


def cmd_apps_set(args):
    from shared.models import AppUpdate
    from tui.client import build

    body = build(AppUpdate, site_secrets=args.site_secrets == "yes")
    with client_for(args) as client:
        client.update_app(site_of(args), args.name, body)
    print(f"app {args.name}: site secrets {args.site_secrets}", file=sys.stderr)
