"""What an https connection trusts once `sitesecrets login` has decided: one pinned certificate,
or a CA file. Standard library only: `sitesecrets run` builds its connection with it.

A pin is the server's whole certificate (its PEM is stored with the credentials; users see its
SHA-256 fingerprint, the one `openssl x509 -noout -fingerprint -sha256` prints). The connection
trusts that certificate alone: it is the only trust anchor of the context, with
`VERIFY_X509_PARTIAL_CHAIN` so a leaf in the store is enough (OpenSSL matches it byte for byte), and
no host name check (the pin says which server this is, better than a name does). OpenSSL so
refuses any other certificate inside the handshake, before a request, let alone the token, is
written, and with no window between a check and the real connection. Pinning the public key
(SPKI) instead would survive a renewal with the same key, but Python's ssl has no verify callback
to check it with before the request goes out; a renewed certificate needs `sitesecrets login`
again, and the refusal says so.

With a CA file the certificate is verified against that CA alone, host name included, so the
server may renew as its CA allows.
"""

from __future__ import annotations

import base64
import binascii
import ssl

STORED = object()
"""`trust=STORED`: whatever login stored for the URL (nothing stored: the system's CAs)."""

_EXPIRY_CODES = (9, 10)  # X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CERT_HAS_EXPIRED


class TrustError(ValueError):
    """What login stored cannot be used (CA file gone, credentials file refused); one sentence."""


class CertificateRefused(ssl.SSLCertVerificationError):
    """The handshake failed the stored trust; `sentence` says so in words."""

    def __init__(self, sentence: str, cause: ssl.SSLCertVerificationError) -> None:
        super().__init__(*cause.args)
        self.verify_code, self.verify_message = cause.verify_code, cause.verify_message
        self.sentence = sentence


def fingerprint_of(der: bytes) -> str:
    """`SHA256:AB:CD:...`: the SHA-256 of the DER certificate, as openssl prints it."""
    import hashlib  # here, not at the top: `run` connects without it

    digest = hashlib.sha256(der).hexdigest().upper()
    return "SHA256:" + ":".join(digest[i:i + 2] for i in range(0, 64, 2))


def parse_fingerprint(text: str) -> bytes:
    """The 32 bytes of a SHA-256 fingerprint given as `SHA256:AB:CD:...` (openssl's hex, colons
    optional, any case, `sha256 Fingerprint=` accepted) or ssh's base64; ValueError otherwise."""
    value = text.strip()
    for prefix in ("sha256 fingerprint=", "sha256:"):
        if value.lower().startswith(prefix):
            value = value[len(prefix):]
            break
    hex_digits = value.replace(":", "")
    try:
        if len(hex_digits) == 64:
            return bytes.fromhex(hex_digits)
        digest = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (ValueError, binascii.Error):
        digest = b""
    if len(digest) != 32:
        raise ValueError(f"{text!r} is not a SHA-256 fingerprint such as SHA256:AB:CD:... (64 hex digits)")
    return digest


def matches(der: bytes, expected: bytes) -> bool:
    import hashlib

    return hashlib.sha256(der).digest() == expected


class Trust:
    """What login decided for one https URL: a pinned certificate (PEM) or a CA file (path)."""

    __slots__ = ("certificate", "ca_file")

    def __init__(self, *, certificate: str | None = None, ca_file: str | None = None) -> None:
        if (certificate is None) == (ca_file is None):
            raise ValueError("a trust is one pinned certificate or one CA file")
        self.certificate, self.ca_file = certificate, ca_file

    @classmethod
    def pin(cls, der: bytes) -> "Trust":
        return cls(certificate=ssl.DER_cert_to_PEM_cert(der))

    @classmethod
    def from_json(cls, data: object) -> "Trust":
        if not isinstance(data, dict) or set(data) not in ({"certificate"}, {"ca_file"}) \
                or not all(isinstance(v, str) for v in data.values()):
            raise ValueError("not a stored trust")
        return cls(**data)

    def to_json(self) -> dict[str, str]:
        return {"certificate": self.certificate} if self.certificate is not None else {"ca_file": self.ca_file}

    @property
    def fingerprint(self) -> str | None:
        if self.certificate is None:
            return None
        return fingerprint_of(ssl.PEM_cert_to_DER_cert(self.certificate))

    def context(self) -> ssl.SSLContext:
        """A client context that trusts only this; raises TrustError if the CA file is unreadable."""
        context = _TrustContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, host names checked, TLS >= 1.2
        context.trust = self
        if self.certificate is not None:
            context.load_verify_locations(cadata=self.certificate)
            context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
            context.check_hostname = False
            return context
        try:
            context.load_verify_locations(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as error:
            why = getattr(error, "strerror", None) or "it holds no CA certificate"
            raise TrustError(f"cannot use the CA file {self.ca_file} ({why})") from None
        return context

    def refusal(self, error: ssl.SSLCertVerificationError) -> str:
        """The one sentence for a certificate this trust refused."""
        why = error.verify_message or error.reason or "verification failed"
        if self.certificate is None:
            return f"the server's TLS certificate was refused: {why} (checked against the CA file {self.ca_file})"
        if error.verify_code in _EXPIRY_CODES:  # the pinned certificate itself, out of its dates
            return (f"the certificate pinned at login ({self.fingerprint}) is refused: {why}; "
                    "once the server has a new certificate, run `sitesecrets login` again")
        return (f"the server's certificate does not match the one pinned at login ({self.fingerprint}); "
                "if the server's certificate changed, run `sitesecrets login` again")


class _Refusing:
    """The handshake of a socket or memory-BIO object of a `_TrustContext`: a failed certificate
    check is re-raised as CertificateRefused, worded for what login stored."""

    def do_handshake(self, *args):
        try:
            return super().do_handshake(*args)
        except ssl.SSLCertVerificationError as error:
            raise CertificateRefused(self.context.trust.refusal(error), error) from error


class _TrustSocket(_Refusing, ssl.SSLSocket):
    pass


class _TrustObject(_Refusing, ssl.SSLObject):
    pass


class _TrustContext(ssl.SSLContext):
    # httpx and http.client wrap sockets with these classes; TLS through an https proxy uses BIOs
    sslsocket_class = _TrustSocket
    sslobject_class = _TrustObject
    trust: Trust
