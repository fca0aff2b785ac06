"""`sitesecrets local`: the TUI on a server embedded in this process.

The only module of `tui` that imports `server`, and only when called, so the TUI stays a plain
HTTP client everywhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from tui.client import SiteSecretsClient


def run_local_tui(data_dir: Path, open_tui: Callable[[SiteSecretsClient, str], int]) -> int:
    """Start an embedded server on `data_dir` (initialised if empty), run `open_tui`, stop it."""
    from server import files
    from server.embedded import EmbeddedServer

    files.make_dirs(data_dir)  # ~/.local/share and the rest 0700, not as the umask would have them
    with EmbeddedServer.start(data_dir) as server:
        client = SiteSecretsClient(server.url, server.admin_token)
        try:
            return open_tui(client, server.url)
        finally:
            client.close()
