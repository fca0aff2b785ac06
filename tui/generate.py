"""Generated secret values: the client's half of rotation (the server never makes values).

A value is drawn from the operating system's CSPRNG over letters, digits, `-` and `_`: safe in a
URL, a shell word, a dotenv line and an environment variable without quoting. Its length comes
from the schema field it fills (`minLength`/`maxLength`), or 32 characters.
"""

from __future__ import annotations

import secrets
import string

ALPHABET = string.ascii_letters + string.digits + "-_"
DEFAULT_LENGTH = 32
MAX_LENGTH = 4096


def generated_length(min_length: int | None = None, max_length: int | None = None) -> int:
    """The length to generate for a field bounded by `min_length`/`max_length` (either may be None).

    32 when the bounds allow it, else the nearest bound. Raises ValueError for bounds that no
    length satisfies or a length past MAX_LENGTH.
    """
    low = min_length or 1
    high = max_length if max_length is not None else MAX_LENGTH
    if low > high:
        raise ValueError(f"no length satisfies minLength {low} and maxLength {high}")
    length = min(max(DEFAULT_LENGTH, low), high)
    if not 1 <= length <= MAX_LENGTH:
        raise ValueError(f"length must be 1..{MAX_LENGTH}")
    return length


def generate_value(length: int = DEFAULT_LENGTH) -> str:
    """A cryptographically random value of `length` characters from ALPHABET."""
    if not 1 <= length <= MAX_LENGTH:
        raise ValueError(f"length must be 1..{MAX_LENGTH}")
    return "".join(secrets.choice(ALPHABET) for _ in range(length))
