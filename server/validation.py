"""Checking a typed value against its type's JSON Schema in bounded time and memory.

Why this shape. A validation runs in the request's own thread, never on the store's writer (see
`handlers/secrets.py`), so what it costs falls on the site that asked. Within that thread it must
still end, for every schema and value within the limits, and never hold the GIL for long:

- **Regular expressions go to RE2** (`google-re2`): its matching time is linear in the text and
  it releases the GIL while it matches, where Python's `re` backtracks exponentially
  (`^(a+)+$` against `aaa…!` held the server for 25 s) with the GIL held. jsonschema calls
  `re.search` from four places (`pattern`, `patternProperties`, `additionalProperties`,
  `unevaluatedProperties`); `_install_re2` points all of them at `search` below, so no keyword is
  missed. RE2's cost is still `len(text) x program size` when its DFA gives up, so a search
  whose product is over `MAX_REGEX_WORK` is not run (`Unbounded`), and a pattern RE2 cannot compile
  (backreferences, lookaround) is refused when the type is created.
- **`uniqueItems` compares canonical forms in a set**, O(n), where jsonschema falls back to an
  O(n²) comparison of every pair when items do not sort (`[0, "0", 1, "1", …]`: 41 s).
- **`anyOf`/`oneOf` stop at the first error of each branch** and keep no error trees, so the
  errors alive at once are only those reported (at most `MAX_REPORTED_ERRORS`).
- **Numbers are bounded when parsed**: an integer of more than `MAX_INTEGER_DIGITS` digits, a
  number beyond the float range and the non-JSON `NaN`/`Infinity` are refused before validation.
- **A budget is the backstop** for what is combinatorial rather than slow per step (nested
  `anyOf` through `$ref`, `unevaluated*`): every keyword call ticks it, and every 64 ticks it reads
  the thread's CPU clock (`BOUND_CPU_SECONDS`) and the wall clock (`BOUND_WALL_SECONDS`, for a
  starved machine). Each step between two ticks is itself bounded by the rules above, so a
  validation ends within the bound plus one step, and answers `Unbounded`.

A worker process with a CPU limit was the alternative: it would add a pipe round trip and a process
to every typed write, carry secret values to another process, and slow start-up and tests, for a
guarantee the rules above already give.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import math
import time
from typing import Any, Iterator

import attrs
import jsonschema
import re2
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema import _keywords, _legacy_keywords, _utils
from jsonschema.exceptions import ValidationError

BOUND_CPU_SECONDS = 1.0
"""CPU time one validation (or one type change's re-check of all its secrets) may use."""
BOUND_WALL_SECONDS = 5.0
"""Wall time likewise, so a request on a starved machine still answers well inside 10 s."""
MAX_REGEX_WORK = 100_000_000
"""Largest `len(text) x RE2 program size` searched: RE2's slowest path costs ~10 ns per unit."""
MAX_INTEGER_DIGITS = 300
"""Longer integers are past any float; Python's own parse limit (4,300) would be a 500."""
MAX_REPORTED_ERRORS = 100
_RE2_MAX_MEM = 2 << 20
"""Per compiled pattern (program and DFA cache); with the cache below, at most 128 MiB in all."""
_TICKS_PER_CLOCK_READ = 64


class Unbounded(Exception):
    """The check would take more than the bound; the message says why, never the value."""


class ValueNotJson(ValueError):
    """The value is not JSON text this server can check (the message quotes nothing of it)."""


class Budget:
    """Time one validation (or one re-check of many values) may take; see the module docstring."""

    def __init__(self, cpu_seconds: float = BOUND_CPU_SECONDS, wall_seconds: float = BOUND_WALL_SECONDS) -> None:
        self._cpu_end = time.thread_time() + cpu_seconds
        self._wall_end = time.monotonic() + wall_seconds
        self._ticks = 0

    def tick(self) -> None:
        self._ticks += 1
        if self._ticks % _TICKS_PER_CLOCK_READ == 0:
            self.check()

    def check(self) -> None:
        if time.thread_time() > self._cpu_end or time.monotonic() > self._wall_end:
            raise Unbounded("the value could not be checked against the schema within the bound")


_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("validation_budget", default=None)


def _tick() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.tick()


# ---------------------------------------------------------------- regular expressions

def _re2_options() -> re2.Options:
    options = re2.Options()
    options.max_mem = _RE2_MAX_MEM
    options.log_errors = False
    options.never_capture = True
    return options


@functools.lru_cache(maxsize=64)
def compiled(pattern: str):
    """The RE2 form of `pattern`, or None when RE2 cannot compile it."""
    try:
        return re2.compile(pattern, _re2_options())
    except re2.error:
        return None


def _compiled_within_budget(pattern: str):
    """`compiled(pattern)`, the running check's budget read first: a compile that misses the cache
    costs RE2 up to ~10 ms (`\\pL{1000}` to find it past `_RE2_MAX_MEM`), and a schema may hold
    thousands of patterns, so compiles are counted in time, not in ticks."""
    budget = _budget.get()
    if budget is not None:
        budget.check()
    return compiled(pattern)


def regex_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be checked in bounded time, or None when it can; raises `Unbounded`
    past the budget of the check it runs in (`within`)."""
    if _compiled_within_budget(pattern) is None:
        return ("RE2 cannot compile this pattern (no backreferences or lookaround, repeats up to {1000}), "
                "so checking it could take unbounded time")
    return None


def search(pattern: str, text: str, flags: int = 0):
    """`re.search` for jsonschema, by RE2 (see the module docstring)."""
    regex = _compiled_within_budget(pattern)
    if regex is None:
        raise Unbounded("the schema has a pattern that cannot be checked in bounded time")
    if len(text) * regex.programsize > MAX_REGEX_WORK:
        raise Unbounded("a pattern of the schema is too complex to check against text this long within the bound")
    _tick()
    return regex.search(text)


class _Re2Module:
    """What jsonschema's keyword modules use of `re` (only `search`), backed by RE2."""

    search = staticmethod(search)


def _install_re2() -> None:
    for module in (_keywords, _utils, _legacy_keywords):
        module.re = _Re2Module  # type: ignore[attr-defined]


_install_re2()


# ---------------------------------------------------------------- keywords replaced

def _canonical(value: Any) -> Any:
    """A hashable form equal for JSON-equal values: 1 and 1.0 alike, true and 1 not, key order ignored."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, list):
        return ("array", tuple(_canonical(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((key, _canonical(item)) for key, item in value.items()))
    return ("other", value)


def unique_items(validator, unique: bool, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if unique and validator.is_type(instance, "array"):
        if len({_canonical(item) for item in instance}) != len(instance):
            yield ValidationError("has non-unique elements")


def _branch_valid(validator, instance: Any, subschema: Any, index: int) -> bool:
    return next(validator.descend(instance, subschema, schema_path=index), None) is None


def any_of(validator, branches: list, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if not any(_branch_valid(validator, instance, sub, i) for i, sub in enumerate(branches)):
        yield ValidationError("is not valid under any of the given schemas")


def one_of(validator, branches: list, instance: Any, schema: dict) -> Iterator[ValidationError]:
    valid = 0
    for index, subschema in enumerate(branches):
        if _branch_valid(validator, instance, subschema, index):
            valid += 1
            if valid > 1:
                break
    if valid != 1:
        yield ValidationError("is not valid under exactly one of the given schemas")


_REPLACED = {"uniqueItems": unique_items, "anyOf": any_of, "oneOf": one_of}


def _ticking(keyword_fn):
    @functools.wraps(keyword_fn)
    def keyword(validator, value, instance, schema):
        _tick()
        return keyword_fn(validator, value, instance, schema)

    return keyword


@functools.cache
def bounded_class(base: type) -> type:
    """`base` (a jsonschema validator class) with every keyword ticking the budget, and staying so
    into every subschema (see `_staying_bounded`)."""
    keywords = {name: _ticking(_REPLACED.get(name, fn)) for name, fn in base.VALIDATORS.items()}
    bounded = jsonschema.validators.extend(base, validators=keywords)
    bounded.evolve = _staying_bounded(bounded.evolve)
    bounded.sitesecrets_bounded = True
    return bounded


def _staying_bounded(evolve):
    """`evolve` (what jsonschema calls to descend into each subschema) that never leaves the bound.

    A subschema naming a `$schema` makes jsonschema pick that dialect's stock validator class for
    it and all below it, which knows nothing of the budget nor of the keywords replaced above: a
    schema whose every level named its dialect ran unbounded (the exponential schema of depth 20:
    164 s of CPU). Such a validator is made again as that dialect's bounded class: only subschemas
    naming a `$schema` pay for it."""

    def evolved(self, **changes):
        new = evolve(self, **changes)
        cls = type(new)
        if getattr(cls, "sitesecrets_bounded", False):
            return new
        return bounded_class(cls)(**{f.alias: getattr(new, f.name) for f in attrs.fields(cls) if f.init})

    return evolved


@functools.cache
def format_checker(base: type) -> FormatChecker:
    """`base`'s format checker with `regex` meaning "RE2 compiles it", as `pattern` does."""
    checker = FormatChecker()
    checker.checkers = dict(base.FORMAT_CHECKER.checkers)
    checker.checks("regex", raises=())(lambda instance: not isinstance(instance, str) or _compiled_within_budget(instance) is not None)
    return checker


def validator_for(schema: Any, **kwargs: Any):
    base = jsonschema.validators.validator_for(schema, default=Draft202012Validator)
    return bounded_class(base)(schema, format_checker=format_checker(base), **kwargs)


def schema_error(schema: Any) -> ValidationError | None:
    """The first error of `schema` against its metaschema, or None: jsonschema's `check_schema`
    with every keyword ticking the budget of the check it runs in (`within`), since a wide schema
    costs its metaschema check seconds (14,000 plain properties in a 1 MiB body: 4 s)."""
    base = jsonschema.validators.validator_for(schema, default=Draft202012Validator)
    meta = jsonschema.validators.validator_for(base.META_SCHEMA, default=base)
    return next(iter(bounded_class(meta)(base.META_SCHEMA, format_checker=format_checker(base)).iter_errors(schema)), None)


# ---------------------------------------------------------------- values

def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValueNotJson(f"a number in a typed value may have at most {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueNotJson("a number in a typed value is beyond the range of a double")
    return number


def _constant(name: str) -> float:
    raise ValueNotJson(f"{name} is not JSON")


def parse(value: str) -> Any:
    """The JSON value of a typed secret; raises `json.JSONDecodeError`, `RecursionError` or `ValueNotJson`."""
    return json.loads(value, parse_int=_integer, parse_float=_float, parse_constant=_constant)


@contextlib.contextmanager
def within(budget: Budget) -> Iterator[None]:
    """Run the checks of the block (keywords, searches, compiles) under `budget`."""
    token = _budget.set(budget)
    try:
        yield
    finally:
        _budget.reset(token)


def errors(validator, instance: Any, budget: Budget) -> list[ValidationError]:
    """Up to `MAX_REPORTED_ERRORS` errors of `instance`; raises `Unbounded` past the budget."""
    found: list[ValidationError] = []
    with within(budget):
        try:
            for error in validator.iter_errors(instance):
                found.append(error)
                if len(found) >= MAX_REPORTED_ERRORS:
                    break
        except RecursionError:
            raise Unbounded("the schema nests too deeply to check") from None
    return found
