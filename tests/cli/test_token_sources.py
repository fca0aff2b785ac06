"""Tokens stay off command lines: `sitesecrets login` checks a token and keeps it per server URL in
a private file, `--token-file` reads one, `--token` still works but warns; the TUI, the scripting
commands and `run` all find the token the same way (option, then SITESECRETS_TOKEN, then login)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from cli_helpers import REPO, Live, RecordingProxy, base_env, run_text
from pty_process import PtyProcess
from tui.credentials import resolve_token, store_token, token_source

PRINT_ENV = [sys.executable, "-c", "import json,os,sys; sys.stdout.write(json.dumps(dict(os.environ)))"]


def env_without_token(live: Live, config: Path, **extra: str) -> dict[str, str]:
    """A child's environment with the server's URL, no SITESECRETS_TOKEN, and `config` as XDG_CONFIG_HOME."""
    return base_env(SITESECRETS_URL=live.url, XDG_CONFIG_HOME=str(config), **extra)


def sitesecrets(env: dict[str, str], *args: str, input: str | None = None, umask: int = 0o022) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=REPO, env=env, capture_output=True,
                            input=(input or "").encode(), umask=umask, timeout=60)
    result.stdout, result.stderr = result.stdout.decode(), result.stderr.decode()
    return result


def stored(config: Path) -> dict[str, str]:
    return json.loads((config / "sitesecrets" / "credentials.json").read_text())["tokens"]


def private_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def config(tmp_path) -> Path:
    return tmp_path / "config"


def test_login_checks_the_token_and_stores_it_for_the_server_url(live, config):
    result = sitesecrets(env_without_token(live, config), "login", input=live.admin_token + "\n")
    assert result.returncode == 0, result.stderr
    assert "as admin (admin)" in result.stderr and live.url in result.stderr
    assert live.admin_token not in result.stderr + result.stdout
    assert stored(config) == {live.url: live.admin_token}


def test_login_records_that_an_operator_token_is_bound_to_no_site(live, config):
    assert sitesecrets(env_without_token(live, config), "login", input=live.admin_token).returncode == 0
    assert json.loads((config / "sitesecrets" / "credentials.json").read_text())["sites"] == {live.url: ""}


def test_login_makes_the_directory_0700_and_the_file_0600_whatever_the_umask(live, config):
    result = sitesecrets(env_without_token(live, config), "login", input=live.admin_token, umask=0)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((config / "sitesecrets").stat().st_mode) == 0o700
    assert stat.S_IMODE((config / "sitesecrets" / "credentials.json").stat().st_mode) == 0o600
    assert os.listdir(config / "sitesecrets") == ["credentials.json"]  # no temporary file left behind


def test_login_under_umask_000_makes_missing_parents_0700_and_leaves_existing_ones(live, tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    config = home / ".config"
    result = sitesecrets(env_without_token(live, config), "login", input=live.admin_token, umask=0)
    assert result.returncode == 0, result.stderr
    assert [stat.S_IMODE(p.stat().st_mode) for p in (config, config / "sitesecrets")] == [0o700, 0o700]
    assert stat.S_IMODE(home.stat().st_mode) == 0o755


def test_login_with_a_rejected_token_stores_nothing(live, config):
    result = sitesecrets(env_without_token(live, config), "login", input="ss_not_a_real_token\n")
    assert result.returncode == 1 and "rejected" in result.stderr and "nothing was stored" in result.stderr
    assert "ss_not_a_real_token" not in result.stderr
    assert not (config / "sitesecrets" / "credentials.json").exists()


def test_login_keeps_the_tokens_of_other_servers(live, config):
    store_token(str(config / "sitesecrets"), "https://other.example", "ss_other")
    assert sitesecrets(env_without_token(live, config), "login", input=live.admin_token).returncode == 0
    assert stored(config) == {"https://other.example": "ss_other", live.url: live.admin_token}


def test_login_at_a_terminal_asks_without_echoing_the_token(live, config):
    tty = PtyProcess([sys.executable, "-m", "tui.cli", "login"], env_without_token(live, config), str(REPO))
    tty.wait_for(f"token for {live.url}: ")
    tty.type(live.admin_token + "\n")
    assert tty.finish() == 0
    assert "logged in" in tty.output and live.admin_token not in tty.output
    assert stored(config) == {live.url: live.admin_token}


def test_logout_forgets_the_token_of_that_url_only(live, config):
    store_token(str(config / "sitesecrets"), "https://other.example", "ss_other")
    store_token(str(config / "sitesecrets"), live.url, live.admin_token)
    result = sitesecrets(env_without_token(live, config), "logout")
    assert result.returncode == 0 and "forgot" in result.stderr
    assert stored(config) == {"https://other.example": "ss_other"}


def test_after_login_the_scripting_commands_need_no_token(live, site, config):
    live.put_secret(site, "AFTER_LOGIN", "x")
    store_token(str(config / "sitesecrets"), live.url, live.admin_token)
    result = sitesecrets(env_without_token(live, config, SITESECRETS_SITE=site), "ls", "--json")
    assert result.returncode == 0, result.stderr
    assert [s["name"] for s in json.loads(result.stdout)] == ["AFTER_LOGIN"]


def test_after_login_run_starts_the_service_with_its_secrets(live, site, config):
    live.put_secret(site, "DB_PASSWORD", "from-the-server")
    live.new_service(site, "api", None, [{"name": "DB_PASSWORD"}])
    token = live.mint("service", site, "api")
    assert sitesecrets(env_without_token(live, config), "login", input=token).returncode == 0
    # no --site: the token's own, which login recorded beside it
    assert json.loads((config / "sitesecrets" / "credentials.json").read_text())["sites"] == {live.url: site}
    result = sitesecrets(env_without_token(live, config), "run", "--service", "api", "--", *PRINT_ENV)
    assert result.returncode == 0, result.stderr
    child = json.loads(result.stdout)
    assert child["DB_PASSWORD"] == "from-the-server" and token not in result.stdout


@pytest.fixture
def counted(live: Live) -> Iterator[RecordingProxy]:
    """The module's server behind a proxy that records every request the commands make."""
    proxy = RecordingProxy(live.url)
    yield proxy
    proxy.close()


def whoamis(proxy: RecordingProxy) -> int:
    return sum(path == "/v1/whoami" for _, path, _ in proxy.requests)


@pytest.mark.parametrize("role, command", [("admin", ["ls", "--json"]), ("service", ["run", "--service", "api", "--", "true"])],
                         ids=["ls", "run"])
def test_a_login_from_before_sites_were_recorded_asks_whoami_once_then_remembers(live, site, config, counted, role, command):
    """A credentials file written before login recorded each token's site holds only the token:
    the first command asks the server whose token it is, and records the answer beside the token
    (as login does now), so the commands after it do not ask again. Every other entry is kept."""
    live.new_service(site, "api", None, [])
    token = live.mint(role, site, "api" if role == "service" else None)
    directory = config / "sitesecrets"
    directory.mkdir(parents=True, mode=0o700)
    old = {"tokens": {counted.url: token, "https://other.example": "ss_other"},
           "trust": {"https://other.example": {"ca_file": "/etc/ssl/other.pem"}}}
    private_file(directory / "credentials.json", json.dumps(old))
    env = base_env(SITESECRETS_URL=counted.url, XDG_CONFIG_HOME=str(config))
    for _ in range(2):
        result = run_text([sys.executable, "-m", "tui.cli", *command], env)
        assert result.returncode == 0, result.stderr
    assert whoamis(counted) == 1
    assert json.loads((directory / "credentials.json").read_text()) == {**old, "sites": {counted.url: site}}
    assert stat.S_IMODE((directory / "credentials.json").stat().st_mode) == 0o600
    assert os.listdir(directory) == ["credentials.json"]  # replaced whole, no temporary file left


def test_an_environment_token_asks_whoami_for_each_command_and_is_stored_nowhere(live, site, config, counted):
    """SITESECRETS_TOKEN is not the stored token: its site is never written to the credentials
    file (nor is the token), so each command that needs the site asks for it."""
    env = base_env(SITESECRETS_URL=counted.url, XDG_CONFIG_HOME=str(config), SITESECRETS_TOKEN=live.mint("admin", site))
    for _ in range(2):
        result = run_text([sys.executable, "-m", "tui.cli", "ls", "--json"], env)
        assert result.returncode == 0, result.stderr
    assert whoamis(counted) == 2
    assert not config.exists()


def test_after_login_the_tui_opens_without_a_token(live, site, config):
    live.put_secret(site, "SEEN_IN_THE_TUI", "x")
    store_token(str(config / "sitesecrets"), live.url, live.admin_token)
    env = env_without_token(live, config, SITESECRETS_SITE=site, TERM="xterm-256color")
    tty = PtyProcess([sys.executable, "-m", "tui.cli"], env, str(REPO))
    tty.wait_for("SEEN_IN_THE_TUI")
    tty.type("q")
    assert tty.finish() == 0


def test_the_tui_records_the_site_of_a_token_stored_before_sites_were_recorded(live, site, config):
    """The TUI asks whoami on every start; for a stored token whose site login did not record, it
    records the answer beside the token, as every command does, every other entry kept."""
    live.put_secret(site, "SEEN_IN_THE_TUI", "x")
    directory = config / "sitesecrets"
    directory.mkdir(parents=True, mode=0o700)
    old = {"tokens": {live.url: live.mint("admin", site), "https://other.example": "ss_other"}, "trust": {}}
    private_file(directory / "credentials.json", json.dumps(old))
    tty = PtyProcess([sys.executable, "-m", "tui.cli"], env_without_token(live, config, TERM="xterm-256color"), str(REPO))
    tty.wait_for("SEEN_IN_THE_TUI")
    tty.type("q")
    assert tty.finish() == 0
    assert json.loads((directory / "credentials.json").read_text()) == {**old, "sites": {live.url: site}}
    assert stat.S_IMODE((directory / "credentials.json").stat().st_mode) == 0o600


def test_the_environment_wins_over_stored_credentials(live, site, config):
    store_token(str(config / "sitesecrets"), live.url, "ss_stale_stored_token")
    result = sitesecrets(env_without_token(live, config, SITESECRETS_TOKEN=live.admin_token, SITESECRETS_SITE=site), "ls")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("ending", ["\n", "\r\n", " "])
def test_a_token_variable_with_a_line_ending_works_as_a_token_file_does(live, site, config, ending):
    # `kubectl create secret --from-file` and a CRLF env file leave the file's line ending in the variable
    live.put_secret(site, "DB_PASSWORD", "from-the-server")
    live.new_service(site, "api", None, [{"name": "DB_PASSWORD"}])
    admin = env_without_token(live, config, SITESECRETS_TOKEN=live.admin_token + ending, SITESECRETS_SITE=site)
    listed = sitesecrets(admin, "ls", "--json")
    assert (listed.returncode, listed.stderr) == (0, "")
    service = env_without_token(live, config, SITESECRETS_TOKEN=live.mint("service", site, "api") + ending)
    ran = sitesecrets(service, "run", "--service", "api", "--site", site, "--", *PRINT_ENV)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["DB_PASSWORD"] == "from-the-server"


def test_a_token_variable_that_is_not_one_token_is_refused_without_showing_it(live, site, config):
    token = live.admin_token
    env = env_without_token(live, config, SITESECRETS_TOKEN=f"{token}\nsecond line", SITESECRETS_SITE=site)
    listed = sitesecrets(env, "ls")
    assert listed.returncode == 2
    assert listed.stderr == "sitesecrets: SITESECRETS_TOKEN does not hold one token\n"
    ran = sitesecrets(env, "run", "--service", "api", "--", "true")
    assert ran.returncode == 2  # a usage error, as for every command
    assert "SITESECRETS_TOKEN does not hold one token" in ran.stderr and token not in ran.stderr


def test_a_token_file_wins_over_the_environment(live, site, config, tmp_path):
    token_file = private_file(tmp_path / "token", live.admin_token + "\n")
    env = env_without_token(live, config, SITESECRETS_TOKEN="ss_wrong", SITESECRETS_SITE=site)
    result = sitesecrets(env, "ls", "--token-file", str(token_file))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_stored_credentials_serve_only_their_own_url(live, config):
    store_token(str(config / "sitesecrets"), "https://other.example", live.admin_token)
    result = sitesecrets(env_without_token(live, config), "ls")
    assert result.returncode == 2 and "sitesecrets login" in result.stderr and "--token-file" in result.stderr


def test_the_token_option_still_works_but_warns_in_one_line(live, site, config):
    result = sitesecrets(env_without_token(live, config, SITESECRETS_SITE=site), "ls", "--token", live.admin_token)
    assert result.returncode == 0
    assert result.stderr.count("\n") == 1 and "warning: --token" in result.stderr and "login" in result.stderr
    assert live.admin_token not in result.stderr


def test_run_warns_about_the_token_option_too(live, site, config):
    live.new_service(site, "empty", None, [])
    token = live.mint("service", site, "empty")
    result = sitesecrets(env_without_token(live, config), "run", "--service", "empty", "--site", site,
                         "--token", token, "--", sys.executable, "-c", "pass")
    assert result.returncode == 0 and "warning: --token" in result.stderr and token not in result.stderr


def test_token_and_token_file_together_is_a_usage_error(live, config, tmp_path):
    token_file = private_file(tmp_path / "token", live.admin_token)
    result = sitesecrets(env_without_token(live, config), "ls", "--token-file", str(token_file), "--token", "ss_x")
    assert result.returncode == 2 and "not both" in result.stderr


@pytest.mark.parametrize("mode", [0o640, 0o604])
def test_a_token_file_readable_by_others_is_refused(live, config, tmp_path, mode):
    token_file = private_file(tmp_path / "token", live.admin_token, mode)
    result = sitesecrets(env_without_token(live, config), "ls", "--token-file", str(token_file))
    assert result.returncode == 2 and "readable by other users" in result.stderr and "chmod 600" in result.stderr
    assert live.admin_token not in result.stderr


def test_a_credentials_file_readable_by_others_is_refused(live, config):
    path = Path(store_token(str(config / "sitesecrets"), live.url, live.admin_token))
    path.chmod(0o644)
    result = sitesecrets(env_without_token(live, config), "ls")
    assert result.returncode == 2 and "readable by other users" in result.stderr
    assert live.admin_token not in result.stderr


def test_a_token_file_that_is_a_directory_is_named_in_one_sentence(live, site, config, tmp_path):
    directory = tmp_path / "tokens"
    directory.mkdir(mode=0o700)
    listed = sitesecrets(env_without_token(live, config), "ls", "--token-file", str(directory))
    ran = sitesecrets(env_without_token(live, config), "run", "--service", "api", "--site", site,
                      "--token-file", str(directory), "--", "true")
    assert listed.returncode == 2 and ran.returncode == 2
    for result in (listed, ran):
        assert f"cannot read token file {directory}: Is a directory" in result.stderr
        assert "Traceback" not in result.stderr


def test_run_with_an_exposed_token_file_does_not_start_the_command(live, site, config, tmp_path):
    live.new_service(site, "empty", None, [])
    token_file = private_file(tmp_path / "token", live.mint("service", site, "empty"), 0o644)
    marker = tmp_path / "started"
    result = sitesecrets(env_without_token(live, config), "run", "--service", "empty", "--site", site,
                         "--token-file", str(token_file), "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')")
    assert result.returncode == 2 and "readable by other users" in result.stderr and "not started" in result.stderr
    assert not marker.exists()


def test_run_reads_a_token_file(live, site, config, tmp_path):
    live.put_secret(site, "FROM_FILE_RUN", "yes")
    live.new_service(site, "api", None, [{"name": "FROM_FILE_RUN"}])
    token_file = private_file(tmp_path / "token", live.mint("service", site, "api"))
    result = sitesecrets(env_without_token(live, config), "run", "--token-file", str(token_file),
                         "--service", "api", "--site", site, "--", *PRINT_ENV)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["FROM_FILE_RUN"] == "yes"


def test_run_watch_reads_again_where_the_token_came_from_and_only_what_can_change(config, tmp_path):
    """After the server refuses its token, `run --watch` reads the token's place again: a token file
    or a login can hold a new one while it runs; --token and SITESECRETS_TOKEN cannot."""
    url, environ = "http://127.0.0.1:8716", {"XDG_CONFIG_HOME": str(config)}
    token_file = private_file(tmp_path / "api.token", "ss_first\n")
    from_file = token_source(url, token_file=str(token_file), environ=environ)
    private_file(token_file, "ss_rotated\n")
    assert from_file.read() == "ss_rotated" and str(token_file) in from_file.where
    store_token(str(config / "sitesecrets"), url, "ss_logged_in")
    from_login = token_source(url, environ=environ)
    assert from_login.read() == resolve_token(url, environ=environ) == "ss_logged_in"
    store_token(str(config / "sitesecrets"), url, "ss_logged_in_again")
    assert from_login.read() == "ss_logged_in_again"
    assert token_source(url, environ={**environ, "SITESECRETS_TOKEN": "ss_env"}).read is None
    assert token_source(url, token="ss_option", environ=environ).read is None


def test_run_still_loads_neither_httpx_nor_pydantic_nor_textual():
    code = "import sys, tui.run; print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('httpx', 'pydantic', 'textual'))))"
    result = run_text([sys.executable, "-c", code], env=base_env())
    assert result.returncode == 0 and result.stdout.strip() == ""


def test_login_refuses_plain_http_to_another_host_before_asking(config):
    env = base_env(XDG_CONFIG_HOME=str(config))
    result = sitesecrets(env, "login", "--url", "http://secrets.example", input="ss_never_sent\n")
    assert result.returncode == 2 and "plain http" in result.stderr
    assert not (config / "sitesecrets").exists()


class Listener:
    """Whatever answers on a loopback port (any local user may, README: Shared-host set-up): it
    records the Authorization header of each request and refuses it, as a wrong server would."""

    def __init__(self) -> None:
        import http.server
        import threading

        heard = self.heard = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                heard.append(self.headers.get("Authorization", ""))
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    heard = Listener()
    yield heard
    heard.close()


NOT_A_TOKEN = "pg-Passw0rd-of-the-shop-db"  # what lands in SITESECRETS_TOKEN or a token file by mistake
MASTER_KEY = "q7Xh0m2Vd1c8Jr5Yb6Lk3Nw9Zs4Pt0Ea1Ui2Oy3Gf4A="  # `--token-file master.key`: base64 of 32 bytes


@pytest.mark.parametrize("source", ["token-file", "environment", "option"])
def test_what_is_not_a_token_is_refused_and_sent_nowhere(listener, config, tmp_path, source):
    env, args = base_env(SITESECRETS_URL=listener.url, XDG_CONFIG_HOME=str(config)), ["ls"]
    if source == "token-file":
        args += ["--token-file", str(private_file(tmp_path / "master.key", MASTER_KEY + "\n"))]
        secret = MASTER_KEY
    elif source == "environment":
        env["SITESECRETS_TOKEN"], secret = NOT_A_TOKEN, NOT_A_TOKEN
    else:
        args += ["--token", NOT_A_TOKEN]
        secret = NOT_A_TOKEN
    result = sitesecrets(env, *args)
    assert result.returncode == 2, result.stderr
    assert "does not hold a Site Secrets token" in result.stderr and "ss_" in result.stderr
    assert secret not in result.stderr
    assert listener.heard == []


def test_run_refuses_what_is_not_a_token_and_starts_nothing(listener, config, tmp_path):
    marker = tmp_path / "started"
    env = base_env(SITESECRETS_URL=listener.url, XDG_CONFIG_HOME=str(config), SITESECRETS_TOKEN=NOT_A_TOKEN)
    result = sitesecrets(env, "run", "--service", "api", "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')")
    assert result.returncode == 2 and "does not hold a Site Secrets token" in result.stderr and "not started" in result.stderr
    assert listener.heard == [] and not marker.exists()


def test_login_refuses_a_pasted_password_before_sending_it(listener, config):
    result = sitesecrets(base_env(XDG_CONFIG_HOME=str(config)), "login", "--url", listener.url, input=NOT_A_TOKEN + "\n")
    assert result.returncode == 2 and "not a token (ss_...)" in result.stderr and NOT_A_TOKEN not in result.stderr
    assert listener.heard == [] and not (config / "sitesecrets").exists()


def test_login_refuses_a_piped_line_that_is_not_utf8_in_one_sentence(listener, config):
    env = base_env(XDG_CONFIG_HOME=str(config), PYTHONIOENCODING="utf-8:strict")  # as a UTF-8 locale reads stdin
    result = subprocess.run([sys.executable, "-m", "tui.cli", "login", "--url", listener.url], cwd=REPO, env=env,
                            input=b"ss_\xff\xfe\n", capture_output=True, timeout=60)
    assert result.returncode == 2 and b"Traceback" not in result.stderr, result.stderr
    assert b"not a token (ss_...)" in result.stderr
    assert listener.heard == [] and not (config / "sitesecrets").exists()


def with_userinfo(url: str, userinfo: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{userinfo}@{rest}"


@pytest.mark.parametrize("userinfo", ["ss_pasted-into-the-url", "deploy:db-Passw0rd"])
def test_a_server_url_holding_a_token_or_password_is_refused_unsaid_and_unsent(listener, live, site, config, userinfo):
    # `--url https://TOKEN@host` is the curl habit; the URL is on the command line, in messages and
    # in the credentials file's keys, and httpx would send its user and password as Basic auth
    url = with_userinfo(listener.url, userinfo)
    env = base_env(XDG_CONFIG_HOME=str(config), SITESECRETS_TOKEN=live.admin_token)
    results = [sitesecrets(env, "--url", url, "ls"),
               sitesecrets(env, "run", "--url", url, "--service", "api", "--", "true"),
               sitesecrets(base_env(XDG_CONFIG_HOME=str(config)), "login", "--url", url, input=live.admin_token + "\n")]
    for result in results:
        assert result.returncode in (1, 2) and "Traceback" not in result.stderr, result.stderr
        assert "holds no user name or password" in result.stderr
        assert userinfo.split(":")[-1] not in result.stderr
    assert listener.heard == [] and not (config / "sitesecrets").exists()


def test_a_token_given_as_the_server_url_is_not_repeated(live, config):
    # the token pasted into SITESECRETS_URL too: the refusal lands in a CI log, so it says what went
    # wrong without the token
    env = base_env(XDG_CONFIG_HOME=str(config), SITESECRETS_URL=live.admin_token, SITESECRETS_TOKEN=live.admin_token)
    for args in (["ls"], ["run", "--service", "api", "--", "true"]):
        result = sitesecrets(env, *args)
        assert result.returncode in (1, 2) and "Traceback" not in result.stderr, result.stderr
        assert "is a token, not a server URL" in result.stderr and live.admin_token not in result.stderr
