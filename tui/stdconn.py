"""The connection `sitesecrets run` fetches its environment over: standard library only.

`http.client` speaks http and https; the server's unix socket needs only a connection whose
`connect` opens an AF_UNIX socket instead of a TCP one. `http.client` never reads proxy
variables, so none of them sees the token.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
from urllib.parse import urlsplit

from tui.pins import CertificateRefused
from tui.trusted import context_for
from tui.urls import socket_problem, unix_socket_path


class NoConnection(Exception):
    """Why no connection can be opened; one sentence. `temporary`: the socket is not there (yet,
    or again: a server restarting removes it), rather than there and unusable."""

    def __init__(self, sentence: str, temporary: bool) -> None:
        super().__init__(sentence)
        self.temporary = temporary


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over the server's unix socket at `path`."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("sitesecrets", timeout=timeout)  # the Host header; no name is looked up
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def open_connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    """(connection, path prefix) for the checked server URL `url`; not connected yet.

    Raises NoConnection when a unix socket URL names something that is not a socket, TrustError
    (a ValueError) when what login stored for an https URL cannot be used.
    """
    socket_path = unix_socket_path(url)
    if socket_path is not None:
        problem = socket_problem(socket_path)
        if problem:
            raise NoConnection(problem, temporary=not os.path.lexists(socket_path))
        return UnixHTTPConnection(socket_path, timeout), ""
    parts = urlsplit(url)
    prefix = parts.path.rstrip("/")
    if parts.scheme == "https":
        context = context_for(url) or ssl.create_default_context()  # login's pin or CA file, else the system's CAs
        return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=context), prefix
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout), prefix


def certificate_refused(error: BaseException) -> bool:
    """Whether the request failed because the server's certificate was refused: no retry mends that."""
    return isinstance(error, (CertificateRefused, ssl.SSLCertVerificationError))


def lasting_tls_failure(error: BaseException) -> bool:
    """Whether TLS failed in a way no retry mends: a refused certificate, or a handshake the other
    end cannot complete (https:// to a plain http port: WRONG_VERSION_NUMBER; no common protocol).
    A handshake cut short (EOF, a close) is a server going away, and is not one."""
    return certificate_refused(error) or (
        isinstance(error, ssl.SSLError) and not isinstance(error, (ssl.SSLEOFError, ssl.SSLZeroReturnError)))


def failure_reason(error: BaseException) -> str:
    """Why the request got no answer: a refused certificate in words, else the error's type."""
    if isinstance(error, CertificateRefused):
        return error.sentence
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"the server's TLS certificate was refused: {error.verify_message or error.reason}"
    return type(error).__name__
