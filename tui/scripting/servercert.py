"""What `sitesecrets login` trusts an https server by, decided before the token is asked for.

The server's certificate is pinned (`tui.pins`): without a question when httpx's CA bundle
(certifi) verifies it for the URL's host name or when it matches `--fingerprint`; at a terminal after the
user has compared its fingerprint with the server's and answered y, as ssh asks at a first
connection. At a pipe there is nobody to compare, so a certificate the system does not trust needs
`--fingerprint` (not a secret, so fine on a command line). `--ca-file` trusts what that CA issued,
host name checked, instead of one certificate.
"""

from __future__ import annotations

import os
import sys

from tui.pins import Trust, fingerprint_of, matches, parse_fingerprint

from .common import Refused, UsageError, stdin_is_terminal

OPENSSL_HINT = "on the server: openssl x509 -noout -fingerprint -sha256 -in CERT.pem"


def decide_trust(url: str, *, fingerprint: str | None, ca_file: str | None, proxy: str | None,
                 insecure: bool) -> Trust | None:
    """The Trust to log in to `url` with (None for http and unix sockets); raises Refused or
    UsageError, having stored nothing."""
    if not url.startswith("https:"):
        if fingerprint or ca_file:
            raise UsageError("--fingerprint and --ca-file apply to https server URLs only")
        return None
    if fingerprint and ca_file:
        raise UsageError("pass --fingerprint or --ca-file, not both")
    if ca_file:
        return _trust_ca_file(url, ca_file, proxy, insecure)
    try:
        expected = parse_fingerprint(fingerprint) if fingerprint else None
    except ValueError as error:
        raise UsageError(str(error)) from None
    der, refusal = _certificate(url, proxy, insecure)
    shown = fingerprint_of(der)
    if expected is not None:
        if not matches(der, expected):
            raise Refused(f"the server's certificate has the fingerprint {shown}, not the one given with "
                          "--fingerprint; nothing was stored")
        return Trust.pin(der)
    if refusal is None:  # verified by the CA bundle (certifi, httpx's) for this host name: no question to ask
        return Trust.pin(der)
    if not stdin_is_terminal():
        raise Refused(f"{refusal}; compare its fingerprint {shown} with the server's ({OPENSSL_HINT}) "
                      "and pass it with --fingerprint, or pass --ca-file; nothing was stored")
    _confirm(url, refusal, shown, previous=_previous_pin(url))
    return Trust.pin(der)


def _certificate(url: str, proxy: str | None, insecure: bool) -> tuple[bytes, str | None]:
    """(the server's DER certificate, why the CA bundle refuses it or None when it verifies)."""
    import httpx

    from tui.transport import certificate_refusal, peer_certificate, unverified_context

    try:
        return peer_certificate(url, True, proxy=proxy, insecure=insecure), None
    except httpx.TransportError as error:
        refusal = certificate_refusal(error)
        if refusal is None:
            raise _unreachable(url, error) from None
    try:
        return peer_certificate(url, unverified_context(), proxy=proxy, insecure=insecure), refusal
    except httpx.TransportError as error:
        raise _unreachable(url, error) from None


def _unreachable(url: str, error: BaseException) -> Exception:
    """No certificate to look at: the server is out of reach (exit 75, as for any other command)."""
    from tui.client import ServerUnreachable

    return ServerUnreachable(url, f"{type(error).__name__}; nothing was stored", type(error).__name__)


def _trust_ca_file(url: str, ca_file: str, proxy: str | None, insecure: bool) -> Trust:
    import httpx

    from tui.pins import TrustError
    from tui.transport import certificate_refusal, peer_certificate

    trust = Trust(ca_file=os.path.abspath(ca_file))  # run and the TUI may start in another directory
    try:
        peer_certificate(url, trust.context(), proxy=proxy, insecure=insecure)
    except TrustError as error:
        raise UsageError(str(error)) from None
    except httpx.TransportError as error:
        refusal = certificate_refusal(error)
        if refusal is None:
            raise _unreachable(url, error) from None
        raise Refused(f"{refusal}; nothing was stored") from None
    return trust


def _previous_pin(url: str) -> str | None:
    from tui.pins import TrustError
    from tui.trusted import stored_trust

    try:
        trust = stored_trust(url)
    except TrustError:
        return None  # store_token reports a damaged file once the token is checked
    return trust.fingerprint if trust else None


def _confirm(url: str, refusal: str, shown: str, previous: str | None) -> None:
    """Ask at the terminal whether to pin the certificate; Refused unless the answer is y."""
    from tui.prompt import ask

    print(f"{refusal}.", file=sys.stderr)
    if previous and previous != shown:
        print(f"It is not the certificate pinned at the last login ({previous}).", file=sys.stderr)
    print(f"Its fingerprint is {shown}\nCompare it with the server's ({OPENSSL_HINT}).", file=sys.stderr)
    try:
        answer = ask(f"pin this certificate for {url}? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise Refused("the certificate was not pinned; nothing was stored")
