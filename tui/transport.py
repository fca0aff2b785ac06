"""How the httpx client reaches the server, and why it could not.

Three ways in: https (verified), plain http (this machine only unless insecure), and the server's
unix socket. Nothing is taken from the environment: a stray `HTTP_PROXY` would otherwise receive
every request, token included. A proxy is used only when named, and is checked like the server.
"""

from __future__ import annotations

import ssl
from typing import Any

from tui.urls import check_proxy, socket_problem, unix_socket_path

UNIX_BASE_URL = "http://sitesecrets"
"""httpx needs a host for the request line; over a unix socket it is only a label."""


def client_options(url: str, *, proxy: str | None = None, insecure: bool = False, transport: Any = None) -> dict[str, Any]:
    """Keyword arguments of `httpx.Client` that reach the checked server URL `url`."""
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
    return options


def certificate_refusal(error: BaseException) -> str | None:
    """"the server's TLS certificate was refused: <why>" when `error` comes from a failed
    certificate check (self-signed, wrong host name, expired...), else None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            why = current.verify_message or current.reason or "verification failed"
            return f"the server's TLS certificate was refused: {why}"
        current = current.__cause__ or current.__context__
    return None


def unreachable_reason(error: BaseException, socket_path: str | None) -> str | None:
    """Why no answer came, in words, where we know them: a refused certificate, a missing socket."""
    refusal = certificate_refusal(error)
    if refusal is None and socket_path is not None:
        return socket_problem(socket_path)
    return refusal
