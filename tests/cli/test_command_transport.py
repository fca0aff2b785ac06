"""How `sitesecrets` commands and `sitesecrets run` reach the server: over its unix socket, past
proxy variables, with a one-line warning for plain http to loopback, and a refused certificate
called by its name. Real child processes, real servers."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Iterator

import pytest

from cli_helpers import Live, RecordingProxy, base_env, http_client, run_text
from server.embedded import EmbeddedServer
from tlsserver import make_certificate, tls_server

PRINT_KEY = [sys.executable, "-c", "import os; print(os.environ['KEY'])"]
LOOPBACK_WARNING = ("warning: plain http to 127.0.0.1: any local user could be answering on that port; "
                    "use the server's unix socket (unix:///path) or https")
_site_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def tcp(tmp_path_factory) -> Iterator[EmbeddedServer]:
    """A second real server, on a loopback TCP port (the module's `live` one is on a unix socket)."""
    with EmbeddedServer.start(tmp_path_factory.mktemp("tcp") / "data") as running:
        yield running


def run_service(url: str, token: str, site: str, *extra: str, env: dict[str, str] | None = None):
    """`sitesecrets run --service api` printing KEY, against `url`."""
    child_env = base_env(SITESECRETS_URL=url, SITESECRETS_TOKEN=token, **(env or {}))
    return run_text([sys.executable, "-m", "tui.cli", "run", "--service", "api", "--site", site, *extra, "--",
                     *PRINT_KEY], env=child_env)


def service_site(server_url: str, admin_token: str) -> tuple[str, str]:
    """(site, service token): a new site on the server whose service `api` binds KEY."""
    with http_client(server_url, headers={"Authorization": f"Bearer {admin_token}"}) as api:
        name = f"tr-{next(_site_numbers)}"
        assert api.post("/v1/sites", json={"name": name}).status_code == 201
        api.post(f"/v1/sites/{name}/secrets", json={"name": "KEY", "value": "the value"})
        api.post(f"/v1/sites/{name}/services", json={"name": "api", "secrets": [{"name": "KEY"}]})
        token = api.post("/v1/tokens", json={"name": "svc", "role": "service", "site": name, "service": "api"})
    return name, token.json()["token"]


# --- the unix socket ---------------------------------------------------------------------------

def test_a_command_works_over_the_unix_socket_without_a_warning(live: Live, cli, site):
    assert live.url.startswith("unix:///")
    live.put_secret(site, "KEY", "over the socket")
    result = cli("get", "KEY", site=site)
    assert (result.returncode, result.stdout, result.stderr) == (0, "over the socket", "")


def test_run_works_over_the_unix_socket_without_a_warning(live: Live):
    site, token = service_site(live.url, live.admin_token)
    result = run_service(live.url, token, site)
    assert (result.returncode, result.stdout, result.stderr) == (0, "the value\n", "")


def test_a_command_on_a_path_that_is_no_socket_says_so(live: Live, cli, tmp_path: Path):
    plain = tmp_path / "plain-file"
    plain.write_text("")
    result = cli("ls", url=f"unix://{plain}")
    assert result.returncode == 1
    assert f"{plain} is not a socket" in result.stderr


def test_run_on_a_path_where_no_socket_is_says_so_exits_75_and_starts_nothing(live: Live, tmp_path: Path):
    result = run_service(f"unix://{tmp_path / 'missing.sock'}", "ss_token", "default",
                         env={"SITESECRETS_RETRY_SECONDS": "0"})  # its retries: test_exit_statuses
    assert result.returncode == 75 and result.stdout == ""  # the server may be restarting
    assert f"there is no server socket at {tmp_path / 'missing.sock'}" in result.stderr
    assert "was not started" in result.stderr


# --- plain http to loopback ----------------------------------------------------------------------

def test_a_command_over_plain_http_to_loopback_warns_once(tcp, cli):
    # `set` makes two requests (the site's limits, then the write): still one warning
    result = cli("set", "WARNED", input="x", site="default", url=tcp.url, token=tcp.admin_token)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("any local user") == 1
    assert result.stderr.splitlines()[0] == f"sitesecrets: {LOOPBACK_WARNING}"


def test_run_over_plain_http_to_loopback_warns_once_and_still_starts(tcp):
    site, token = service_site(tcp.url, tcp.admin_token)
    result = run_service(tcp.url, token, site)
    assert (result.returncode, result.stdout) == (0, "the value\n")
    assert result.stderr == f"sitesecrets run: {LOOPBACK_WARNING}\n"


def test_login_over_plain_http_to_loopback_warns_before_the_token_is_sent(tcp, tmp_path):
    """README: plain http to a loopback address works but prints a one-line warning; `login`, which
    sends the token and keeps it for that URL, printed none."""
    env = base_env(XDG_CONFIG_HOME=str(tmp_path))
    result = run_text([sys.executable, "-m", "tui.cli", "login", "--url", tcp.url], env=env, input=tcp.admin_token + "\n")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == f"sitesecrets: {LOOPBACK_WARNING}" and lines[1].startswith("logged in to")
    assert result.stderr.count("any local user") == 1


# --- proxies -------------------------------------------------------------------------------------

def test_proxy_variables_never_see_a_command(tcp, cli):
    proxy = RecordingProxy(tcp.url)
    try:
        variables = {name: proxy.url for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy")}
        result = cli("ls", "--json", site="default", url=tcp.url, token=tcp.admin_token, env=variables)
    finally:
        proxy.close()
    assert result.returncode == 0, result.stderr
    assert proxy.requests == []


def test_a_named_proxy_is_used(tcp, cli):
    proxy = RecordingProxy(tcp.url)
    try:
        result = cli("ls", "--json", "--proxy", proxy.url, site="default", url=tcp.url, token=tcp.admin_token)
    finally:
        proxy.close()
    assert result.returncode == 0, result.stderr
    # a proxy receives the absolute URL: this request went through it, to the server
    assert proxy.requests == [("GET", f"{tcp.url}/v1/sites/default/secrets", 0)]


def test_a_plain_http_proxy_off_this_machine_is_refused_before_anything_is_sent(tcp, cli):
    result = cli("ls", site="default", url=tcp.url, token=tcp.admin_token,
                 env={"SITESECRETS_PROXY": "http://proxy.example:3128"})
    assert result.returncode == 2
    assert "proxy proxy.example" in result.stderr and "--insecure" in result.stderr


def test_a_proxy_password_on_the_command_line_is_refused_without_being_repeated(tcp, cli):
    result = cli("ls", "--proxy", "http://me:hunter2@127.0.0.1:3128", site="default", url=tcp.url, token=tcp.admin_token)
    assert result.returncode == 2
    assert "SITESECRETS_PROXY" in result.stderr and "hunter2" not in result.stderr


def test_a_proxy_password_in_sitesecrets_proxy_is_used(tcp, cli):
    proxy = RecordingProxy(tcp.url)
    try:
        with_password = proxy.url.replace("http://", "http://me:hunter2@")
        result = cli("ls", "--json", site="default", url=tcp.url, token=tcp.admin_token, env={"SITESECRETS_PROXY": with_password})
    finally:
        proxy.close()
    assert result.returncode == 0, result.stderr
    assert proxy.requests == [("GET", f"{tcp.url}/v1/sites/default/secrets", 0)]


def test_a_proxy_url_refused_for_its_scheme_is_quoted_without_its_password(tcp, cli):
    result = cli("ls", site="default", url=tcp.url, token=tcp.admin_token, env={"SITESECRETS_PROXY": "ftp://me:hunter2@proxy.example"})
    assert result.returncode == 2
    assert "not a proxy URL" in result.stderr and "hunter2" not in result.stderr


# --- certificates --------------------------------------------------------------------------------

def test_a_command_names_a_self_signed_certificate(cli, tmp_path: Path):
    with tls_server(*make_certificate(tmp_path)) as url:
        result = cli("ls", url=url, token="ss_token")
    assert result.returncode == 1
    assert result.stderr == (f"sitesecrets: Cannot reach the server at {url} "
                             "(the server's TLS certificate was refused: self-signed certificate).\n")


def test_run_names_a_self_signed_certificate_and_starts_nothing(tmp_path: Path):
    with tls_server(*make_certificate(tmp_path)) as url:
        result = run_service(url, "ss_token", "default")
    assert result.returncode == 1 and result.stdout == ""
    assert "the server's TLS certificate was refused: self-signed certificate" in result.stderr


def test_run_names_a_certificate_for_another_host(tmp_path: Path):
    cert, key = make_certificate(tmp_path, host="other.example")
    with tls_server(cert, key) as url:  # trusted, but made for another name than localhost
        result = run_service(url, "ss_token", "default", env={"SSL_CERT_FILE": str(cert)})
    assert result.returncode == 1
    assert "the server's TLS certificate was refused: Hostname mismatch" in result.stderr


def test_run_names_an_expired_certificate(tmp_path: Path):
    cert, key = make_certificate(tmp_path, expired=True)
    with tls_server(cert, key) as url:
        result = run_service(url, "ss_token", "default", env={"SSL_CERT_FILE": str(cert)})
    assert result.returncode == 1
    assert "the server's TLS certificate was refused: certificate has expired" in result.stderr

