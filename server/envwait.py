"""The conditional side of `GET .../services/{name}/env`: its `ETag`, `If-None-Match`, and
`Prefer: wait=N` (RFC 7240), which holds an unchanged answer until a bound secret changes.

The tag names what the answer holds (each binding's secret by id and version, or its absence),
never a value, so it changes exactly when the environment may. An unchanged answer is 304 with
no body: nothing was read out, so nothing is audited and no load is recorded.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import nullcontext
from dataclasses import dataclass

from .context import Call
from .http import validation_error
from .store.base import BoundSecret

MAX_WAIT_SECONDS = 60
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))  # built once: `json.dumps` builds one a call
PARK_KEY = "sitesecrets.park"
"""The environ key of the server's context manager that takes a waiting request out of its
connection cap for the wait (see `wsgiserver._Handler.park`); absent elsewhere, a no-op."""


_MAX_TAGS = 4096
_tags: dict[tuple, str] = {}
"""Tags already computed, by what they are computed from: every fetch of an unchanged environment
asks for the same tag, and looking it up costs a sixth of computing it (sorting, JSON, SHA-256)."""


def env_etag(bound: list[BoundSecret]) -> str:
    """A strong tag for the environment `bound` makes: over (scope, name, secret id, version) of each
    binding. The id makes a secret deleted and created again at the same version another tag."""
    key = tuple([(b.app, b.name, b.secret_id, b.version) for b in bound])
    tag = _tags.get(key)
    if tag is None:
        tag = _computed_tag(key)
        if len(_tags) >= _MAX_TAGS:
            _tags.clear()  # bounded by the environments this process serves; this only caps a process serving very many
        _tags[key] = tag
    return tag


def _computed_tag(bindings: tuple) -> str:
    parts = sorted((app or "", name, secret_id or 0, version or 0) for app, name, secret_id, version in bindings)
    digest = hashlib.sha256(_COMPACT_JSON.encode(parts).encode()).hexdigest()
    return f'"{digest[:32]}"'


@dataclass(frozen=True)
class Condition:
    """What the request asks: the tags it holds (`If-None-Match`) and how long it would wait."""

    tags: frozenset[str]
    wait_seconds: int

    def unchanged(self, tag: str) -> bool:
        return "*" in self.tags or tag in self.tags


def condition_of(call: Call) -> Condition | None:
    """The request's condition, or None for a plain fetch; 422 for a `wait` preference outside 1..60."""
    wait = _wait_preference(call.request.header("Prefer") or "")
    header = call.request.header("If-None-Match")
    if header is None:
        return None
    # a weak tag compares by its opaque part (RFC 9110 8.8.3.2: If-None-Match uses weak comparison)
    tags = frozenset(t.strip().removeprefix("W/") for t in header.split(",") if t.strip())
    return Condition(tags, wait or 0)


def _wait_preference(header: str) -> int | None:
    for preference in header.split(","):
        name, _, value = preference.split(";")[0].strip().partition("=")
        if name.strip().lower() != "wait":
            continue  # other preferences are not ours to refuse (RFC 7240 section 2)
        value = value.strip().strip('"')
        if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_WAIT_SECONDS:
            raise validation_error([{"path": "/headers/Prefer", "message": f"wait must be a whole number of seconds, 1 to {MAX_WAIT_SECONDS}"}],
                                   "the Prefer header's wait is not valid")
        return int(value)
    return None


def parked(call: Call):
    """The context a request waits in: out of the server's connection cap, where it serves one."""
    park = call.request.environ.get(PARK_KEY)
    return park() if park is not None else nullcontext()


def deadline_of(condition: Condition) -> float:
    return time.monotonic() + condition.wait_seconds
