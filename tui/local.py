"""`sitesecrets local`: the TUI on a server embedded in this process.

The only module of `tui` that imports `server`, and only when called, so the TUI stays a plain
HTTP client everywhere else. The embedded server listens on a unix socket in a directory only this
user can enter, never on TCP: on a shared host any local user can reach a loopback port, and could
lock the owner out by spending the bad-token allowance.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

from tui.client import SiteSecretsClient

SOCKET_NAME = "server.sock"


def run_local_tui(data_dir: Path, open_tui: Callable[[SiteSecretsClient, str, str], int]) -> int:
    """Start an embedded server on `data_dir` (initialised if empty), run
    `open_tui(client, url, token_file)`, stop it. `token_file` holds the server's admin token
    (0600), for the help screen to tell another shell of this user's how to connect. A data
    directory that cannot be used (an exposed or wrong key, a database others may read) is one
    sentence on stderr and `sitesecrets-server`'s exit status for it (2 for an exposed file)."""
    from server import files
    from server.coredumps import forbid_core_dumps
    from server.datadir import DataDirError
    from server.embedded import LOCAL_TOKEN_FILE, EmbeddedServer

    forbid_core_dumps()  # before the embedded server makes or loads the master key, as sitesecrets-server does
    files.make_dirs(data_dir)  # ~/.local/share and the rest 0700, not as the umask would have them
    # mkdtemp: a new directory, mode 0700, under a short path (a socket path must fit in 108 bytes,
    # and the help screen's `export SITESECRETS_URL=...` line in 80 columns)
    socket_dir = Path(tempfile.mkdtemp(prefix="sitesecrets-"))
    try:
        try:
            server = EmbeddedServer.start(data_dir, unix_socket=socket_dir / SOCKET_NAME)
        except DataDirError as error:
            print(f"sitesecrets local: {error}", file=sys.stderr)
            return getattr(error, "exit_status", 1)
        with server:
            client = SiteSecretsClient(server.url, server.admin_token)
            try:
                return open_tui(client, server.url, str(data_dir.resolve() / LOCAL_TOKEN_FILE))
            finally:
                client.close()
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)
