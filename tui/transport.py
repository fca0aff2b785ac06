"""How the httpx client reaches the server, and why it could not.

Three ways in: https (verified), plain http (this machine only unless insecure), and the server's
unix socket. Nothing is taken from the environment: a stray `HTTP_PROXY` would otherwise receive
every request, token included. A proxy is used only when named, and is checked like the server.
"""

from __future__ import annotations

import ssl
from typing import Any

from tui.pins import STORED, CertificateRefused
from tui.trusted import context_for
from tui.urls import check_proxy, socket_problem, unix_socket_path

UNIX_BASE_URL = "http://sitesecrets"
"""httpx needs a host for the request line; over a unix socket it is only a label."""


def client_options(url: str, *, proxy: str | None = None, insecure: bool = False, transport: Any = None,
                   trust: object = STORED) -> dict[str, Any]:
    """Keyword arguments of `httpx.Client` that reach the checked server URL `url`.

    An https URL is verified by `trust` (`tui.pins`): by default what login stored for the URL,
    else the CA bundle httpx ships. Raises TrustError (a ValueError) when the stored trust is unusable.
    """
    import httpx

    options: dict[str, Any] = {"base_url": url, "trust_env": False, "transport": transport}
    socket_path = unix_socket_path(url)
    if socket_path is not None:
        options["base_url"] = UNIX_BASE_URL
        options["transport"] = transport or httpx.HTTPTransport(uds=socket_path)
    if proxy:
        options["proxy"] = check_proxy(proxy, url, insecure=insecure)
    if not url.startswith("https:"):
        # Plain http never uses TLS: skip building a verifying context (loading the CA bundle costs
        # ~20 ms and a few MiB at start). https keeps httpx's default, verified context.
        options["verify"] = False
    else:
        context = context_for(url, trust)
        if context is not None:  # also used through a proxy's CONNECT tunnel
            options["verify"] = context
    return options


def certificate_refusal(error: BaseException) -> str | None:
    """"the server's TLS certificate was refused: <why>" when `error` comes from a failed
    certificate check (self-signed, wrong host name, expired...), else None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, CertificateRefused):  # refused by what login stored
            return current.sentence
        if isinstance(current, ssl.SSLCertVerificationError):
            why = current.verify_message or current.reason or "verification failed"
            return f"the server's TLS certificate was refused: {why}"
        current = current.__cause__ or current.__context__
    return None


def lasting_failure(error: BaseException) -> bool:
    """Whether `error`, or one it comes from, is a TLS failure no retry mends (tui.stdconn)."""
    from tui.stdconn import lasting_tls_failure

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if lasting_tls_failure(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def unreachable_reason(error: BaseException, socket_path: str | None) -> str | None:
    """Why no answer came, in words, where we know them: a refused certificate, a missing socket."""
    refusal = certificate_refusal(error)
    if refusal is None and socket_path is not None:
        return socket_problem(socket_path)
    return refusal


def unverified_context() -> ssl.SSLContext:
    """A context that takes any certificate: only to read one, never to send a token over."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def peer_certificate(url: str, verify: Any, *, proxy: str | None = None, insecure: bool = False) -> bytes:
    """The DER certificate the https server at `url` shows when verified by `verify` (True: httpx's
    CA bundle; or a context). One tokenless GET /v1/health is sent: httpx opens connections only
    for requests. Raises httpx.TransportError (a refused certificate among them)."""
    import httpx

    options = client_options(url, proxy=proxy, insecure=insecure, trust=None)
    options["verify"] = verify
    with httpx.Client(timeout=10.0, **options) as client, client.stream("GET", "/v1/health") as response:
        return response.extensions["network_stream"].get_extra_info("ssl_object").getpeercert(True)  # binary form, positional: httpcore hands out the _ssl object
