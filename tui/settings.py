"""What the user asked for on the command line, as one immutable value the App is built from,
and the one place the server URL and site defaults are written (the TUI, the scripting commands
and `run` all ask here). Standard library only: `sitesecrets run` imports it on every start.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_URL = "http://127.0.0.1:8716"
DEFAULT_SITE = "default"
URL_VARIABLE = "SITESECRETS_URL"
SITE_VARIABLE = "SITESECRETS_SITE"
EMPTY_SITE = f"the site name is empty (--site or {SITE_VARIABLE})"


def default_site_hint(site: str, details: object, unnamed: bool = False) -> str:
    """What to add to a 404 for site 'default' itself (`details` of the error: none, or naming the
    site as the resource): it is the site asked for when no --site or SITESECRETS_SITE names one
    and the token is bound to no site (an operator's). `unnamed`: that is how it was asked for,
    so the operator is told to name a site, and how to list them; else it was named, and a token
    of another site is told how to use its own. "" for any other 404."""
    if site != DEFAULT_SITE or (details and (not isinstance(details, dict) or details.get("resource") != "site")):
        return ""
    if unnamed:
        return (f"; a token bound to no site (an operator's) must name the site: --site NAME or {SITE_VARIABLE} "
                "(`sitesecrets sites ls` lists them)")
    # asked for by name (--site default, as in a unit file copied from another site's)
    return (f" (a token bound to a site sees only its own: leave out --site and {SITE_VARIABLE} to use it, "
            f"or name it with --site SITE)")


def not_found_message(message: str, site: str, details: object, unnamed: bool = False) -> str:
    """The server's 404 `message` as every command and the TUI say it: with `default_site_hint`
    (same arguments) for site 'default', as it is otherwise."""
    hint = default_site_hint(site, details, unnamed)
    return message.rstrip(".") + hint if hint else message


def default_url() -> str:
    """The server URL when no --url is given: `$SITESECRETS_URL`, else `DEFAULT_URL`."""
    return os.environ.get(URL_VARIABLE, DEFAULT_URL)


def default_site() -> str:
    """The site when no --site is given: `$SITESECRETS_SITE`, else `DEFAULT_SITE`."""
    return os.environ.get(SITE_VARIABLE, DEFAULT_SITE)


def named_site(given: str | None) -> str | None:
    """The site the user named: --site (`given`), else `$SITESECRETS_SITE`; None when neither
    names one. An empty name is returned as it is, for the caller to refuse (`EMPTY_SITE`)."""
    return os.environ.get(SITE_VARIABLE) if given is None else given


def site_for_token(token_site: str | None) -> str:
    """The site of a command that names none: the token's own when it is bound to one, as
    Vault's, Doppler's or Infisical's scoped tokens imply their scope; `DEFAULT_SITE` for a
    token bound to none (an operator's). `token_site` is the token's `site` (whoami's, or what
    `sitesecrets login` recorded)."""
    return token_site or DEFAULT_SITE


def opening_site(named: str | None, token_site: str | None) -> str:
    """The site the TUI opens: the one the user named (`named`), else the token's own
    (`site_for_token`). ValueError, one sentence, when that cannot be: a name that is empty, or a
    token bound to another site, which the server would refuse anyway; opening the token's own
    instead would hide the mistake."""
    if named is None:
        return site_for_token(token_site)
    if not named:
        raise ValueError(EMPTY_SITE)
    if token_site and named != token_site:
        raise ValueError(f"this token is bound to site {token_site!r} and cannot open site {named!r}; "
                         f"leave out --site (and {SITE_VARIABLE}) to open its own")
    return named


@dataclass(frozen=True)
class Settings:
    """Options of `sitesecrets`; the defaults are the issue's."""

    url: str = DEFAULT_URL
    site: str | None = None
    """The site named with --site or `$SITESECRETS_SITE`; None when neither names one, and the
    TUI opens the token's own (`opening_site`)."""
    read_only: bool = False
    insecure: bool = False
    reveal_seconds: float = 15.0
    clipboard_seconds: float = 30.0
    reconnect_max_seconds: float = 15.0
    """Ceiling of the reconnect backoff (it starts at half a second and doubles)."""
    refresh_seconds: float = 5.0
    """How often the visible tab fetches its data again, to show what changed elsewhere; 0: never."""
    local_token_file: str | None = None
    """`sitesecrets local`: the admin token file of its embedded server, which the help screen
    names so another shell can reach the server while the TUI runs."""
