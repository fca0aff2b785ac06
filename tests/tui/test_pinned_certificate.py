"""The client the TUI and the scripting commands share trusts an https server as `sitesecrets login`
decided (`tui.pins`): the pinned certificate alone, refused with one sentence naming the pin when
another shows up; and the pin itself: any certificate (a CA's leaf for another host too), the
fingerprint as openssl or ssh writes it, an expired pin named as such."""

from __future__ import annotations

import base64
import hashlib
import ssl

import pytest

from tlsserver import make_ca, make_certificate, tls_server
from tui import cli
from tui.client import ServerUnreachable, SiteSecretsClient
from tui.credentials import config_dir, store_token
from tui.pins import Trust, fingerprint_of, parse_fingerprint
from tui.stdconn import failure_reason, open_connection


def der_of(cert) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.read_text())


@pytest.fixture
def logged_in(tmp_path, monkeypatch):
    """`pin(url, cert)`: store a token and `cert` pinned for `url`, as `sitesecrets login` does."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    def pin(url: str, cert) -> None:
        store_token(config_dir(), url, "ss_pinned", Trust.pin(der_of(cert)))

    return pin


def test_the_client_talks_to_the_server_whose_certificate_is_pinned(tmp_path, logged_in):
    cert, key = make_certificate(tmp_path / "a")
    with tls_server(cert, key) as url:
        logged_in(url, cert)
        # self-signed, yet trusted: it is the pin (the test server answers {} to anything)
        assert SiteSecretsClient(url, "ss_pinned", timeout=5).request("GET", "/v1/health", None) is None


def test_the_client_refuses_another_certificate_naming_the_pin(tmp_path, logged_in):
    pinned, _ = make_certificate(tmp_path / "a")
    with tls_server(*make_certificate(tmp_path / "b")) as url:
        logged_in(url, pinned)
        with pytest.raises(ServerUnreachable) as caught:
            SiteSecretsClient(url, "ss_pinned", timeout=5).health()
    assert caught.value.reason == (f"the server's certificate does not match the one pinned at login "
                                   f"({fingerprint_of(der_of(pinned))}); if the server's certificate changed, "
                                   "run `sitesecrets login` again")


def test_the_tui_start_names_a_certificate_that_is_not_the_pinned_one(tmp_path, logged_in, capsys):
    pinned, _ = make_certificate(tmp_path / "a")
    with tls_server(*make_certificate(tmp_path / "b")) as url:
        logged_in(url, pinned)
        capsys.readouterr()
        status = cli.main(["--url", url])
    assert status == 1 and "does not match the one pinned at login" in capsys.readouterr().err


def test_run_s_connection_refuses_another_certificate_naming_the_pin(tmp_path, logged_in):
    pinned, _ = make_certificate(tmp_path / "a")
    with tls_server(*make_certificate(tmp_path / "b")) as url:
        logged_in(url, pinned)
        conn, _ = open_connection(url, 5)
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            conn.request("GET", "/v1/health")
    assert failure_reason(caught.value).startswith("the server's certificate does not match the one pinned at login")


def test_a_pinned_leaf_issued_by_a_ca_is_trusted_alone_whatever_its_host_name(tmp_path, logged_in):
    ca = make_ca(tmp_path / "ca")
    leaf, key = make_certificate(tmp_path / "leaf", host="elsewhere.example", issuer=ca)  # no CA of its own
    with tls_server(leaf, key) as url:
        logged_in(url, leaf)
        assert SiteSecretsClient(url, "ss_pinned", timeout=5).request("GET", "/v1/health", None) is None


def test_an_expired_pinned_certificate_is_named_as_expired(tmp_path, logged_in):
    cert, key = make_certificate(tmp_path / "old", expired=True)
    with tls_server(cert, key) as url:
        logged_in(url, cert)
        with pytest.raises(ServerUnreachable) as caught:
            SiteSecretsClient(url, "ss_pinned", timeout=5).health()
    assert caught.value.reason.startswith(f"the certificate pinned at login ({fingerprint_of(der_of(cert))}) "
                                          "is refused: certificate has expired")


def test_a_url_with_nothing_pinned_still_uses_the_ca_bundle(tmp_path, logged_in):
    with tls_server(*make_certificate(tmp_path / "a")) as url:
        logged_in("https://localhost:1", tmp_path / "a" / "cert.pem")  # another server's pin
        with pytest.raises(ServerUnreachable) as caught:
            SiteSecretsClient(url, "t", timeout=5).health()
    assert caught.value.reason == "the server's TLS certificate was refused: self-signed certificate"


def test_a_fingerprint_is_read_as_openssl_or_ssh_writes_it():
    digest = hashlib.sha256(b"certificate").digest()
    colons = ":".join(f"{b:02X}" for b in digest)
    for written in (f"SHA256:{colons}", f"sha256 Fingerprint={colons}", digest.hex(), colons.lower(),
                    "SHA256:" + base64.b64encode(digest).decode().rstrip("=")):
        assert parse_fingerprint(written) == digest, written


@pytest.mark.parametrize("written", ["", "SHA256:", "SHA256:ABCD", "MD5:" + "AB" * 16, "SHA256:" + "ZZ" * 32])
def test_anything_else_is_not_a_fingerprint(written):
    with pytest.raises(ValueError, match="is not a SHA-256 fingerprint"):
        parse_fingerprint(written)
