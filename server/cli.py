"""`sitesecrets-server`: init, serve, migrate, copy, token create, rotate-master-key, backup, restore,
audit export and audit verify (`audit_cli.py`).

Each command prints one clear sentence on failure and exits non-zero; none prints a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import stat
import sys
import threading
from pathlib import Path
from typing import Mapping

from pydantic import ValidationError

from shared import models
from shared.limits import DEFAULT_LIMITS, Limits
from shared.models import Role
from shared.wording import plural

from . import audit_cli, completion
from .config import (AUDIT_FILE_ENV, AUDIT_RETENTION_ENV, COPY_FROM_ENV, COPY_TO_ENV, DATA_DIR_ENV, DATABASE_URL_ENV,
                     DATABASE_URL_FILE_ENV, Settings)
from .coredumps import forbid_core_dumps
from .dburl import DatabaseUrlError, as_url, resolve

_NO_PASSWORD = "without a password: keep that in ~/.pgpass or PGPASSWORD, or give the URL another way"


def _data_dir(parser: argparse.ArgumentParser) -> None:
    # not `required=True`: the usage line would call it required when the environment names it;
    # `main` refuses the command when neither does
    parser.add_argument("--data-dir", type=_dir_path, default=os.environ.get(DATA_DIR_ENV) or None,
                        help=f"the data directory (required unless ${DATA_DIR_ENV} names it)")
    parser.set_defaults(needs_data_dir=True)


def _dir_path(text: str) -> Path:
    """A --data-dir: never empty, which Path would take for the working directory (init made that
    one the data directory, chmod 0700). An empty $SITESECRETS_DATA_DIR counts as unset."""
    if not text:
        raise argparse.ArgumentTypeError("must name a directory (an empty one would be the working directory)")
    return Path(text)


def _database_url(parser: argparse.ArgumentParser) -> None:
    # resolved in `_resolve_urls` (the environment is read there), so a password is refused only
    # when it was typed on the command line
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url", metavar="URL",
                       help=f"a postgresql:// database to use instead of the data directory's SQLite file, {_NO_PASSWORD} "
                            f"(default: ${DATABASE_URL_ENV}); the master key stays in the data directory or the environment")
    where.add_argument("--database-url-file", type=Path, metavar="FILE",
                       help=f"a file holding that URL (mode 0600 if it holds a password; default: ${DATABASE_URL_FILE_ENV})")


def _copy_end(parser: argparse.ArgumentParser, flag: str, dest: str, env: str, what: str) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(flag, dest=dest, metavar="URL", help=f"{what}; a postgresql:// URL {_NO_PASSWORD} (default: ${env})")
    where.add_argument(f"{flag}-file", dest=f"{dest}_file", type=Path, metavar="FILE",
                       help="a file holding that URL (mode 0600 if it holds a password)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sitesecrets-server", description="The Site Secrets server.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="create a data directory, its master key and the first admin token")
    _data_dir(init)
    _database_url(init)

    serve = commands.add_parser("serve", help="serve the HTTP API")
    _data_dir(serve)
    _database_url(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=_port, default=8716, help="TCP port; 0 picks a free one (default 8716)")
    serve.add_argument("--unix-socket", type=Path, help="serve on this unix socket (created 0660: owner and group) instead of TCP")
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve HTTPS")
    serve.add_argument("--tls-key", type=Path, help="PEM private key for --tls-cert")
    # every site limit's help names its default, as the README's table does
    for setting, what in (("max_secrets", "secrets per site"), ("max_value_bytes", "value size limit, in bytes"),
                          ("max_name_length", "secret name length limit"),
                          ("max_versions", "number of values kept of each secret, the current one included"),
                          ("trash_days", "days a deleted secret stays in the trash (0: deleted at once)"),
                          ("max_apps", "apps per site"), ("max_services", "services per site"),
                          ("max_types", "secret types per site"), ("max_tokens", "tokens that have not expired per site")):
        serve.add_argument(f"--{setting.replace('_', '-')}", type=_limit(setting), default=getattr(DEFAULT_LIMITS, setting),
                           help=f"default {what} (default {getattr(DEFAULT_LIMITS, setting)})")
    serve.add_argument("--audit-retention-days", type=_limit("audit_retention_days"),
                       default=None,  # `main`: from the environment, checked as the option is, else the default
                       help=f"default days audit events are kept, 0 for ever; an operator may set a site's own "
                            f"(default {DEFAULT_LIMITS.audit_retention_days}, or ${AUDIT_RETENTION_ENV})")
    serve.add_argument("--audit-file", type=Path, default=os.environ.get(AUDIT_FILE_ENV) or None, metavar="PATH",
                       help=f"append every audit event, as committed, to this file (0600; reopened on SIGHUP; "
                            f"default ${AUDIT_FILE_ENV}); retention then never removes an event not yet written there")
    serve.add_argument("--access-log", action="store_true", help="log each request's method, path and status to stderr")
    serve.add_argument("--workers", type=_workers, default=None, metavar="N",
                       help=f"worker processes sharing the socket (default: one per core; 1 serves in this process; "
                            f"at most {WORKERS_PER_CORE} per core)")

    token = commands.add_parser("token", help="offline token management (recovery)")
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="COMMAND")
    create = token_commands.add_parser("create", help="mint a token directly in the database and print it")
    _data_dir(create)
    _database_url(create)
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--site", help="bind the token to one site")
    create.add_argument("--service", help="the service a service token fetches")

    rotate = commands.add_parser("rotate-master-key", help="replace the master key and re-wrap every data key")
    _data_dir(rotate)
    _database_url(rotate)

    migrate = commands.add_parser("migrate", help="upgrade the database's schema in place (safe from several replicas at once)")
    migrate.add_argument("--data-dir", type=_dir_path, default=os.environ.get(DATA_DIR_ENV) or None,
                         help=f"the data directory whose SQLite file to upgrade (default: ${DATA_DIR_ENV})")
    _database_url(migrate)

    copy = commands.add_parser("copy", help="copy every row from one database into a new, empty one and verify the counts")
    _copy_end(copy, "--from", "source", COPY_FROM_ENV, "a data directory, a SQLite file (a path, or sqlite:///path) or postgresql://...")
    _copy_end(copy, "--to", "target", COPY_TO_ENV, "the same forms; a SQLite file must not exist yet (it is created 0600; a "
                                                       "data directory means its secrets.db), a PostgreSQL database must hold no data")

    backup = commands.add_parser("backup", help="copy the database while the server serves (the key is not included)")
    _data_dir(backup)
    backup.add_argument("--to", type=Path, required=True, metavar="FILE", help="a new file (created 0600)")

    audit_cli.add_commands(commands, _data_dir, _database_url)

    restore = commands.add_parser("restore", help="restore a backup into a data directory that holds the master key")
    _data_dir(restore)
    restore.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE")
    completion.add_parser(commands)
    return parser


def _audit_retention(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    """`serve`'s --audit-retention-days when not given: $SITESECRETS_AUDIT_RETENTION_DAYS, held to
    the option's own bounds (a value out of them was dropped for the default, or, too large,
    broke every retention sweep), else the default. The sentence that refuses it, or None."""
    if args.audit_retention_days is not None:
        return None
    value = environ.get(AUDIT_RETENTION_ENV)
    if not value:
        args.audit_retention_days = DEFAULT_LIMITS.audit_retention_days
        return None
    try:
        args.audit_retention_days = _limit("audit_retention_days")(value)
    except argparse.ArgumentTypeError as error:
        return f"${AUDIT_RETENTION_ENV} {error}"
    return None


def _limit(name: str):
    """An argparse type for the server's default of the site limit `name`: a whole number a site's
    own limit may be (`PATCH /v1/sites/{site}`'s bounds, `models.LimitsUpdate`). A default out of
    them would act as no site could: `--max-versions 0` wiped each secret's history at its next update."""

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("must be a whole number") from None
        try:
            return getattr(models.LimitsUpdate.model_validate({name: number}), name)
        except ValidationError as error:
            raise argparse.ArgumentTypeError(f"must be what a site's limit may be ({error.errors()[0]['msg']})") from None

    parse.__name__ = name
    return parse


def _port(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError("must be 0 to 65535 (0 picks a free one)")
    return number


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


WORKERS_PER_CORE = 4
"""More workers than this only contend for the cores and the database's write lock, each with its
own connection, threads and memory; `--workers 5000` would fork until the machine ran out."""


def _workers(text: str) -> int:
    number = _positive(text)
    most = WORKERS_PER_CORE * len(os.sched_getaffinity(0))
    if number > most:
        raise argparse.ArgumentTypeError(f"must be at most {most} ({WORKERS_PER_CORE} per core of this machine)")
    return number


def _prints_to_stdout(args: argparse.Namespace) -> bool:
    """Whether the command's result goes to stdout: a token shown once, a script, exported events."""
    return args.command in ("init", "token", "completion") or (
        args.command == "audit" and args.audit_command == "export" and args.to is None)


PIPE_CLOSED = 141
"""Exit status once stdout's reader has gone: 128 + SIGPIPE, what a shell reports for `yes | head -1`."""


def main(argv: list[str] | None = None) -> int:
    forbid_core_dumps()  # before any command makes or loads the master key
    parser = build_parser()
    args = parser.parse_args(argv)
    if sys.stdout is None and _prints_to_stdout(args):  # closed (>&-): a token shown once would go nowhere
        print(f"sitesecrets-server {args.command}: standard output is closed (>&-); nothing was done", file=sys.stderr)
        return 2
    try:
        return _main(parser, args)
    except BrokenPipeError:  # stdout's reader went away (`audit export ... | head -1`): end quietly, as `yes` does
        _stdout_gone()
        return PIPE_CLOSED


def _stdout_gone() -> None:
    """Point stdout at /dev/null, so what is still buffered for it is dropped instead of failing
    again, with a traceback, at the interpreter's exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _main(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "completion":
        return completion.print_completion(parser, args.shell)
    if args.command == "serve" and args.tls_key is not None and args.tls_cert is None:
        print("sitesecrets-server serve: --tls-key needs --tls-cert (the key alone would serve plain http)", file=sys.stderr)
        return 2
    if getattr(args, "needs_data_dir", False) and args.data_dir is None:
        print(f"sitesecrets-server {args.command}: say which data directory: --data-dir DIR or ${DATA_DIR_ENV}", file=sys.stderr)
        return 2  # as argparse answers a missing required option
    if args.command in ("init", "token") and (problem := _open_stdout("the token")) is not None:
        print(f"sitesecrets-server {args.command}: {problem}", file=sys.stderr)
        return 2  # before a data directory or a token is made
    if args.command == "serve" and (problem := _audit_retention(args, os.environ)) is not None:
        print(f"sitesecrets-server serve: {problem}", file=sys.stderr)
        return 2  # as argparse answers the option's own bad value
    try:
        _resolve_urls(args, os.environ)
    except DatabaseUrlError as error:
        print(f"sitesecrets-server: {error}", file=sys.stderr)
        return error.exit_status
    return _reporting(COMMANDS[args.command], args)


def _reporting(command, *args: object) -> int:
    """`command(*args)`'s status; a failure we foresee is one sentence on stderr and status 1, or 2
    for a refusal of the operator's set-up (an exposed master key or database: `files.Exposed`)."""
    from .datadir import DataDirError
    from .store import StoreError
    from .wsgiserver import ServeError

    try:
        return command(*args)
    except BrokenPipeError:
        raise  # stdout's reader went away: `main` ends quietly
    except (DataDirError, StoreError, ServeError) as error:
        print(f"sitesecrets-server: {error}", file=sys.stderr)
        return getattr(error, "exit_status", 1)
    except OSError as error:
        print(f"sitesecrets-server: {error.strerror or error} ({getattr(error, 'filename', '') or ''})", file=sys.stderr)
        return 1


def _open_stdout(what: str) -> str | None:
    """Why `what` must not be printed to stdout, when stdout is a file every user of the host may
    read (`init > admin.token` under the usual umask 022 makes one 0644); None otherwise. Its group
    may read it; a pipe or a terminal is no file anyone else opens."""
    try:
        found = os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file behind stdout
        return None
    if not stat.S_ISREG(found.st_mode) or not found.st_mode & stat.S_IRWXO:
        return None
    try:
        name = os.readlink(f"/proc/self/fd/{sys.stdout.fileno()}")
    except OSError:
        name = "a file"
    return (f"standard output is {name}, a file every user of this host may read (mode {stat.S_IMODE(found.st_mode):o}), "
            f"and {what} would be written there: chmod 600 it first, or write it under umask 077, as in "
            "(umask 077; sitesecrets-server ... > FILE); nothing was done")


class MissingUrl(DatabaseUrlError):
    """No URL given at all: a usage error, as argparse answers a missing required option."""


def _resolve_urls(args: argparse.Namespace, environ: Mapping[str, str]) -> None:
    """Each database URL from its option, its file or the environment, in that order."""
    if hasattr(args, "database_url_file"):
        args.database_url = resolve(args.database_url, args.database_url_file, "--database-url", "--database-url-file",
                                    DATABASE_URL_ENV, environ, DATABASE_URL_FILE_ENV)
    if args.command == "copy":
        for flag, dest, env in (("--from", "source", COPY_FROM_ENV), ("--to", "target", COPY_TO_ENV)):
            url = resolve(getattr(args, dest), getattr(args, f"{dest}_file"), flag, f"{flag}-file", env, environ)
            if url is None:
                raise MissingUrl(f"say which database to copy {flag[2:]}: {flag} URL, {flag}-file FILE or ${env}")
            setattr(args, dest, as_url(url))


def cmd_init(args: argparse.Namespace) -> int:
    from .datadir import init_data_dir

    token = init_data_dir(args.data_dir, database_url=args.database_url)
    where = f"{args.data_dir} and its database" if args.database_url else str(args.data_dir)
    print(f"initialised {where} with site 'default'; the admin token (shown once):", file=sys.stderr)
    return _show_token(token, "the admin token was made but not shown; make another with "
                              f"`sitesecrets-server token create --data-dir {args.data_dir} --name admin --role admin`")


def _show_token(token: str, lost: str) -> int:
    """Print a token shown this once; when stdout's reader has gone, say `lost` (what was made and
    how to go on) instead."""
    try:
        print(token, flush=True)
    except BrokenPipeError:
        _stdout_gone()
        print(f"sitesecrets-server: standard output's reader went away: {lost}", file=sys.stderr)
        return 1
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from .datadir import create_token_offline

    if args.role == Role.service.value and not (args.site and args.service):
        print("sitesecrets-server: a service token needs --site and --service", file=sys.stderr)
        return 2
    token = create_token_offline(args.data_dir, args.name, Role(args.role), args.site, args.service, database_url=args.database_url)
    return _show_token(token, f"the token {args.name!r} was made but not shown; revoke it (`sitesecrets token ls` "
                              "shows its id) and run this command again")


def cmd_rotate(args: argparse.Namespace) -> int:
    from .datadir import rotate_master_key

    rotate_master_key(args.data_dir, database_url=args.database_url)
    how = "pg_dump, or `sitesecrets-server copy`" if args.database_url else "`sitesecrets-server backup`"  # backup copies SQLite's file
    print(f"rotated the master key of {args.data_dir}; every data key is re-wrapped; master.key now holds the new key, "
          f"so backups made before now open only with the old one: take a new backup ({how})",
          file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .app import create_app  # imported before any fork, so workers share the parent's modules
    from .datadir import open_state
    from .wsgiserver import WSGIServer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    limits = Limits(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Limits)})  # each limit is a `serve` option
    settings = Settings(data_dir=args.data_dir, limits=limits, database_url=args.database_url, audit_file=args.audit_file)
    if args.audit_file is not None:
        from .audit_export import check_audit_file

        check_audit_file(args.audit_file, args.data_dir)
    workers = args.workers or len(os.sched_getaffinity(0))
    bind = dict(host=args.host, port=args.port, unix_socket=args.unix_socket, tls_cert=args.tls_cert,
                tls_key=args.tls_key, access_log=args.access_log)
    if workers > 1:
        return _serve_workers(settings, workers, bind)
    state = open_state(settings)
    try:
        app = create_app(state)
        server = WSGIServer(app, **bind)
    except BaseException:
        state.store.close()
        raise
    status = _serve(server, app, state, lambda: print(f"listening on {server.url}", flush=True))
    print("stopped", file=sys.stderr, flush=True)
    return status


def _serve(server, app, state, on_ready) -> int:
    """Serve `app` until SIGTERM or SIGINT, then drain, close `app` and close the store."""
    from .audit_export import FileSink, on_sighup
    from .sweeper import Sweeper

    # shutdown() waits for the accept loop, which runs in this thread: so it runs in another one,
    # and this thread waits for it to finish draining before the store closes under the requests
    shutdown = threading.Thread(target=server.shutdown, name="shutdown")
    stop = _stopper(shutdown)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    audit_file = state.settings.audit_file
    sink = FileSink(state.store, audit_file).start() if audit_file else None  # each worker tries; one holds the file
    signal.signal(signal.SIGHUP, on_sighup(sink))
    # each worker sweeps; an entry is purged (and audited) once, a retention batch removed once
    sweeper = Sweeper(state.store, audit_retention_days=state.settings.limits.audit_retention_days,
                           exporting=sink is not None).start()
    on_ready()
    server.serve_forever()
    shutdown.join()
    app.close()  # every request is answered: what the application holds in memory is written now
    sweeper.stop()
    if sink is not None:
        sink.stop()
    state.store.close()
    return 0


def _stopper(shutdown: threading.Thread):
    """The SIGTERM/SIGINT handler that starts `shutdown`, once. A second signal may run its handler
    while the first is still inside `Thread.start` (systemd signals every process of the unit and
    the workers' parent forwards its own), before the thread counts as started: a lock taken
    without waiting, one C call a handler cannot interrupt, lets only the first through."""
    once = threading.Lock()

    def stop(signum: int, frame: object) -> None:
        if once.acquire(blocking=False):
            shutdown.start()

    return stop


def _serve_workers(settings: Settings, workers: int, bind: dict) -> int:
    """The parent of `workers` forked workers (see `workers.py`): it binds the socket and holds the
    server lock for all of them; each opens its own store."""
    from .app import create_app
    from .datadir import hold_server_lock, open_state
    from .workers import Balance, Supervisor
    from .wsgiserver import WSGIServer

    def worker(ready: int) -> int:
        def serve() -> int:
            # on PostgreSQL each worker keeps the lock too, in its parent's name: the parent starts no
            # thread, so it cannot take its own again once the database restarted (see keptlock.py)
            state = open_state(settings, lock=settings.database_url is not None, holder=os.getppid())
            app = create_app(state)
            server.set_app(app)
            balance.hold(0)  # counted from now on
            return _serve(server, app, state, lambda: (os.write(ready, b"r"), os.close(ready)))

        return _reporting(serve)

    release = hold_server_lock(settings)
    try:
        server = WSGIServer(None, **bind)
        balance = Balance(workers)
        server.share(balance)
        try:
            supervisor = Supervisor(workers, worker, on_stop=server.close, balance=balance)
            status = supervisor.run(lambda: print(f"listening on {server.url}", flush=True))
        finally:
            server.close()
    finally:
        release()
    if status == 0:
        print("stopped", file=sys.stderr, flush=True)
    return status


def cmd_backup(args: argparse.Namespace) -> int:
    from .backup import backup

    count = backup(args.data_dir, args.to)
    print(f"backed up {plural(count, 'secret')} to {args.to}; keep the master key apart from it", file=sys.stderr)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from .backup import restore

    count = restore(args.source, args.data_dir)
    print(f"restored {plural(count, 'secret')} into {args.data_dir}", file=sys.stderr)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from .config import DB_FILE
    from .datadir import DataDirError
    from .store.copy import migrate_url

    if args.database_url:
        url = args.database_url
    elif args.data_dir:
        if not Path(args.data_dir).is_dir():
            raise DataDirError(f"{args.data_dir} is not a data directory (the directory that holds {DB_FILE})")
        url = f"sqlite://{Path(args.data_dir).resolve()}"
    else:
        raise DataDirError(f"say which database: --database-url, --database-url-file (or ${DATABASE_URL_ENV}) or --data-dir")
    version = migrate_url(url)
    print(f"the database is at schema version {version}", file=sys.stderr)
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    from .store.copy import copy_database

    counts = copy_database(args.source, args.target)
    summary = ", ".join(f"{table} {count}" for table, count in counts.items())
    print(f"copied and verified: {summary}; the target needs the same master key", file=sys.stderr)
    return 0


COMMANDS = {"init": cmd_init, "serve": cmd_serve, "token": cmd_token, "rotate-master-key": cmd_rotate,
            "backup": cmd_backup, "restore": cmd_restore, "migrate": cmd_migrate, "copy": cmd_copy,
            "audit": audit_cli.cmd_audit}


if __name__ == "__main__":
    sys.exit(main())
