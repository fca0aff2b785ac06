"""Where a token may be sent: stdlib only, so `sitesecrets run` can check without loading httpx.

A server URL is `https://...`, `http://...` (plain http only to this machine unless insecure), or
`unix:///path/to/socket`: the server's unix socket, which only users the socket's directory lets
in can reach, so no other local user can stand in for the server.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import sys
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


def unix_socket_path(url: str) -> str | None:
    """The socket path of a `unix:///path` URL, else None."""
    parts = urlsplit(url)
    return parts.path if parts.scheme == "unix" else None


def short_address(url: str) -> str:
    """The server as the header shows it: host and port, or the socket's file name."""
    socket_path = unix_socket_path(url)
    if socket_path is not None:
        return "unix:" + socket_path.rstrip("/").rsplit("/", 1)[-1]
    return url.split("://", 1)[-1]


def check_url(url: str, *, insecure: bool = False) -> str:
    """The base URL without a trailing slash; raises ValueError for a URL we can't use.

    Raises `InsecureTransportError` for plain http to a non-loopback host unless `insecure`.
    """
    if url.startswith("ss_"):  # credentials.TOKEN_PREFIX: the token pasted here too, never to be repeated
        raise ValueError("the server URL given is a token, not a server URL such as http://127.0.0.1:8716 or "
                         "unix:///path/to/socket")
    parts = urlsplit(url)
    if "@" in parts.netloc:  # said without the URL: what is before the @ is a secret of some kind
        raise ValueError("a server URL holds no user name or password (nothing before an @): it would be sent "
                         "and shown with the URL; keep the token in a file (--token-file), SITESECRETS_TOKEN "
                         "or `sitesecrets login`")
    if parts.scheme == "unix":
        if parts.netloc or not parts.path.startswith("/") or parts.query or parts.fragment:
            raise ValueError(f"{url!r} is not a unix socket URL such as unix:///run/sitesecrets/api.sock")
        return url
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not a server URL such as http://127.0.0.1:8716 or unix:///path/to/socket")
    if parts.scheme == "http" and not insecure and not is_loopback(parts.hostname):
        raise InsecureTransportError(
            f"Refusing to send the token over plain http to {parts.hostname}; use https or --insecure"
        )
    return url.rstrip("/")


PROXY_PASSWORD_ON_COMMAND_LINE = ("a proxy password on the command line is visible to every user of this host; "
                                  "put the proxy URL in SITESECRETS_PROXY instead")


def proxy_option(text: str) -> str:
    """--proxy's value, as argparse's `type`: refused when it holds a password, which the process
    list would show to every user of the host (SITESECRETS_PROXY may hold one). The message
    never repeats the URL."""
    import argparse

    userinfo = text.rpartition("@")[0].rpartition("//")[2]
    if ":" in userinfo:  # read as urlsplit does, which a malformed host would make raise
        raise argparse.ArgumentTypeError(PROXY_PASSWORD_ON_COMMAND_LINE)
    return text


def without_password(url: str) -> str:
    """`url` with the password of its user info, if any, as `***`: for a message quoting it."""
    if "@" not in url:
        return url
    head, at, rest = url.rpartition("@")
    scheme, sep, userinfo = head.rpartition("//")
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}{sep}{user}{':***' if colon else ''}{at}{rest}"


def check_proxy(proxy: str, server_url: str, *, insecure: bool = False) -> str:
    """The proxy URL, checked by the rule the server URL obeys: no token in clear off this machine.

    Through a plain-http proxy an https request is a CONNECT tunnel (the proxy sees only the host),
    but an http request is forwarded whole, token included: that needs the proxy on this machine.
    """
    parts = urlsplit(proxy)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{without_password(proxy)!r} is not a proxy URL such as http://127.0.0.1:3128")
    if unix_socket_path(server_url) is not None:
        raise ValueError("a proxy cannot reach a unix socket; drop --proxy or use the server's https URL")
    clear = parts.scheme == "http" and urlsplit(server_url).scheme == "http"
    if clear and not insecure and not is_loopback(parts.hostname):
        raise InsecureTransportError(
            f"Refusing to send the token over plain http to the proxy {parts.hostname}; "
            "use an https server URL, an https proxy, or --insecure"
        )
    return proxy


def socket_problem(path: str) -> str | None:
    """Why `path` cannot be the server's socket (one sentence), or None when it is a socket."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"there is no server socket at {path}; is the server running?"
    except PermissionError:
        return f"cannot reach {path}: permission denied; is this user in the server's group?"
    except OSError as error:
        return f"cannot reach {path}: {error.strerror}"
    if not stat.S_ISSOCK(mode):
        return f"{path} is not a socket; SITESECRETS_URL=unix://PATH must name the server's socket"
    return None


def plain_loopback_warning(url: str) -> str | None:
    """One line for plain http to this machine, where any local user could hold the port; else None."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or not is_loopback(parts.hostname):
        return None
    return (f"plain http to {parts.hostname}: any local user could be answering on that port; "
            "use the server's unix socket (unix:///path) or https")


_warned: set[str] = set()


def warn_plain_loopback(url: str, prog: str = "sitesecrets") -> None:
    """Print `plain_loopback_warning` on stderr, once per process and URL, not once per request."""
    warning = plain_loopback_warning(url)
    if warning and url not in _warned:
        _warned.add(url)
        print(f"{prog}: warning: {warning}", file=sys.stderr)
