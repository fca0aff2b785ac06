"""Where a token may be sent: stdlib only, so `sitesecrets run` can check without loading httpx."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


class InsecureTransportError(ValueError):
    """The token would travel in clear text to a host that is not this machine."""


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses, where plain http never leaves the machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, insecure: bool = False) -> str:
    """The base URL without a trailing slash; raises ValueError for a URL we can't use.

    Raises `InsecureTransportError` for plain http to a non-loopback host unless `insecure`.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not a server URL such as http://127.0.0.1:8716")
    if parts.scheme == "http" and not insecure and not is_loopback(parts.hostname):
        raise InsecureTransportError(
            f"Refusing to send the token over plain http to {parts.hostname}; use https or --insecure."
        )
    return url.rstrip("/")
