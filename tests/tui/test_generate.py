"""Generated values: random, of the asked length, from characters that need no quoting."""

import pytest

from tui.generate import ALPHABET, generate_value, generated_length


def test_generated_value_has_the_length_and_only_safe_characters():
    value = generate_value(48)
    assert len(value) == 48
    assert set(value) <= set(ALPHABET)


def test_two_generated_values_differ():
    assert generate_value() != generate_value()


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(None, None, 32), (40, None, 40), (None, 16, 16), (8, 64, 32), (12, 12, 12)],
)
def test_length_follows_the_schema_bounds(low, high, expected):
    assert generated_length(low, high) == expected


@pytest.mark.parametrize(("low", "high"), [(20, 10), (5000, None)])
def test_impossible_bounds_are_refused(low, high):
    with pytest.raises(ValueError):
        generated_length(low, high)


def test_a_length_out_of_range_is_refused():
    with pytest.raises(ValueError):
        generate_value(0)
