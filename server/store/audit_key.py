"""The audit key in memory, ready to MAC with (see `audit_tx.py` for what it MACs, and
`crypto.audit_chain_key` for where it comes from)."""

from __future__ import annotations

import hashlib


class AuditKey:
    """The audit key, ready to MAC with: HMAC-SHA256 (RFC 2104) from the two SHA-256 states of its
    padded key, computed once. A link runs on the writer thread for every audited request, and
    callgrind counts per link (a 230-byte event): SHA-256 alone 12.5 k instructions, these copied
    states 17.9 k, `hmac.new(...).copy()` 23.4 k, and the one-shot `hmac.digest` 30.1 k (OpenSSL 3
    looks its HMAC implementation up on every call), which put 2 % on an environment fetch."""

    __slots__ = ("_inner", "_outer", "key")

    def __init__(self, key: bytes) -> None:
        self.key = key
        """The key itself, for a process of our own that walks the chains (`audit_walker`): the two
        states below MAC as it does, so keeping it exposes nothing they do not."""
        padded = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
        self._inner = hashlib.sha256(padded.translate(_IPAD))
        self._outer = hashlib.sha256(padded.translate(_OPAD))

    def mac(self, message: bytes) -> bytes:
        """HMAC-SHA256 of `message`: `hmac.digest(key, message, "sha256")`, byte for byte."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))
