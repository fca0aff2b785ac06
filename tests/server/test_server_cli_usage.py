"""`sitesecrets-server`'s usage says what works: `--data-dir` is optional on the usage line because
`SITESECRETS_DATA_DIR` alone works, and `copy --from/--to` take a data directory or a SQLite file's
path as their help says, not only `sqlite://` URLs. Real processes throughout."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def server_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SITESECRETS_")}
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=REPO, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", ["serve", "init", "backup", "rotate-master-key"])
def test_the_usage_line_shows_data_dir_as_optional(command):
    usage = server_cli(command, "--help").stdout.split("\n\n")[0]
    assert "[--data-dir DATA_DIR]" in usage


def test_the_data_dir_from_the_environment_alone_works(tmp_path):
    data = tmp_path / "data"
    assert server_cli("init", SITESECRETS_DATA_DIR=str(data)).returncode == 0
    minted = server_cli("token", "create", "--name", "ops", "--role", "admin", SITESECRETS_DATA_DIR=str(data))
    assert minted.returncode == 0, minted.stderr
    assert minted.stdout.startswith("ss_")


@pytest.mark.parametrize("command", [["serve"], ["token", "create", "--name", "n", "--role", "admin"]])
def test_without_a_data_dir_the_command_says_how_to_give_one(command):
    result = server_cli(*command)
    assert result.returncode == 2
    assert "--data-dir DIR or $SITESECRETS_DATA_DIR" in result.stderr


def test_copy_takes_a_bare_data_directory_and_a_bare_file_path(tmp_path):
    source = tmp_path / "data"
    assert server_cli("init", "--data-dir", str(source)).returncode == 0
    target = tmp_path / "copy.db"
    result = server_cli("copy", "--from", str(source), "--to", str(target))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(target) as db:
        assert db.execute("SELECT name FROM sites").fetchall() == [("default",)]
    again = server_cli("copy", "--from", str(target), "--to", str(tmp_path / "again.db"))
    assert again.returncode == 0, again.stderr


def test_copy_from_a_path_that_holds_no_database_says_so(tmp_path):
    result = server_cli("copy", "--from", str(tmp_path / "nothing"), "--to", str(tmp_path / "x.db"))
    assert result.returncode == 1
    assert "nothing" in result.stderr and not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("flag, value", [("--max-secrets", "0"), ("--max-value-bytes", "-1"), ("--max-name-length", "0"),
                                         ("--max-name-length", "4096"), ("--max-versions", "0"), ("--trash-days", "-1"),
                                         ("--audit-retention-days", "-5"),
                                         ("--max-apps", "0"), ("--max-services", "100001"), ("--max-types", "-3"), ("--max-tokens", "0")])
def test_serve_refuses_a_default_limit_no_site_could_be_given(tmp_path, flag, value):
    # --max-versions 0 made every update wipe the secret's whole history; --trash-days -1 purged at once
    result = server_cli("serve", "--data-dir", str(tmp_path / "data"), flag, value)
    assert result.returncode == 2
    assert f"argument {flag}: must be what a site's limit may be" in result.stderr


def server_cli_stdout_to(stdout: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`server_cli` with stdout closed (`>&-`, "closed") or a pipe whose reader has gone (`| head`, "gone")."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SITESECRETS_")}
    if stdout == "closed":
        argv = ["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "server", *args]
        return subprocess.run(argv, cwd=REPO, env={**clean, **env}, stderr=subprocess.PIPE, text=True, timeout=120)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "server", *args], cwd=REPO, env={**clean, **env}, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)


def test_init_and_token_create_with_stdout_closed_make_nothing(tmp_path):
    data = tmp_path / "data"
    result = server_cli_stdout_to("closed", "init", "--data-dir", str(data))
    assert result.returncode == 2, result.stderr
    assert "standard output is closed" in result.stderr and "nothing was done" in result.stderr
    assert not data.exists()
    assert server_cli("init", "--data-dir", str(data)).returncode == 0
    minted = server_cli_stdout_to("closed", "token", "create", "--data-dir", str(data), "--name", "ops", "--role", "admin")
    assert minted.returncode == 2 and "nothing was done" in minted.stderr
    names = sqlite3.connect(data / "secrets.db").execute("SELECT name FROM tokens").fetchall()
    assert ("ops",) not in names


def test_init_and_token_create_into_a_gone_reader_say_the_token_was_not_shown(tmp_path):
    data = tmp_path / "data"
    result = server_cli_stdout_to("gone", "init", "--data-dir", str(data))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "ss_" not in result.stderr
    assert "was made but not shown" in result.stderr and "token create" in result.stderr
    minted = server_cli_stdout_to("gone", "token", "create", "--data-dir", str(data), "--name", "ops", "--role", "admin")
    assert minted.returncode == 1
    assert "'ops' was made but not shown" in minted.stderr and "ss_" not in minted.stderr


@pytest.mark.parametrize("stdout", ["closed", "gone"])
def test_completion_and_audit_export_without_a_reader_end_in_one_sentence(tmp_path, stdout):
    data = tmp_path / "data"
    assert server_cli("init", "--data-dir", str(data)).returncode == 0
    for args in (["completion", "bash"], ["audit", "export", "--data-dir", str(data), "--since", "0"]):
        result = server_cli_stdout_to(stdout, *args)
        assert "Traceback" not in result.stderr and "Exception" not in result.stderr, (args, result.stderr)
        assert result.returncode == (2 if stdout == "closed" else 141), (args, result.stderr)


def tables_of(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))


def test_migrate_and_copy_leave_a_database_that_is_not_ours_alone(tmp_path):
    """`migrate --data-dir` named a file, it was opened as a SQLite database and given every table
    of our schema (and WAL mode): another application's database, changed by a typo."""
    app = tmp_path / "app.sqlite3"
    with sqlite3.connect(app) as db:
        db.execute("CREATE TABLE users (id INTEGER)")
    before = app.read_bytes()
    for args in (["migrate", "--data-dir", str(app)], ["copy", "--from", str(app), "--to", str(tmp_path / "copy.db")]):
        result = server_cli(*args)
        assert result.returncode == 1 and "Traceback" not in result.stderr, (args, result.stderr)
        assert "not a Site Secrets database" in result.stderr or "not a data directory" in result.stderr, result.stderr
    assert app.read_bytes() == before and tables_of(app) == ["users"]
    assert not (tmp_path / "copy.db").exists()


def test_migrate_of_a_file_that_is_no_database_is_one_sentence(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database at all, but long enough to be read as a header by SQLite\n" * 20)
    result = server_cli("migrate", "--data-dir", str(junk))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert junk.read_text().startswith("not a database")


def test_workers_that_is_not_a_number_says_so_in_words():
    result = server_cli("serve", "--data-dir", "/nonexistent", "--workers", "abc")
    assert result.returncode == 2 and "_positive" not in result.stderr
    assert "--workers: must be a whole number" in result.stderr


def test_more_workers_than_four_per_core_are_refused_before_any_fork():
    most = 4 * len(os.sched_getaffinity(0))
    result = server_cli("serve", "--data-dir", "/nonexistent", "--workers", str(most + 1))
    assert result.returncode == 2
    assert f"--workers: must be at most {most} (4 per core of this machine)" in result.stderr


@pytest.mark.parametrize("value", ["abc", "-5", "99999999"])
def test_an_audit_retention_from_the_environment_out_of_bounds_is_refused_not_ignored(tmp_path, value):
    """abc and -5 were dropped for the default (400) without a word; 99999999 skipped the bounds
    the option has and broke every retention sweep (OverflowError in the log)."""
    data = tmp_path / "data"
    result = server_cli("serve", "--data-dir", str(data), "--port", "0", SITESECRETS_AUDIT_RETENTION_DAYS=value)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "$SITESECRETS_AUDIT_RETENTION_DAYS" in result.stderr and "listening" not in result.stdout


def test_an_empty_data_dir_is_refused_not_taken_for_the_working_directory(tmp_path):
    """SITESECRETS_DATA_DIR= (set, empty: an EnvironmentFile line left blank) and --data-dir ''
    made init take the working directory, a web root say, and chmod it 0700."""
    cwd = tmp_path / "www"
    cwd.mkdir()
    cwd.chmod(0o755)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SITESECRETS_")}
    for args, env in ((["init"], {"SITESECRETS_DATA_DIR": ""}), (["init", "--data-dir", ""], {})):
        result = subprocess.run([sys.executable, "-m", "server", *args], cwd=cwd, env={**clean, "PYTHONPATH": str(REPO), **env},
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and "Traceback" not in result.stderr, (args, result.stderr)
        assert "--data-dir" in result.stderr, result.stderr
        assert os.listdir(cwd) == [] and stat.S_IMODE(cwd.stat().st_mode) == 0o755


def server_cli_into_file(target: Path, umask: str, *args: str) -> subprocess.CompletedProcess:
    """`(umask UMASK; sitesecrets-server ARGS > TARGET)` in sh, as the README's init example writes it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SITESECRETS_")}
    argv = ["sh", "-c", f'umask {umask}; exec "$@" > "$TARGET"', "sh", sys.executable, "-m", "server", *args]
    return subprocess.run(argv, cwd=REPO, env={**clean, "TARGET": str(target)}, stderr=subprocess.PIPE, text=True,
                          timeout=120)


def test_init_and_token_create_refuse_a_token_file_other_users_can_read(tmp_path):
    # `sitesecrets-server init ... > admin.token` under umask 022: the operator's token for every account
    data, target = tmp_path / "data", tmp_path / "admin.token"
    result = server_cli_into_file(target, "022", "init", "--data-dir", str(data))
    assert result.returncode == 2
    assert "a file every user of this host may read (mode 644)" in result.stderr
    assert "nothing was done" in result.stderr and target.read_text() == "" and not data.exists()
    target.chmod(0o600)
    assert server_cli_into_file(target, "022", "init", "--data-dir", str(data)).returncode == 0
    assert target.read_text().startswith("ss_")
    minted = server_cli_into_file(tmp_path / "ops.token", "022", "token", "create", "--data-dir", str(data),
                                  "--name", "ops", "--role", "admin")
    assert minted.returncode == 2 and "every user of this host may read" in minted.stderr
    names = sqlite3.connect(data / "secrets.db").execute("SELECT name FROM tokens").fetchall()
    assert ("ops",) not in names


def test_serve_help_names_the_default_of_every_site_limit():
    """Each `--max-*`, `--trash-days` and `--audit-retention-days` says what a site gets without it,
    the figures the README's table gives (100, 65536, 256...), taken from shared.limits."""
    import dataclasses

    from server.cli import build_parser
    from shared.limits import DEFAULT_LIMITS

    serve = build_parser()._subparsers._group_actions[0].choices["serve"]
    helps = {action.dest: " ".join((action.help or "").split()) for action in serve._actions}
    for setting, default in dataclasses.asdict(DEFAULT_LIMITS).items():
        assert f"(default {default}" in helps[setting], (setting, helps[setting])
