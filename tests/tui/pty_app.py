"""The child of the pty tests: `python pty_app.py MODE [sitesecrets options]`.

MODE `plain` runs `sitesecrets` as installed. The others inject a fault here, in the test's own
child, never in the shipped code:
- `error`: listing secret types (at start) and services (tab 4) fail with server errors whose
  messages are hostile, short and long, so the App's one error path shows them: a notification,
  and a modal.
- `crash`: 0.8 s after a value is revealed, the App raises with the value in a local.
"""

from __future__ import annotations

import sys

SHORT_MESSAGE = ("error \x1b]52;c;RVJST1I=\x07 \x1b]0;ERRTITLE\x07 \x1b]8;;https://evil.example\x07L\x1b]8;;\x07 "
                 "\x1b[2J \x1bPdcs\x1b\\ \x9b31m \u202eRTL [@click=app.quit]q[/] x[/bold]")
HOSTILE_MESSAGE = SHORT_MESSAGE + " and a long explanation that goes on" * 4
"""Too long for a notification: shown in a modal."""


def inject_error() -> None:
    from tui.client import ApiError, SiteSecretsClient

    def list_types(self, site):
        raise ApiError("bad_thing", SHORT_MESSAGE, status=400)

    def list_services(self, site):
        raise ApiError("bad_thing", HOSTILE_MESSAGE, status=400)

    SiteSecretsClient.list_types = list_types
    SiteSecretsClient.list_services = list_services


def inject_crash() -> None:
    from tui.ui.widgets.secret_detail import SecretDetail

    original = SecretDetail.reveal

    def reveal(self, value, seconds):
        original(self, value, seconds)

        def boom() -> None:
            revealed_value = value  # a traceback with locals would print it
            raise RuntimeError(f"crashed holding {revealed_value}")

        self.set_timer(0.8, boom)

    SecretDetail.reveal = reveal


def main() -> int:
    mode, argv = sys.argv[1], sys.argv[2:]
    if mode == "error":
        inject_error()
    elif mode == "crash":
        inject_crash()
    from tui import cli

    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
