"""A real TLS server on loopback with a certificate made for the test: self-signed, for another
host name, or expired. The application behind it answers every request with `{}`; the tests using
it are about the handshake, which fails before any request is read."""

from __future__ import annotations

import datetime
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.wsgiserver import WSGIServer


def make_certificate(directory: Path, host: str = "localhost", expired: bool = False) -> tuple[Path, Path]:
    """(cert.pem, key.pem): a self-signed certificate for `host`, valid now unless `expired`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = (now - datetime.timedelta(days=3), now - datetime.timedelta(days=2)) if expired else \
        (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1))
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _empty_json(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
    return [b"{}"]


@contextmanager
def tls_server(cert: Path, key: Path) -> Iterator[str]:
    """Serve https on a loopback port with `cert`; yields `https://localhost:PORT`."""
    server = WSGIServer(_empty_json, "127.0.0.1", 0, tls_cert=cert, tls_key=key)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url.replace("127.0.0.1", "localhost")
    finally:
        server.shutdown()
        thread.join()
