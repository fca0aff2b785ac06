"""Counts in messages read as English, the same from the server and the client: `1 service`,
`2 services`, never `1 service(s)`."""

from __future__ import annotations

from shared.wording import plural


def test_one_of_a_thing_is_singular():
    assert plural(1, "service") == "1 service"


def test_none_or_many_are_plural():
    assert (plural(0, "secret"), plural(2, "secret"), plural(1234, "secret")) == ("no secrets", "2 secrets", "1,234 secrets")


def test_a_phrase_takes_the_plural_on_its_last_word():
    assert plural(3, "expired secret") == "3 expired secrets"


def test_the_client_half_counts_with_the_same_words():
    from tui.display import plural as clients

    assert clients is plural
