"""Which trust an https connection to a server URL uses: the pin or CA file `sitesecrets login`
stored for that URL, else the caller's default (the system's CAs). Standard library only (`run`
uses it); kept apart from `tui.pins`, which the credentials file's format needs, so neither
imports the other.
"""

from __future__ import annotations

import os
import ssl

from tui.credentials import CredentialsError, config_dir, load_trust, server_key
from tui.pins import STORED, Trust, TrustError


def stored_trust(url: str, environ: dict[str, str] | os._Environ[str] = os.environ) -> Trust | None:
    """What login stored for `url`, or None; raises TrustError when the credentials file is refused."""
    try:
        return load_trust(config_dir(environ)).get(server_key(url))
    except CredentialsError as error:
        raise TrustError(str(error)) from None


def context_for(url: str, trust: object = STORED) -> ssl.SSLContext | None:
    """The context of an https connection to `url`: the stored (or given) trust's, or None for
    the caller's default (the system's CAs). Raises TrustError."""
    if trust is not STORED:
        return trust.context() if isinstance(trust, Trust) else None
    stored = stored_trust(url)
    try:
        return stored.context() if stored else None
    except TrustError as error:
        raise TrustError(f"{error}, given at login for {url}; run `sitesecrets login` again") from None
