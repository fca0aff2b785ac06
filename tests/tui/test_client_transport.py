"""How the client reaches the server: over its unix socket, never through a proxy the environment
names, with a plain-http-to-loopback notice, and a refused certificate called by its name."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from server.embedded import EmbeddedServer
from tlsserver import make_certificate, tls_server
from tui import cli
from tui.client import InsecureTransportError, ServerUnreachable, SiteSecretsClient
from tui.settings import Settings
from tui.urls import check_proxy, check_url
from tui.ui.textual_private import notification_messages
from tui_helpers import loaded, running

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture
def tcp_server(tmp_path):
    """A real server on a loopback TCP port (the module's shared one is on a unix socket)."""
    with EmbeddedServer.start(tmp_path / "tcp-data") as running:
        yield running


# --- the unix socket ---------------------------------------------------------------------------

def test_client_talks_to_the_server_over_its_unix_socket(secrets_server):
    assert secrets_server.url.startswith("unix:///")
    client = SiteSecretsClient(secrets_server.url, secrets_server.admin_token)
    try:
        assert client.whoami().role.value == "admin"
    finally:
        client.close()


def test_a_unix_url_naming_a_regular_file_says_it_is_not_a_socket(tmp_path):
    plain = tmp_path / "not-a-socket"
    plain.write_text("")
    with pytest.raises(ServerUnreachable) as caught:
        SiteSecretsClient(f"unix://{plain}", "t").whoami()
    assert caught.value.reason == f"{plain} is not a socket; SITESECRETS_URL=unix://PATH must name the server's socket"


def test_a_unix_url_with_nothing_there_says_no_server_socket(tmp_path):
    with pytest.raises(ServerUnreachable, match="there is no server socket at .*is the server running"):
        SiteSecretsClient(f"unix://{tmp_path / 'gone.sock'}", "t").whoami()


@pytest.mark.parametrize("url", ["unix://relative/api.sock", "unix://host/run/api.sock", "unix:api.sock"])
def test_a_unix_url_must_name_an_absolute_path(url):
    with pytest.raises(ValueError, match="unix:///"):
        check_url(url)


def test_the_tui_opens_on_a_unix_socket_url(secrets_server, monkeypatch):
    seen = {}

    def fake_run_tui(client: SiteSecretsClient, settings: Settings, learnt=None) -> int:
        seen["role"] = client.whoami().role.value
        return 0

    monkeypatch.setattr(cli, "run_tui", fake_run_tui)
    assert cli.main(["--url", secrets_server.url, "--token", secrets_server.admin_token]) == 0
    assert seen == {"role": "admin"}


# --- sitesecrets local ---------------------------------------------------------------------------

def _tcp_listeners_of_this_process() -> set[str]:
    """Inodes of the TCP sockets in LISTEN state that this process holds open."""
    held = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(target[8:-1])
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                if fields[3] == "0A":  # TCP_LISTEN
                    listening.add(fields[9])
    return held & listening


def test_local_opens_no_tcp_listener_and_serves_on_a_socket_in_a_private_directory(tmp_path, monkeypatch):
    before = _tcp_listeners_of_this_process()
    seen = {}

    def fake_run_tui(client: SiteSecretsClient, settings: Settings) -> int:
        seen["new listeners"] = _tcp_listeners_of_this_process() - before
        seen["url"], seen["role"] = settings.url, client.whoami().role.value
        directory = Path(settings.url.removeprefix("unix://")).parent
        info = directory.stat()
        seen["directory"] = (stat.S_IMODE(info.st_mode), info.st_uid)
        return 0

    monkeypatch.setattr(cli, "run_tui", fake_run_tui)
    assert cli.main(["local", "--data-dir", str(tmp_path / "data")]) == 0
    assert seen["new listeners"] == set()
    assert seen["url"].startswith("unix:///") and seen["role"] == "admin"
    assert seen["directory"] == (0o700, os.getuid())
    assert not Path(seen["url"].removeprefix("unix://")).parent.exists()  # removed when local ends


# --- proxies -------------------------------------------------------------------------------------

def test_proxy_variables_are_ignored(tcp_server, monkeypatch):
    with socket.socket() as proxy:
        proxy.bind(("127.0.0.1", 0))
        proxy.listen(8)
        proxy_url = f"http://127.0.0.1:{proxy.getsockname()[1]}"
        for name in PROXY_VARIABLES:
            monkeypatch.setenv(name, proxy_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        client = SiteSecretsClient(tcp_server.url, tcp_server.admin_token, timeout=5)
        try:
            assert client.whoami().role.value == "admin"
        finally:
            client.close()
        proxy.setblocking(False)
        with pytest.raises(BlockingIOError):  # no connection ever reached the proxy's backlog
            proxy.accept()


def test_a_plain_http_proxy_on_another_host_is_refused_for_a_plain_http_server():
    with pytest.raises(InsecureTransportError, match="proxy proxy.example"):
        SiteSecretsClient("http://127.0.0.1:8716", "t", proxy="http://proxy.example:3128")


def test_insecure_allows_a_plain_http_proxy_on_another_host():
    SiteSecretsClient("http://127.0.0.1:8716", "t", proxy="http://proxy.example:3128", insecure=True).close()


@pytest.mark.parametrize("proxy, server", [
    ("http://127.0.0.1:3128", "http://127.0.0.1:8716"),    # the proxy is on this machine
    ("https://proxy.example", "http://127.0.0.1:8716"),    # TLS to the proxy
    ("http://proxy.example:3128", "https://secrets.example"),  # a CONNECT tunnel: the proxy sees no token
])
def test_a_proxy_that_sees_no_token_in_clear_off_this_machine_is_accepted(proxy, server):
    assert check_proxy(proxy, server) == proxy


def test_a_proxy_cannot_be_combined_with_a_unix_socket():
    with pytest.raises(ValueError, match="unix socket"):
        SiteSecretsClient("unix:///run/sitesecrets/api.sock", "t", proxy="http://127.0.0.1:3128")


def test_a_bad_proxy_url_is_refused():
    with pytest.raises(ValueError, match="not a proxy URL"):
        SiteSecretsClient("http://127.0.0.1:8716", "t", proxy="socks5://127.0.0.1:1080")


def test_the_tuis_proxy_option_refuses_a_password_without_repeating_it(capsys):
    from tui import cli

    with pytest.raises(SystemExit) as stopped:
        cli.parse_args(["--proxy", "http://me:hunter2@127.0.0.1:3128"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "SITESECRETS_PROXY" in err and "hunter2" not in err


# --- the plain-http notice -----------------------------------------------------------------------

async def test_the_tui_notes_once_that_plain_http_to_loopback_could_be_anyone(tcp_server):
    from tui.ui.app import SiteSecretsApp

    client = SiteSecretsClient(tcp_server.url, tcp_server.admin_token)
    app = SiteSecretsApp(client, Settings(url=tcp_server.url), client.whoami())
    try:
        async with running(app, size=(100, 30), notifications=True) as (app, pilot):
            await pilot.press("r")
            await loaded(pilot)
            notices = [m for m in notification_messages(app) if "local user" in m]
            assert notices == ["Plain http to 127.0.0.1: any local user could be answering on that port; "
                               "use the server's unix socket (unix:///path) or https"]
    finally:
        client.close()


async def test_the_tui_on_a_unix_socket_shows_no_plain_http_notice(started):
    async with started(size=(100, 30), notifications=True) as (app, pilot):
        assert not [m for m in notification_messages(app) if "local user" in m]


# --- certificates --------------------------------------------------------------------------------

def test_a_self_signed_certificate_is_named_as_the_reason(tmp_path):
    with tls_server(*make_certificate(tmp_path)) as url:
        with pytest.raises(ServerUnreachable) as caught:
            SiteSecretsClient(url, "t", timeout=5).health()
    assert caught.value.reason == "the server's TLS certificate was refused: self-signed certificate"
    assert str(caught.value) == f"Cannot reach the server at {url} (the server's TLS certificate was refused: " \
                                "self-signed certificate)."


def test_the_tui_start_names_a_refused_certificate(tmp_path, capsys):
    with tls_server(*make_certificate(tmp_path)) as url:
        capsys.readouterr()
        status = cli.main(["--url", url, "--token", "ss_t"])
    assert status == 1  # no retry mends it: refused, as for every command
    assert capsys.readouterr().err.splitlines()[-1] == (f"sitesecrets: Cannot reach the server at {url} (the server's "
                                                        "TLS certificate was refused: self-signed certificate).")
