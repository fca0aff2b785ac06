"""The child of the ctrl+c test of `local`: `python slow_local.py [sitesecrets local options]`.

The embedded server's start is held, after saying so, until a signal arrives, so the test can
press ctrl+c while `local` is starting, every time. The fault lives here, never in shipped code.
"""

from __future__ import annotations

import signal
import sys


def held_start(*args, **kwargs):
    print("starting the embedded server", flush=True)
    while True:
        signal.pause()  # ctrl+c's SIGINT raises KeyboardInterrupt out of here


def main() -> int:
    from server.embedded import EmbeddedServer
    from tui import cli

    EmbeddedServer.start = held_start
    return cli.main(["local", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
