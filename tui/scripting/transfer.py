"""`sitesecrets import | export`: move `.env` files in and out, all or nothing."""

from __future__ import annotations

import argparse
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from shared.limits import MAX_REQUEST_BYTES, secret_name_problem, value_problem, value_size
from tui.display import plural
from tui.dotenv import DockerFormatError, DotenvError, Entry, format_docker, format_env, format_shell, parse

from .common import Refused, UsageError, client_for, refuse_open_stdout, site_of, write_values


def add_parsers(commands, parent: argparse.ArgumentParser) -> None:
    imp = commands.add_parser("import", parents=[parent], help="import a .env file: every line checked first, all or nothing; a name set twice takes its last value")
    imp.add_argument("file", type=Path, metavar="FILE.env", help="the .env file ('-': standard input)")
    imp.add_argument("--app", help="import into this app's scope")
    imp.add_argument("--dry-run", action="store_true", help="print what would change and change nothing")
    imp.add_argument("--overwrite", action="store_true", help="update secrets that exist (otherwise they are an error)")
    imp.set_defaults(run=cmd_import)

    exp = commands.add_parser("export", parents=[parent], help="print values (each read is audited)")
    exp.add_argument("--app", help="export this app's secrets")
    exp.add_argument("--service", help="export exactly what this service receives (refused, as `run` is, while a bound "
                                        "secret does not exist yet or one is named like a variable that loads code)")
    exp.add_argument("--allow-env", action="append", default=[], metavar="NAME",
                     help="with --service, --format shell or docker: export this name although programs read it as code "
                          "(as `run --allow-env`)")
    exp.add_argument("--format", choices=["env", "docker", "json", "shell"], default="env",
                     help="env: a .env file (python-dotenv, node's dotenv, `import`); docker: plain NAME=value lines for "
                          "docker --env-file (a value with a line break is refused); json: an object; shell: export lines for sh")
    exp.add_argument("--raw", action="store_true", help="on a terminal too, write values exactly (control characters included)")
    exp.set_defaults(run=cmd_export)


@dataclass(frozen=True)
class Plan:
    create: list[Entry]
    update: list[Entry]
    repeated: dict[str, list[int]]
    """Each name set on more than one line, with those lines: the last one is imported."""


def plan_import(entries: list[Entry], existing: set[str], site_total: int, limits, overwrite: bool) -> Plan:
    """What an import would do; raises Refused naming the first line that breaks a rule or a limit.

    A name set twice takes its last value, as python-dotenv and node's dotenv do (`Plan.repeated`
    names the lines, for a warning); every line is checked, the overridden ones too."""
    last: dict[str, Entry] = {}
    lines: dict[str, list[int]] = {}
    for entry in entries:
        problem = secret_name_problem(entry.name, limits.max_name_length)
        if problem:
            raise Refused(f"line {entry.line}: the name {entry.name} {problem}; nothing was imported")
        _check_value(entry, limits.max_value_bytes)
        last[entry.name] = entry
        lines.setdefault(entry.name, []).append(entry.line)
    create, update = [], []
    for entry in sorted(last.values(), key=lambda e: e.line):
        if entry.name in existing:
            if not overwrite:
                raise Refused(f"line {entry.line}: {entry.name} exists; pass --overwrite to update it; nothing was imported")
            update.append(entry)
        else:
            if site_total + len(create) + 1 > limits.max_secrets:
                raise Refused(f"line {entry.line}: {entry.name} would be secret number {site_total + len(create) + 1} "
                              f"of a site limited to {limits.max_secrets}; nothing was imported")
            create.append(entry)
    return Plan(create, update, {name: numbers for name, numbers in lines.items() if len(numbers) > 1})


def repeated_warnings(plan: Plan) -> list[str]:
    return [f"warning: {name} is set on lines {', '.join(map(str, numbers[:-1]))} and {numbers[-1]}; "
            f"the value of line {numbers[-1]} is imported" for name, numbers in plan.repeated.items()]


def _check_value(entry: Entry, max_value_bytes: int) -> None:
    """Refuse, before anything is sent, a value the server would refuse: its own value rule, the
    site's size limit, and the cap on a request body (a value of control characters grows six-fold
    as JSON, so a value under the size limit can still make a body the server won't read)."""
    problem = value_problem(entry.value)
    if problem:
        raise Refused(f"line {entry.line}: the value of {entry.name} {problem}; nothing was imported")
    if value_size(entry.value) > max_value_bytes:
        raise Refused(f"line {entry.line}: the value of {entry.name} is over the limit of {max_value_bytes} bytes; nothing was imported")
    if _body_size(entry) > MAX_REQUEST_BYTES:
        raise Refused(f"line {entry.line}: the value of {entry.name} is over {MAX_REQUEST_BYTES} bytes once encoded "
                      "as JSON, more than the server reads in one request; nothing was imported")


def _body_size(entry: Entry) -> int:
    """The size of the create request's body, encoded as the client (httpx) encodes JSON."""
    body = {"name": entry.name, "value": entry.value}  # what cmd_import sends; an update sends less
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))


def read_dotenv(path: Path) -> str:
    """The .env file's text; `-` is standard input (piped, as from `cat` or a provider's CLI)."""
    if str(path) != "-":
        return path.read_text(encoding="utf-8-sig")  # -sig: editors on Windows start with a BOM
    if sys.stdin is None:
        raise UsageError("standard input is closed (<&-): pipe the .env file in or name it; nothing was imported")
    if sys.stdin.isatty():
        raise UsageError("standard input is a terminal: pipe the .env file in (`... | sitesecrets import -`) or name it")
    return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig").read()  # as read_text: universal newlines


def cmd_import(args: argparse.Namespace) -> None:
    from shared.models import SecretCreate, SecretUpdate
    from tui.client import ApiError, ServerUnreachable, build

    try:
        entries = parse(read_dotenv(args.file))
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {args.file}: {getattr(error, 'strerror', None) or 'not UTF-8 text'}") from None
    except DotenvError as error:
        raise Refused(f"{args.file}: {error}; nothing was imported") from None
    site = site_of(args)
    with client_for(args) as client:
        site_info = client.get_site(site)
        scope = client.list_scope(site, args.app)  # an unknown app: refused here
        plan = plan_import(entries, {s.name for s in scope}, site_info.secret_count, site_info.limits, args.overwrite)
        for warning in repeated_warnings(plan):
            print(warning, file=sys.stderr)
        for entry in plan.create:
            print(f"{'would create' if args.dry_run else 'create'} {entry.name}", file=sys.stderr)
        for entry in plan.update:
            print(f"{'would update' if args.dry_run else 'update'} {entry.name}", file=sys.stderr)
        if args.dry_run:
            return
        # A typed secret's new value is judged against its type by the server alone, as it is
        # written: those go first, so that a refused one finds nothing written before it
        typed = {s.name for s in scope if s.type}
        updates = sorted(plan.update, key=lambda e: e.name not in typed)  # stable: typed first, in file order
        held = {s.name: s.version for s in scope}
        written: list[str] = []
        unchanged = 0  # updates the server took as no change: the secret already held that value
        for entry, new in [(e, False) for e in updates] + [(e, True) for e in plan.create]:
            try:
                if new:
                    client.create_secret(site, args.app, build(SecretCreate, name=entry.name, value=entry.value))
                else:
                    after = client.update_secret(site, args.app, entry.name, build(SecretUpdate, value=entry.value))
                    unchanged += after.version == held[entry.name]
            except (ApiError, ServerUnreachable):
                if written:
                    print(f"sitesecrets: import stopped at line {entry.line} ({entry.name}); "
                          f"already written: {', '.join(written)}", file=sys.stderr)
                raise
            written.append(entry.name)
    same = f"; {unchanged} already held that value" if unchanged else ""
    print(f"imported {plural(len(plan.create), 'new secret')}, updated {plural(len(plan.update) - unchanged, 'secret')}"
          f"{same}", file=sys.stderr)


def cmd_export(args: argparse.Namespace) -> None:
    from tui.display import json_text
    from tui.envpolicy import refused

    refuse_open_stdout("the values")
    site = site_of(args)
    starts_programs = args.format in ("shell", "docker")  # sourced, or a container's environment
    if args.allow_env and not (args.service or starts_programs):
        raise UsageError("--allow-env goes with --service, --format shell or --format docker")
    if args.service and args.app:
        raise UsageError("--service exports what the service receives, from its own app; drop --app")
    with client_for(args) as client:
        if args.service:
            answer = client.service_env(site, args.service)
            # as `run` refuses to start it: a file with half the service's secrets would start it all the same
            absent = sorted({ref.name for ref in answer.missing} - set(answer.env))
            if absent:
                raise Refused(f"service {args.service} binds secrets that do not exist yet: {', '.join(absent)}; "
                              "nothing was written")
            # the file starts the service (docker --env-file, a sourced shell): what `run` refuses to set, it refuses to write
            blocked = refused(list(answer.env), set(args.allow_env))
            if blocked:
                raise Refused(f"refusing to export {', '.join(blocked)}: they change how programs load; "
                              "name each with --allow-env if you mean it; nothing was written")
            pairs = answer.env
        else:
            names = [s.name for s in client.list_scope(site, args.app)]  # an unknown app is an error, not empty
            # `. ./exports.sh` sets these in the reader's own shell: an editor's PROMPT_COMMAND or
            # BASH_ENV would run there. Judged on the names, before any value is revealed
            blocked = refused(names, set(args.allow_env)) if starts_programs else []
            if blocked:
                raise Refused(f"refusing to export {', '.join(blocked)} as {args.format} lines: they change "
                              "how programs load; name each with --allow-env if you mean it; nothing was written")
            pairs = {name: client.reveal(site, args.app, name).value for name in names}
    if args.format == "json":
        write_values(json_text(pairs) + "\n", args.raw)  # escapes C1 and bidi even with --raw: JSON loses nothing
    elif args.format == "shell":
        write_values(format_shell(pairs), args.raw)
    elif args.format == "docker":
        try:
            text = format_docker(pairs)  # every value checked before a byte is written
        except DockerFormatError as error:
            raise Refused(f"{error}; nothing was written (--format env or json can hold them)") from None
        write_values(text, args.raw)
    else:
        write_values(format_env(pairs), args.raw)
