"""A database password never rides on a command line (every user reads those in `ps`): the
commands refuse one there and take the URL from the environment or a file only its owner may
read, and no message ever shows a password. Real `sitesecrets-server` processes throughout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import dbbackend
from server import cli as server_cli_module, wsgi
from server.config import Settings
from server.datadir import DataDirError

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Hunter2-s3cret"
WITH_PASSWORD = f"postgresql://sitesecrets:{PASSWORD}@127.0.0.1:1/sitesecrets"
OFFLINE_COMMANDS = [
    ["init", "--data-dir", "{dir}"],
    ["serve", "--data-dir", "{dir}", "--port", "0"],
    ["token", "create", "--data-dir", "{dir}", "--name", "n", "--role", "admin"],
    ["rotate-master-key", "--data-dir", "{dir}"],
    ["migrate"],
]


def server_env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("SITESECRETS_")}, **extra}


def server_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=REPO, capture_output=True, text=True,
                          env=server_env(**(env or {})), timeout=120)


def url_file(path: Path, url: str, mode: int = 0o600) -> Path:
    path.write_text(url + "\n")
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("command", OFFLINE_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_password_in_database_url_is_refused_and_never_shown(command, tmp_path) -> None:
    data_dir = tmp_path / "data"
    args = [a.replace("{dir}", str(data_dir)) for a in command]
    result = server_cli(*args, "--database-url", WITH_PASSWORD)
    assert result.returncode == 2, result.stderr
    assert "PGPASSWORD" in result.stderr and "--database-url-file" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert not data_dir.exists()


@pytest.mark.parametrize("flag", ["--from", "--to"])
def test_a_password_in_copy_from_or_to_is_refused_and_never_shown(flag, tmp_path) -> None:
    other = "--to" if flag == "--from" else "--from"
    result = server_cli("copy", flag, WITH_PASSWORD, other, f"sqlite://{tmp_path / 'x.db'}")
    assert result.returncode == 2, result.stderr
    assert f"{flag}-file" in result.stderr and PASSWORD not in result.stdout + result.stderr
    assert not (tmp_path / "x.db").exists()


def test_a_url_without_a_password_stays_fine_on_the_command_line() -> None:
    # libpq then finds the password in ~/.pgpass or PGPASSWORD; here nothing listens, so the
    # refusal is the connection's, not ours
    result = server_cli("migrate", "--database-url", "postgresql://sitesecrets@127.0.0.1:1/sitesecrets")
    assert result.returncode == 1 and "cannot connect to the database" in result.stderr


def test_a_password_in_a_query_parameter_is_refused_too() -> None:
    result = server_cli("migrate", "--database-url", f"postgresql://127.0.0.1:1/db?user=s&password={PASSWORD}")
    assert result.returncode == 2 and PASSWORD not in result.stderr


def test_a_database_url_file_others_may_read_is_refused_when_it_holds_a_password(tmp_path) -> None:
    path = url_file(tmp_path / "database.url", WITH_PASSWORD, 0o640)
    result = server_cli("migrate", "--database-url-file", str(path))
    assert result.returncode == 2  # a usage error, as a password on the command line is
    assert f"chmod 600 {path}" in result.stderr and "mode 640" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_a_database_url_file_without_a_password_may_be_read_by_others(tmp_path) -> None:
    path = url_file(tmp_path / "database.url", "postgresql://sitesecrets@127.0.0.1:1/sitesecrets", 0o644)
    result = server_cli("migrate", "--database-url-file", str(path))
    assert result.returncode == 1 and "cannot connect to the database" in result.stderr


def test_the_environment_may_name_a_database_url_file(tmp_path) -> None:
    path = url_file(tmp_path / "database.url", WITH_PASSWORD, 0o644)
    result = server_cli("migrate", env={"SITESECRETS_DATABASE_URL_FILE": str(path)})
    assert result.returncode == 2 and "$SITESECRETS_DATABASE_URL_FILE" in result.stderr and "chmod 600" in result.stderr


@pytest.mark.parametrize("content, said", [
    (None, "cannot read --database-url-file"),
    ("", "does not hold one database URL"),
    ("postgresql://a@h/db postgresql://b@h/db", "does not hold one database URL"),
], ids=["missing", "empty", "two urls"])
def test_a_database_url_file_that_cannot_be_used_is_a_usage_error(content, said, tmp_path, monkeypatch, capsys) -> None:
    # exit 2 as for every URL source given unusably (the command line, the environment): fix the
    # command, asking again will not help; run in this process, since nothing is opened
    path = tmp_path / "database.url"
    if content is not None:
        url_file(path, content)
    monkeypatch.setattr(server_cli_module, "forbid_core_dumps", lambda: None)  # leave the test process as it is
    assert server_cli_module.main(["migrate", "--database-url-file", str(path)]) == 2
    assert said in capsys.readouterr().err


def test_a_password_in_the_environment_is_taken_and_never_shown() -> None:
    result = server_cli("migrate", env={"SITESECRETS_DATABASE_URL": WITH_PASSWORD})
    assert result.returncode == 1 and "cannot connect to the database" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_the_drivers_errors_never_quote_the_password(tmp_path) -> None:
    # libpq quotes a URL it cannot parse in full: here an unclosed IPv6 address
    path = url_file(tmp_path / "database.url", f"postgresql://sitesecrets:{PASSWORD}@[::1/sitesecrets")
    result = server_cli("migrate", "--database-url-file", str(path))
    assert result.returncode == 1 and "cannot connect to the database" in result.stderr
    assert PASSWORD not in result.stderr and "sitesecrets:***@" in result.stderr


def test_copy_takes_its_urls_from_the_environment_and_from_files(tmp_path) -> None:
    source = tmp_path / "source" / "data"
    assert server_cli("init", "--data-dir", str(source)).returncode == 0
    target = tmp_path / "target.db"
    result = server_cli("copy", "--to-file", str(url_file(tmp_path / "to.url", f"sqlite://{target}")),
                        env={"SITESECRETS_COPY_FROM": f"sqlite://{source}"})
    assert result.returncode == 0, result.stderr
    assert "copied and verified" in result.stderr and target.exists()


def test_copy_without_a_source_says_where_to_give_one(tmp_path) -> None:
    result = server_cli("copy", "--to", f"sqlite://{tmp_path / 'x.db'}")
    assert result.returncode == 2 and "--from-file FILE or $SITESECRETS_COPY_FROM" in result.stderr


def test_the_wsgi_factory_refuses_an_exposed_url_file_with_a_password(tmp_path) -> None:
    path = url_file(tmp_path / "database.url", WITH_PASSWORD, 0o644)
    with pytest.raises(DataDirError, match="chmod 600") as caught:
        wsgi.create({"SITESECRETS_DATA_DIR": str(tmp_path), "SITESECRETS_DATABASE_URL_FILE": str(path)})
    assert PASSWORD not in str(caught.value)


def test_settings_never_show_the_database_url() -> None:
    assert PASSWORD not in repr(Settings(data_dir=Path("/d"), database_url=WITH_PASSWORD))


@pytest.mark.postgresql_only(reason="serves from a PostgreSQL database named in a file")
def test_init_and_serve_take_the_database_url_from_a_file(backend, tmp_path) -> None:
    path = url_file(tmp_path / "database.url", dbbackend.new_schema_url())
    data_dir = tmp_path / "data"
    init = server_cli("init", "--data-dir", str(data_dir), "--database-url-file", str(path))
    assert init.returncode == 0, init.stderr
    assert not (data_dir / "secrets.db").exists()
    serve = subprocess.Popen([sys.executable, "-m", "server", "serve", "--data-dir", str(data_dir), "--port", "0"],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env=server_env(SITESECRETS_DATABASE_URL_FILE=str(path)))
    try:
        line = serve.stdout.readline()
        assert line.startswith("listening on "), line
        headers = {"Authorization": f"Bearer {init.stdout.strip()}"}
        sites = httpx.get(f"{line.split()[-1]}/v1/sites", headers=headers, timeout=30)
        assert [s["name"] for s in sites.json()["items"]] == ["default"]
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0


@pytest.mark.postgresql_only(reason="copies into a PostgreSQL database named in a file")
def test_copy_to_postgresql_takes_the_url_from_a_file(backend, tmp_path) -> None:
    source = tmp_path / "source" / "data"
    assert server_cli("init", "--data-dir", str(source)).returncode == 0
    url = dbbackend.new_schema_url()
    result = server_cli("copy", "--from", f"sqlite://{source}", "--to-file", str(url_file(tmp_path / "to.url", url)))
    assert result.returncode == 0, result.stderr
    assert [r["name"] for r in dbbackend.rows_at(url, "SELECT name FROM sites")] == ["default"]
