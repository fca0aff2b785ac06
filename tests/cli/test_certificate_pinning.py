"""Over TCP, `sitesecrets login` pins the https server's certificate (or trusts a CA file) and stores
that with the token; every later command and `run` trusts only that, and a server showing another
certificate is refused, with one sentence naming the pin, before the token is sent.

The server is the real application over the module's data, behind a real TLS listener on loopback
that records what reached it; "the server restarted with a new certificate" is a new listener on
the same port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest

from cli_helpers import REPO, Live, base_env
from pty_process import PtyProcess
from server.app import create_app
from tlsserver import RecordingApp, make_ca, make_certificate, tls_server
from tui.pins import fingerprint_of
from waiting import wait_until

PRINT_ENV = [sys.executable, "-c", "import json,os,sys; sys.stdout.write(json.dumps(dict(os.environ)))"]
MISMATCH = "the server's certificate does not match the one pinned at login"


@contextmanager
def https_front(live: Live, cert_and_key: tuple[Path, Path], port: int = 0) -> Iterator[tuple[str, RecordingApp]]:
    """(https://localhost:PORT, its recorder): the module's server behind TLS with this certificate."""
    app = RecordingApp(create_app(live.server.state))
    with tls_server(*cert_and_key, app=app, port=port) as url:
        yield url, app


def port_of(url: str) -> int:
    return urlsplit(url).port


def fingerprint(cert: Path) -> str:
    import ssl

    return fingerprint_of(ssl.PEM_cert_to_DER_cert(cert.read_text()))


def sitesecrets(config: Path, url: str, *args: str, input: str = "", **env: str) -> subprocess.CompletedProcess:
    child_env = base_env(SITESECRETS_URL=url, XDG_CONFIG_HOME=str(config), **env)
    result = subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=REPO, env=child_env,
                            capture_output=True, input=input.encode(), timeout=60)
    result.stdout, result.stderr = result.stdout.decode(), result.stderr.decode()
    return result


def credentials(config: Path) -> dict:
    path = config / "sitesecrets" / "credentials.json"
    return json.loads(path.read_text()) if path.exists() else {}


def login_pinned(live: Live, config: Path, url: str, cert: Path, token: str | None = None) -> None:
    result = sitesecrets(config, url, "login", "--fingerprint", fingerprint(cert), input=(token or live.admin_token) + "\n")
    assert result.returncode == 0, result.stderr


def service_with_secret(live: Live) -> tuple[str, str]:
    """(site, service token) of a service `api` bound to the secret PINNED_VALUE."""
    site = live.new_site()
    live.put_secret(site, "PINNED_VALUE", "v1")
    live.new_service(site, "api", None, [{"name": "PINNED_VALUE"}])
    return site, live.mint("service", site, "api")


@pytest.fixture
def config(tmp_path) -> Path:
    return tmp_path / "config"


@pytest.fixture
def self_signed(tmp_path) -> tuple[Path, Path]:
    return make_certificate(tmp_path / "first")


@pytest.fixture
def another(tmp_path) -> tuple[Path, Path]:
    return make_certificate(tmp_path / "second")


# --- login -----------------------------------------------------------------------------------------

def test_login_with_the_servers_fingerprint_pins_its_certificate(live, config, self_signed):
    with https_front(live, self_signed) as (url, _):
        result = sitesecrets(config, url, "login", "--fingerprint", fingerprint(self_signed[0]),
                             input=live.admin_token + "\n")
    assert result.returncode == 0, result.stderr
    assert f"pinned ({fingerprint(self_signed[0])})" in result.stderr
    stored = credentials(config)
    assert stored["tokens"] == {url: live.admin_token}
    assert stored["trust"] == {url: {"certificate": self_signed[0].read_text()}}


def test_login_takes_the_fingerprint_as_openssl_prints_it(live, config, self_signed):
    printed = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(self_signed[0])],
                             capture_output=True, text=True, check=True).stdout.strip()  # sha256 Fingerprint=AB:...
    with https_front(live, self_signed) as (url, _):
        result = sitesecrets(config, url, "login", "--fingerprint", printed, input=live.admin_token + "\n")
    assert result.returncode == 0, result.stderr
    assert url in credentials(config)["trust"]


def test_login_with_a_wrong_fingerprint_stores_nothing_and_asks_for_no_token(live, config, self_signed, another):
    with https_front(live, self_signed) as (url, app):
        result = sitesecrets(config, url, "login", "--fingerprint", fingerprint(another[0]),
                             input=live.admin_token + "\n")
    assert result.returncode == 1
    assert f"has the fingerprint {fingerprint(self_signed[0])}, not the one given with --fingerprint" in result.stderr
    assert "nothing was stored" in result.stderr
    assert credentials(config) == {} and app.tokens_seen() == 0


def test_login_at_a_pipe_without_a_fingerprint_refuses_a_self_signed_certificate(live, config, self_signed):
    with https_front(live, self_signed) as (url, app):
        result = sitesecrets(config, url, "login", input=live.admin_token + "\n")
    assert result.returncode == 1
    assert "the server's TLS certificate was refused: self-signed certificate" in result.stderr
    assert fingerprint(self_signed[0]) in result.stderr and "--fingerprint" in result.stderr
    assert credentials(config) == {} and app.tokens_seen() == 0


def test_login_at_a_terminal_shows_the_fingerprint_and_pins_on_yes(live, config, self_signed):
    with https_front(live, self_signed) as (url, _):
        tty = PtyProcess([sys.executable, "-m", "tui.cli", "login"],
                         base_env(SITESECRETS_URL=url, XDG_CONFIG_HOME=str(config)), str(REPO))
        tty.wait_for(f"pin this certificate for {url}? [y/N] ")
        assert fingerprint(self_signed[0]) in tty.output
        tty.type("y\n")
        tty.wait_for(f"token for {url}: ")
        tty.type(live.admin_token + "\n")
        assert tty.finish() == 0, tty.output
    assert credentials(config)["trust"] == {url: {"certificate": self_signed[0].read_text()}}


def test_login_at_a_terminal_answered_no_stores_nothing(live, config, self_signed):
    with https_front(live, self_signed) as (url, app):
        tty = PtyProcess([sys.executable, "-m", "tui.cli", "login"],
                         base_env(SITESECRETS_URL=url, XDG_CONFIG_HOME=str(config)), str(REPO))
        tty.wait_for("[y/N] ")
        tty.type("\n")
        assert tty.finish() == 1
    assert "not pinned; nothing was stored" in tty.output and "token for" not in tty.output
    assert credentials(config) == {} and app.tokens_seen() == 0


def test_login_again_at_a_terminal_says_the_certificate_is_not_the_pinned_one(live, config, self_signed, another):
    with https_front(live, self_signed) as (url, _):
        login_pinned(live, config, url, self_signed[0])
    with https_front(live, another, port=port_of(url)):
        tty = PtyProcess([sys.executable, "-m", "tui.cli", "login"],
                         base_env(SITESECRETS_URL=url, XDG_CONFIG_HOME=str(config)), str(REPO))
        tty.wait_for("[y/N] ")
        tty.type("n\n")
        assert tty.finish() == 1
    assert f"not the certificate pinned at the last login ({fingerprint(self_signed[0])})" in tty.output
    assert credentials(config)["trust"] == {url: {"certificate": self_signed[0].read_text()}}  # unchanged


def test_fingerprint_and_ca_file_apply_to_https_only(live, config, tmp_path):
    ca_cert, _ = make_ca(tmp_path / "ca")
    for option in (["--fingerprint", "SHA256:" + "AB" * 32], ["--ca-file", str(ca_cert)]):
        result = sitesecrets(config, live.url, "login", *option, input=live.admin_token + "\n")
        assert result.returncode == 2 and "https server URLs only" in result.stderr
    assert credentials(config) == {}


def test_logout_forgets_the_pinned_certificate_with_the_token(live, config, self_signed):
    with https_front(live, self_signed) as (url, _):
        login_pinned(live, config, url, self_signed[0])
    result = sitesecrets(config, url, "logout")
    assert result.returncode == 0
    assert credentials(config) == {"tokens": {}, "trust": {}, "sites": {}}


# --- later connections -----------------------------------------------------------------------------

def test_after_pinning_a_command_and_run_work(live, config, self_signed):
    site, service_token = service_with_secret(live)
    with https_front(live, self_signed) as (url, _):
        login_pinned(live, config, url, self_signed[0])  # as admin; run uses the service's token
        listed = sitesecrets(config, url, "services", "ls", "--site", site, "--json")
        ran = sitesecrets(config, url, "run", "--service", "api", "--site", site, "--", *PRINT_ENV,
                          SITESECRETS_TOKEN=service_token)
    assert listed.returncode == 0, listed.stderr
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["PINNED_VALUE"] == "v1"


def test_a_command_refuses_a_changed_certificate_before_sending_the_token(live, config, self_signed, another):
    with https_front(live, self_signed) as (url, _):
        login_pinned(live, config, url, self_signed[0])
    with https_front(live, another, port=port_of(url)) as (_, app):
        result = sitesecrets(config, url, "apps", "ls")
    assert result.returncode == 1
    assert f"{MISMATCH} ({fingerprint(self_signed[0])}); if the server's certificate changed, " \
           "run `sitesecrets login` again" in result.stderr
    assert app.requests == []  # refused in the handshake: nothing, token least of all, was sent


def test_the_pin_holds_for_a_token_from_the_environment_too(live, config, self_signed, another):
    with https_front(live, self_signed) as (url, _):
        login_pinned(live, config, url, self_signed[0])
    with https_front(live, another, port=port_of(url)) as (_, app):
        result = sitesecrets(config, url, "apps", "ls", SITESECRETS_TOKEN=live.admin_token)
    assert result.returncode == 1 and MISMATCH in result.stderr
    assert app.requests == []


def test_run_refuses_a_changed_certificate_and_starts_nothing(live, config, self_signed, another, tmp_path):
    site, service_token = service_with_secret(live)
    with https_front(live, self_signed) as (url, _):
        login_pinned(live, config, url, self_signed[0], token=service_token)
    marker = tmp_path / "started"
    with https_front(live, another, port=port_of(url)) as (_, app):
        result = sitesecrets(config, url, "run", "--service", "api", "--site", site, "--",
                             sys.executable, "-c", f"open({str(marker)!r}, 'w')")
    assert result.returncode == 1
    assert f"{MISMATCH} ({fingerprint(self_signed[0])})" in result.stderr and "not started" in result.stderr
    assert app.requests == [] and not marker.exists()


# --- a CA file -------------------------------------------------------------------------------------

@pytest.fixture
def ca(tmp_path) -> tuple[Path, Path]:
    return make_ca(tmp_path / "ca", "Our CA")


def test_login_with_a_ca_file_trusts_what_that_ca_issued(live, config, ca, tmp_path):
    site, service_token = service_with_secret(live)
    with https_front(live, make_certificate(tmp_path / "leaf", issuer=ca)) as (url, _):
        result = sitesecrets(config, url, "login", "--ca-file", str(ca[0]), input=live.admin_token + "\n")
        assert result.returncode == 0, result.stderr
        assert credentials(config)["trust"] == {url: {"ca_file": str(ca[0])}}
        # the server renews: another certificate from the same CA needs no new login
    with https_front(live, make_certificate(tmp_path / "renewed", issuer=ca), port=port_of(url)):
        listed = sitesecrets(config, url, "services", "ls", "--site", site)
        ran = sitesecrets(config, url, "run", "--service", "api", "--site", site, "--", *PRINT_ENV,
                          SITESECRETS_TOKEN=service_token)
    assert listed.returncode == 0, listed.stderr
    assert ran.returncode == 0 and json.loads(ran.stdout)["PINNED_VALUE"] == "v1"


def test_a_certificate_from_another_ca_is_refused_after_login_with_a_ca_file(live, config, ca, tmp_path):
    site, service_token = service_with_secret(live)
    with https_front(live, make_certificate(tmp_path / "leaf", issuer=ca)) as (url, _):
        assert sitesecrets(config, url, "login", "--ca-file", str(ca[0]), input=live.admin_token + "\n").returncode == 0
    other_ca = make_ca(tmp_path / "other-ca", "Their CA")
    with https_front(live, make_certificate(tmp_path / "theirs", issuer=other_ca), port=port_of(url)) as (_, app):
        listed = sitesecrets(config, url, "services", "ls", "--site", site)
        ran = sitesecrets(config, url, "run", "--service", "api", "--site", site, "--", *PRINT_ENV,
                          SITESECRETS_TOKEN=service_token)
    for result in (listed, ran):
        assert result.returncode == 1
        assert (f"the server's TLS certificate was refused: unable to get local issuer certificate "
                f"(checked against the CA file {ca[0]})") in result.stderr
    assert app.requests == []


def test_login_with_a_ca_file_that_did_not_issue_the_certificate_stores_nothing(live, config, ca, self_signed):
    with https_front(live, self_signed) as (url, app):
        result = sitesecrets(config, url, "login", "--ca-file", str(ca[0]), input=live.admin_token + "\n")
    assert result.returncode == 1 and "was refused" in result.stderr and "nothing was stored" in result.stderr
    assert credentials(config) == {} and app.tokens_seen() == 0


def test_a_ca_file_gone_since_login_is_named(live, config, ca, tmp_path):
    with https_front(live, make_certificate(tmp_path / "leaf", issuer=ca)) as (url, _):
        assert sitesecrets(config, url, "login", "--ca-file", str(ca[0]), input=live.admin_token + "\n").returncode == 0
        ca[0].unlink()
        result = sitesecrets(config, url, "apps", "ls")
    assert result.returncode == 2
    assert f"cannot use the CA file {ca[0]} (No such file or directory), given at login for {url}" in result.stderr


WATCHED_CHILD = ("import os, signal\n"
                 "with open(os.environ['WATCH_RECORD'], 'a') as out:\n"
                 "    out.write(f\"{os.getpid()} {os.environ['PINNED_VALUE']}\\n\")\n"
                 "signal.pause()\n")


def test_run_watch_outlives_a_ca_file_gone_for_a_while(live, config, ca, tmp_path):
    """The CA file is replaced by deleting it and writing the new one (a renewal): meanwhile the
    watch cannot connect, says so, and keeps trying; once the file is back it sees changes again."""
    site, service_token = service_with_secret(live)
    record, err = tmp_path / "starts.txt", tmp_path / "stderr.txt"
    ca_pem = ca[0].read_bytes()

    def started(value: str) -> list[int]:
        lines = record.read_text().splitlines() if record.exists() else []
        return [int(pid) for pid, seen in (line.split() for line in lines) if seen == value]

    with https_front(live, make_certificate(tmp_path / "leaf", issuer=ca)) as (url, app):
        assert sitesecrets(config, url, "login", "--ca-file", str(ca[0]), input=service_token + "\n").returncode == 0
        env = base_env(SITESECRETS_URL=url, XDG_CONFIG_HOME=str(config), WATCH_RECORD=str(record))
        argv = [sys.executable, "-m", "tui.cli", "run", "--watch", "--grace", "5", "--service", "api", "--site", site,
                "--", sys.executable, "-c", WATCHED_CHILD]
        with open(err, "wb") as stderr:
            supervisor = subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stderr=stderr)
        try:
            wait_until(lambda: started("v1"), "the first start")
            wait_until(lambda: len([r for r in app.requests if r[0] == "GET" and r[1].endswith("/env")]) == 2,
                       "the waiting fetch after the first one")
            ca[0].unlink()  # the change below still arrives on the fetch that is already waiting
            live.ok("PATCH", f"/v1/sites/{site}/secrets/PINNED_VALUE", json={"value": "v2"})
            wait_until(lambda: started("v2"), "a start with v2")
            wait_until(lambda: f"cannot use the CA file {ca[0]}" in err.read_text(),
                       "the watch saying why it cannot connect")
            ca[0].write_bytes(ca_pem)
            live.ok("PATCH", f"/v1/sites/{site}/secrets/PINNED_VALUE", json={"value": "v3"})
            wait_until(lambda: started("v3"), "a start with v3, once the CA file is back")
            assert supervisor.poll() is None and "Traceback" not in err.read_text()
        finally:
            supervisor.kill()
            supervisor.wait(60)
            # its waiting fetch is still held by the server (up to 60 s) and the front's shutdown
            # would wait for it: a change ends the wait now
            live.ok("PATCH", f"/v1/sites/{site}/secrets/PINNED_VALUE", json={"value": "v4"})
            for value in ("v1", "v2", "v3"):  # the children run in sessions of their own
                for pid in started(value):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
