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
        types = {s.name: s.type for s in scope if s.type}
        if args.dry_run:
            say_dry_run(plan, types, len(scope), f"app {args.app}" if args.app else "the site level")
            return
        for entry in plan.create:
            print(f"create {entry.name}", file=sys.stderr)
        for entry in plan.update:
            print(f"update {entry.name}", file=sys.stderr)
        # A typed secret's new value is judged against its type by the server alone, as it is
        # written: those go first, so that a refused one finds nothing written before it
        typed = set(types)
        updates = sorted(plan.update, key=lambda e: e.name not in typed)  # stable: typed first, in file order
        held = {s.name: s.version for s in scope}
        writes = [(e, False) for e in updates] + [(e, True) for e in plan.create]
        written: list[str] = []
        unchanged = 0  # updates the server took as no change: the secret already held that value
        for entry, new in writes:
            try:
                if new:
                    client.create_secret(site, args.app, build(SecretCreate, name=entry.name, value=entry.value))
                else:
                    after = client.update_secret(site, args.app, entry.name, build(SecretUpdate, value=entry.value))
                    unchanged += after.version == held[entry.name]
            except (ApiError, ServerUnreachable) as error:
                if written:
                    stopped_part_way(error, entry, written, [e.name for e, _ in writes[len(written):]], args.overwrite)
                raise
            written.append(entry.name)
    same = f"; {unchanged} already held that value" if unchanged else ""
    print(f"imported {plural(len(plan.create), 'new secret')}, updated {plural(len(plan.update) - unchanged, 'secret')}"
          f"{same}", file=sys.stderr)


def stopped_part_way(error: Exception, entry: Entry, written: list[str], not_written: list[str], overwrite: bool) -> None:
    """Say what an import that failed at `entry` had written, and whether running it again is safe.

    With --overwrite it is: each write sets a secret to the file's value, and one that already
    holds it makes no new version, so a retry on 75 finishes the import. Without, the names it
    wrote exist now and the same import would be refused ('exists') for ever: a failure that would
    be 75 becomes Refused (1), naming the import that does finish it."""
    from tui.client import ServerUnreachable
    from tui.exitstatus import TEMPORARY, for_http_status

    where = f"import stopped at line {entry.line} ({entry.name})"
    progress = f"{len(written)} of {len(written) + len(not_written)} written ({', '.join(written)}); "
    if isinstance(error, ServerUnreachable) and error.sent:  # cut off: the server may have written it all the same
        progress += f"{entry.name} unknown (the answer was lost)"
        progress += f", not written: {', '.join(not_written[1:])}" if not_written[1:] else ""
    else:  # an answer: the server changes nothing when it refuses
        progress += f"not written: {', '.join(not_written)}"
    temporary = (error.temporary if isinstance(error, ServerUnreachable)
                 else for_http_status(error.status) == TEMPORARY)
    if not temporary:  # the server refused this value: the file needs a fix first, and the reason follows
        print(f"sitesecrets: {where}: {progress}", file=sys.stderr)
    elif overwrite:
        print(f"sitesecrets: {where}: {progress}; the same import again is safe: it writes the same values, and a "
              "secret that already holds its value gets no new version", file=sys.stderr)
    else:
        reason = str(error) if isinstance(error, ServerUnreachable) else error.message
        raise Refused(f"{where}: {reason.rstrip('.')}; {progress}. The same import again would be refused, as those "
                      "it wrote exist now: once the server answers, import again with --overwrite (it writes the same "
                      "values, and a secret that already holds its value gets no new version)") from None


def say_dry_run(plan: Plan, types: dict[str, str], held: int, scope: str) -> None:
    """On stderr, what the import would do: each secret it would create or update, then how many
    of the scope's secrets it would leave as they are. What only the write can tell is said too: a
    typed value is checked against its type by the server as it is written (the client has no
    validator), and an update to the value a secret already holds makes no new version (values
    are not revealed to compare them)."""
    from tui.display import safe_str
    from tui.display import plural

    for entry in plan.create:
        print(f"would create {entry.name}", file=sys.stderr)
    for entry in plan.update:
        kind = types.get(entry.name)
        why = f" (of type {safe_str(kind)}: the server checks the new value against it only as it is written)" if kind else ""
        print(f"would update {entry.name}{why}", file=sys.stderr)
    same = " (a secret that already holds its new value keeps its version)" if plan.update else ""
    left = held - len(plan.update)
    print(f"dry run, nothing was changed: would create {plural(len(plan.create), 'secret')}, update "
          f"{plural(len(plan.update), 'secret')}{same}, and leave {plural(left, 'other secret')} of {safe_str(scope)} "
          f"as {'it is' if left == 1 else 'they are'}", file=sys.stderr)


def cmd_export(args: argparse.Namespace) -> None:
    from tui.display import json_text
    from tui.envpolicy import refusal, refused

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
                raise Refused(f"{refusal('export', blocked)}; name each with --allow-env if you mean it; nothing was written")
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
