"""What the user asked for on the command line, as one immutable value the App is built from."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_URL = "http://127.0.0.1:8716"
DEFAULT_SITE = "default"


@dataclass(frozen=True)
class Settings:
    """Options of `sitesecrets`; the defaults are the issue's."""

    url: str = DEFAULT_URL
    site: str = DEFAULT_SITE
    read_only: bool = False
    insecure: bool = False
    reveal_seconds: float = 15.0
    clipboard_seconds: float = 30.0
    reconnect_max_seconds: float = 15.0
    """Ceiling of the reconnect backoff (it starts at half a second and doubles)."""
