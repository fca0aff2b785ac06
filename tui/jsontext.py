"""JSON text typed by the user (a typed secret's raw value, a type's schema): why it cannot be
read, in one sentence, for every text Python's parser refuses.

`json.loads` raises more than `JSONDecodeError`: a plain ValueError for an integer of more than
4,300 digits (with no line or column) and RecursionError for arrays or objects nested about a
thousand deep. The forms check on every keystroke, so either one, uncaught, ended the TUI.
"""

from __future__ import annotations

import json
from typing import Any


class NotJson(ValueError):
    """The text is not JSON Python can read; the message says why, never quoting the text."""


def parse(text: str) -> Any:
    """The JSON value of `text`; raises NotJson with a one-sentence reason."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise NotJson(f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
    except RecursionError:
        raise NotJson("not usable JSON: it nests too deeply") from None
    except ValueError:  # int()'s limit on digits: its message names sys.set_int_max_str_digits
        raise NotJson(f"not usable JSON: a number has too many digits (at most {_max_digits()})") from None


def problem(text: str) -> str:
    """Why `text` is not JSON, or "" when it is (or is blank)."""
    if not text.strip():
        return ""
    try:
        parse(text)
    except NotJson as error:
        return str(error)
    return ""


def _max_digits() -> int:
    import sys

    return sys.get_int_max_str_digits() or 4300
