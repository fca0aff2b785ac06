"""What reaches the terminal: the real `sitesecrets` under a pseudo-terminal, every byte it writes.

Stored strings hold OSC 52 (clipboard), OSC 0 (title), OSC 8 (hyperlink), CSI 2J (clear), DCS,
an 8-bit CSI and bidi overrides; every screen that shows them is opened, and the bytes written must
hold none of them (they are spelled out instead, e.g. `\\x1b]52`). A crash after a reveal leaves
no value and no traceback with locals on the terminal once the alternate screen is gone.
"""

from __future__ import annotations

import json

import pytest

from shared.models import Role, SecretCreate, SecretTypeCreate, ServiceCreate
from tui.client import SiteSecretsClient
from pty_app import HOSTILE_MESSAGE, SHORT_MESSAGE
from pty_session import ALT_SCREEN_OFF, PtySession
from tui_helpers import make_token

HOSTILE = ("\x1b]52;c;SGFja2Vk\x07 \x1b]0;PWNED\x07 \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 "
           "\x1b[2J \x1bPdcs\x1b\\ \x9b31m \u202eevil \u2066iso")
BIDI = "bidi \u202eevil\u202c \u2067x\u2069 \u200fy"
"""Descriptions and token names refuse C0 controls on the server; format characters get through."""

FORBIDDEN = [b"\x1b]52", b"\x1b]0;", b"\x1b]8;", b"\x1b[2J", b"\x1bP", b"PWNED\x07", b"ERRTITLE\x07"]


def assert_clean(output: bytes) -> None:
    """No hostile sequence in what the terminal received, as raw bytes or as decoded characters."""
    for sequence in FORBIDDEN:
        assert sequence not in output, sequence
    text = output.decode("utf-8", errors="replace")
    c1 = sorted({hex(ord(ch)) for ch in text if 0x80 <= ord(ch) <= 0x9F})
    assert not c1, f"C1 controls reached the terminal: {c1}"
    for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f":
        assert ch not in text, hex(ord(ch))


def _args(secrets_server, site: str, token: str | None = None) -> list[str]:
    return ["--url", secrets_server.url, "--token", token or secrets_server.admin_token, "--site", site]


def test_secrets_tab_with_a_revealed_hostile_value_sends_no_escape(secrets_server, admin, site):
    admin.create_secret(site, None, SecretCreate(name="EVIL", value=HOSTILE, description=BIDI))
    with PtySession(_args(secrets_server, site)) as tty:
        tty.wait_loaded("EVIL")
        tty.send("s")
        tty.wait_for_screen("VALUE ON SCREEN")
        tty.wait_for_screen("PWNED")  # the value, spelled out, is on screen
        tty.send("e")  # the edit form shows the description in an input
        tty.wait_for_screen("Cancel (esc)")
        tty.escape(closes="Cancel (esc)")
        tty.send("q")
        assert tty.finish() == 0
        assert_clean(tty.output)
        # Spelled out instead, in reverse video: `\x1b` then the rest.
        assert b"\\x1b" in tty.output and b"]52;c;SGFja2Vk" in tty.output


def test_types_audit_services_tabs_and_forms_send_no_escape(secrets_server, admin, site):
    schema = {"type": "object", "description": HOSTILE, "properties": {"k": {"type": "string", "title": HOSTILE}}}
    admin.create_type(site, SecretTypeCreate(key="evil", name="T evil", schema=schema, description=BIDI))  # names refuse controls
    editor = SiteSecretsClient(admin.url, make_token(admin, Role.editor, name="eve"))
    editor.create_secret(site, None, SecretCreate(name="TYPED", type="evil", value=json.dumps({"k": HOSTILE})))
    editor.close()
    admin.create_service(site, ServiceCreate(name="svc", secrets=[{"name": "TYPED"}]))
    with PtySession(_args(secrets_server, site)) as tty:
        tty.wait_loaded("TYPED")
        tty.send("e")  # the secret form: a field generated from the schema, titled by it
        tty.wait_for_screen("Cancel (esc)")
        tty.escape(closes="Cancel (esc)")
        tty.send("s")  # a typed value, pretty-printed
        tty.wait_for_screen("VALUE ON SCREEN")
        tty.send("2")  # the types tab: its footer has no "Show/hide"
        tty.wait_until_gone("s Show/hide")
        tty.wait_for_screen("r Refresh")
        tty.send("e")  # the type form: its name in an input, its schema in an editor
        tty.wait_for_screen("JSON Schema *")
        tty.escape(closes="JSON Schema *")
        tty.send("3")
        tty.wait_for_screen("secret.create")
        tty.send("4")
        tty.wait_for_screen("b Bindings")
        tty.send("q")
        assert tty.finish() == 0
        assert_clean(tty.output)
        assert b"\\x9b" in tty.output and b"\\u202e" in tty.output


def test_hostile_server_error_messages_send_no_escape(secrets_server, site):
    with PtySession(_args(secrets_server, site), mode="error") as tty:
        tty.wait_for(b"ERRTITLE")  # the short one, as a notification
        tty.send("4")  # the services tab's load fails with a long one: a modal
        tty.wait_for_screen("a long explanation")
        tty.escape(closes="Close")  # the modal's button; the tab itself goes on saying why it is empty
        tty.send("q")
        assert tty.finish() == 0
        assert_clean(tty.output)
        assert b"[@click=app.quit]q[/]" in tty.output


def test_crash_after_a_reveal_leaves_no_value_on_the_terminal(secrets_server, admin, site):
    value = "crash-canary-4f1c9e"
    admin.create_secret(site, None, SecretCreate(name="REVEALED", value=value))
    with PtySession(_args(secrets_server, site), mode="crash") as tty:
        tty.wait_loaded("REVEALED")
        tty.send("s")
        tty.wait_for(value.encode())  # on the alternate screen while revealed
        code = tty.finish()
        output = tty.output
    after = output[output.rindex(ALT_SCREEN_OFF):]
    assert code == 1
    assert b"stopped on an internal error (RuntimeError)" in after
    for leak in (value.encode(), b"Traceback", b"revealed_value", b"crashed holding", b"locals"):
        assert leak not in after, leak


@pytest.fixture(autouse=True)
def _hostile_long_message_is_long():
    from tui.ui.app import LONG_MESSAGE

    # the error mode's first failure is a notification, its second takes the modal path
    assert len(SHORT_MESSAGE) <= LONG_MESSAGE < len(HOSTILE_MESSAGE)
