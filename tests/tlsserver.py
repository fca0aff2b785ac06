"""A real TLS server on loopback with a certificate made for the test: self-signed (for another
host name, or expired) or issued by a CA made for the test. By default the application behind it
answers every request with `{}` (tests about the handshake, which fails before any request is
read); `RecordingApp` puts a real application behind it and notes what reached it."""

from __future__ import annotations

import datetime
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.wsgiserver import WSGIServer


def _write(directory: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)  # the server refuses a key every user may read
    return cert_path, key_path


def make_certificate(directory: Path, host: str = "localhost", expired: bool = False,
                     issuer: tuple[Path, Path] | None = None) -> tuple[Path, Path]:
    """(cert.pem, key.pem): a certificate for `host`, valid now unless `expired`; self-signed, or
    a leaf (no CA) signed by `issuer`, the (cert.pem, key.pem) of `make_ca`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = (now - datetime.timedelta(days=3), now - datetime.timedelta(days=2)) if expired else \
        (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1))
    if issuer is None:
        issuer_name, signing_key, is_ca = name, key, True
    else:
        ca_cert = x509.load_pem_x509_certificate(issuer[0].read_bytes())
        issuer_name, signing_key, is_ca = ca_cert.subject, serialization.load_pem_private_key(issuer[1].read_bytes(), None), False
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .sign(signing_key, hashes.SHA256())
    )
    return _write(directory, cert, key)


def make_ca(directory: Path, name: str = "Test CA") -> tuple[Path, Path]:
    """(cert.pem, key.pem) of a CA that `make_certificate(issuer=...)` issues leaves with."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _write(directory, cert, key)


def _empty_json(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
    return [b"{}"]


class RecordingApp:
    """`app`, noting each request that reached it: (method, path, whether it had a token)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, str, bool]] = []

    def __call__(self, environ, start_response):
        self.requests.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), "HTTP_AUTHORIZATION" in environ))
        return self.app(environ, start_response)

    def tokens_seen(self) -> int:
        return sum(1 for _, _, had_token in self.requests if had_token)


@contextmanager
def tls_server(cert: Path, key: Path, app: Any = _empty_json, port: int = 0) -> Iterator[str]:
    """Serve `app` over https on a loopback port (0: any) with `cert`; yields `https://localhost:PORT`."""
    server = WSGIServer(app, "127.0.0.1", port, tls_cert=cert, tls_key=key)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url.replace("127.0.0.1", "localhost")
    finally:
        server.shutdown()
        thread.join()
