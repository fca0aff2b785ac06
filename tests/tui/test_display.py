"""The one display function: control and format characters shown escaped, markup never parsed."""

from __future__ import annotations

from tui.display import MASK, safe_str, safe_text


def test_escape_and_c0_c1_controls_are_spelled_out():
    assert safe_str("a\x1b[31mb\x07\x9b\x85\x7f") == "a\\x1b[31mb\\x07\\x9b\\x85\\x7f"


def test_bidi_overrides_isolates_and_zero_width_are_spelled_out():
    assert safe_str("\u202a\u202e\u2066\u2069\u200b\ufeff\u2028") == \
        "\\u202a\\u202e\\u2066\\u2069\\u200b\\ufeff\\u2028"


def test_newlines_kept_only_in_multiline_text():
    assert safe_str("a\nb\tc") == "a\\x0ab\\x09c"
    assert safe_str("a\nb\tc", multiline=True) == "a\nb\tc"
    assert safe_str("a\r\nb", multiline=True) == "a\\x0d\nb"


def test_markup_is_plain_text():
    text = safe_text("[red]a[/red] [@click=app.quit]q[/]")
    assert text.plain == "[red]a[/red] [@click=app.quit]q[/]" and not text.spans


def test_escapes_are_styled_so_they_differ_from_typed_backslashes():
    text = safe_text("x\x1by")
    assert text.plain == "x\\x1by" and [(s.start, s.end) for s in text.spans] == [(1, 5)]


def test_ordinary_unicode_passes_through():
    assert safe_str("café 日本 🙂") == "café 日本 🙂"


def test_mask_has_fixed_width():
    assert MASK == "••••••••"


def test_fit_cuts_by_terminal_cells_not_characters():
    from rich.text import Text

    from tui.display import fit

    assert str(fit(Text("運用チーム"), 6)) == "運用…"  # two cells a character
    assert str(fit(Text("🔑🔑🔑🔑"), 5)) == "🔑🔑…"
    assert str(fit(Text("e\u0301e\u0301e\u0301"), 3)) == "e\u0301e\u0301e\u0301"  # combining marks take no cell
    assert str(fit(Text("short"), 10)) == "short"
    assert all(fit(Text("運用チーム"), width).cell_len <= width for width in range(0, 12))


def test_clipped_spells_out_control_characters_before_it_measures():
    from tui.display import clipped

    shown = clipped("a\u202eb" * 5, 8)
    assert shown.cell_len <= 8 and str(shown).startswith("a\\u202e")


def test_counts_read_as_words_no_secrets_1_secret_2_secrets():
    from tui.display import plural

    assert [plural(n, "secret") for n in (0, 1, 2)] == ["no secrets", "1 secret", "2 secrets"]


def test_an_audit_verification_of_one_event_says_1_event():
    from shared.models import AuditVerification
    from tui.auditview import verified

    one = AuditVerification.model_construct(events=1, unkeyed=0)
    assert verified("shop", one) == "the audit chain of site shop verifies: 1 event"
