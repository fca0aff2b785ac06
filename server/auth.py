"""Tokens and roles: who is calling, whether their role may do what the route does, and minting
new tokens (for the API and the offline tools alike).

Tokens are `ss_` plus 32 random bytes (base64url). Only a keyed hash of each is stored,
HMAC-SHA256(token key, SHA-256(token)), so a copy of the database opens nothing and writing a row
into it mints nothing: without the token key (wrapped by the master key, see `tokenkey.py`) no one
can compute the hash of a token of their choosing. Lookup is by that hash, and the stored hash is
compared in constant time.

Nor can writing the database make a token stronger: each token row carries a MAC over its columns
(all but `last_used_at`, which use updates), under a key derived from the token key, and a row whose
MAC does not match is refused as an unknown token. Changing a viewer's row to an operator's admin,
moving it to another site or service, lifting its expiry, or giving one row another's hash breaks it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import NamedTuple

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared import models
from shared.models import Role

from .store import TokenRow, Transaction

TOKEN_PREFIX = "ss_"
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))  # built once: `json.dumps` builds one a call
_MAX_VERIFIED_ROWS = 4096
_ROW_MAC_INFO = b"sitesecrets token row mac v1"  # HKDF's label: the row MAC key is not the hash key


class Permission(StrEnum):
    """What a route needs; `ALLOWED` is the roles table of docs/API.md."""

    public = "public"
    any = "any"  # any valid token (whoami)
    read = "read"
    reveal = "reveal"
    write = "write"
    admin = "admin"
    operator = "operator"  # an admin bound to no site: the hosting operator (sites, their limits, the whole log)
    env = "env"


ALLOWED: dict[Permission, frozenset[Role]] = {
    Permission.any: frozenset(Role),
    Permission.read: frozenset({Role.viewer, Role.editor, Role.admin}),
    Permission.reveal: frozenset({Role.editor, Role.admin}),
    Permission.write: frozenset({Role.editor, Role.admin}),
    Permission.admin: frozenset({Role.admin}),
    Permission.operator: frozenset({Role.admin}),
    Permission.env: frozenset({Role.editor, Role.admin, Role.service}),
}


class Principal(NamedTuple):
    """The caller, as its token describes it. A named tuple, immutable as a frozen dataclass and
    built for a third of the cost: one is made on every request."""

    token_id: str
    name: str
    role: Role
    site: str | None
    service: str | None
    site_uid: str | None = None
    """The uid (lifetime) of `site` when the token was looked up: what a denial of it needs
    (`denials.py`), read with the token rather than after."""

    def may(self, permission: Permission) -> bool:
        if permission is Permission.public:
            return True
        # a site-bound admin is one tenant's admin: it may not make or unmake sites, nor raise its own limits
        return self.role in ALLOWED[permission] and (permission is not Permission.operator or self.site is None)

    def sees_site(self, site: str) -> bool:
        """A site-bound token sees other sites as if they did not exist."""
        return self.site is None or self.site == site

    def uid_of(self, site: str | None) -> str | None:
        """The uid of `site` if it is this token's own (read with the token), else None: not known."""
        return self.site_uid if site is not None and site == self.site else None


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_token_id() -> str:
    return "tok_" + secrets.token_hex(8)


def token_digest(token: str) -> str:
    """The unkeyed SHA-256 of a token: what databases from before the token key stored."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenHasher:
    """Hashes tokens and seals token rows under the token key. Built once per process: each request
    costs one HMAC, and a second the first time its token's row is seen as it now stands."""

    def __init__(self, token_key: bytes) -> None:
        self._mac = hmac.new(token_key, digestmod=hashlib.sha256)
        row_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_ROW_MAC_INFO).derive(token_key)
        self._row_mac = hmac.new(row_key, digestmod=hashlib.sha256)
        # the rows already found intact, as their MAC'd columns by their MAC: whether a row is
        # intact depends on nothing else, so a row read again unchanged needs no second HMAC. The
        # row is still read on every request, so a revoked token (its row gone) or an edited row
        # (its columns not those its MAC was found to cover) is refused as before; only the
        # recomputation is saved.
        self._verified: dict[str, tuple] = {}

    def hash(self, token: str) -> str:
        return self.key_digest(token_digest(token))

    def key_digest(self, digest: str) -> str:
        """The stored form of a token whose SHA-256 is `digest`: how a legacy row is re-keyed
        without its token."""
        mac = self._mac.copy()
        mac.update(digest.encode())
        return mac.hexdigest()

    def seal(self, row: TokenRow) -> TokenRow:
        """`row` with its MAC: how every token row is written."""
        return row._replace(mac=self.row_mac(row))

    def intact(self, row: TokenRow) -> bool:
        """Whether `row` is as the server wrote it (constant time the first time a row is seen)."""
        if row.mac is None:
            return False
        fields = _mac_fields(row)
        if self._verified.get(row.mac) == fields:
            return True
        if not hmac.compare_digest(row.mac, self.row_mac(row)):
            return False
        if len(self._verified) >= _MAX_VERIFIED_ROWS:
            self._verified.clear()  # bounded by live tokens anyway; this only caps a process that saw very many
        self._verified[row.mac] = fields
        return True

    def row_mac(self, row: TokenRow) -> str:
        # a JSON array: unambiguous where joining with a separator would let one field's text run
        # into the next; None stays distinct from any string
        mac = self._row_mac.copy()
        mac.update(_COMPACT_JSON.encode(list(_mac_fields(row))).encode())
        return mac.hexdigest()


def _mac_fields(row: TokenRow) -> tuple:
    """The columns a token row's MAC covers, in its order."""
    return (row.id, row.name, row.role, row.site, row.service, row.hash, row.created_at, row.expires_at)


def requested_expiry(body: models.TokenCreate, now: str) -> str | None:
    """When a token asked for by `body` at `now` would expire (None: never)."""
    if not body.expires_in_days:
        return None
    # counted from `now`, the token's created_at, so both are read off one clock
    issued = datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return (issued + timedelta(days=body.expires_in_days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def issue_token(tx: Transaction, hasher: TokenHasher, body: models.TokenCreate, site: str | None, now: str,
                expires: str | None = None) -> tuple[TokenRow, str]:
    """Store a new token's hash and return the row with the token itself, which is never stored.
    It expires when `body` asks, or at `expires` when given (a moment the caller worked out)."""
    token = new_token()
    expires = expires or requested_expiry(body, now)
    row = hasher.seal(TokenRow(new_token_id(), body.name, body.role.value, site, body.service, hasher.hash(token), now, expires, None))
    tx.insert_token(row)
    return row, token


def expired(expires_at: str | None, now: str) -> bool:
    """Whether a token expiring at `expires_at` (None: never) has expired at `now`. Stored times are
    `YYYY-MM-DDTHH:MM:SSZ`, which sort as the moments they name, so comparing the strings is
    comparing the times (and costs nothing on the per-request path)."""
    return expires_at is not None and expires_at <= now


def hashes_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ss_...` header, or None when there is none or it is malformed."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return token
