"""Envelope encryption: AES-256-GCM values under per-site data keys wrapped by the master key.

The master key never touches the database. What the database holds for each site is the site's
data key encrypted under the master key (`wrap_data_key`), and for each secret a sealed value
whose associated data names its site, scope, name and version, so a ciphertext copied to another
row, scope, site or version fails its integrity check instead of decrypting.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
_FORMAT = b"\x01"  # leading version byte of every sealed blob, so the layout can change later
SEAL_OVERHEAD = len(_FORMAT) + NONCE_BYTES + 16
"""What `seal` adds to a plaintext (version byte, nonce, tag): a value's size is its blob's minus this."""
_KEY_CHECK_LABEL = b"sitesecrets key check v4"
# the check values of databases from before each change to how tokens and audit links are stored,
# by version (see `server/tokenkey.py`): 1, token hashes were plain SHA-256; 2, keyed, but token
# rows had no MAC; 3, tokens as now, but the audit log's links were plain SHA-256
_LEGACY_KEY_CHECK_LABELS = {1: b"sitesecrets key check v1", 2: b"sitesecrets key check v2", 3: b"sitesecrets key check v3"}
_AUDIT_CHAIN_LABEL = b"sitesecrets audit chain v1"
_TOKEN_KEY_AAD = b"token-hash-key"
_FINGERPRINT_LABEL = b"sitesecrets value fingerprint v1"
FINGERPRINT_HEX = 16


class IntegrityError(Exception):
    """A sealed blob failed authentication: tampered, moved, or sealed under another key."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _cipher(key: bytes | AESGCM) -> AESGCM:
    return key if isinstance(key, AESGCM) else AESGCM(key)


def seal(key: bytes | AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt with a fresh random 96-bit nonce; returns version byte + nonce + ciphertext + tag."""
    nonce = os.urandom(NONCE_BYTES)
    return _FORMAT + nonce + _cipher(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes | AESGCM, blob: bytes, aad: bytes) -> bytes:
    """Decrypt a blob from `seal`; raises IntegrityError if anything about it is wrong."""
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != _FORMAT:
        raise IntegrityError("sealed blob is malformed")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return _cipher(key).decrypt(nonce, body, aad)
    except InvalidTag:
        raise IntegrityError("sealed blob failed its integrity check") from None


def value_aad(site: str, app: str | None, name: str, version: int) -> bytes:
    """Associated data binding a secret's ciphertext to where it lives and which version it is."""
    scope = f"app/{app}" if app else "site"
    return f"secret\x00{site}\x00{scope}\x00{name}\x00{version}".encode()


def fingerprint_key(data_key: bytes) -> bytes:
    """The key a site's fingerprints are made with: derived from its data key under a label of its
    own (HKDF), so that neither key tells anything about the other."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_FINGERPRINT_LABEL).derive(data_key)


def fingerprint(key: bytes, value: str) -> str:
    """The first 16 hex characters of HMAC-SHA256 over the value: equal for equal values under one
    key, and no dictionary oracle to anyone without the key (an unkeyed hash would be one)."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:FINGERPRINT_HEX]


def data_key_aad(site: str) -> bytes:
    return f"data-key\x00{site}".encode()


def wrap_data_key(master: bytes, site: str, data_key: bytes) -> bytes:
    return seal(master, data_key, data_key_aad(site))


def unwrap_data_key(master: bytes, site: str, wrapped: bytes) -> bytes:
    return open_sealed(master, wrapped, data_key_aad(site))


def wrap_token_key(master: bytes, token_key: bytes) -> bytes:
    return seal(master, token_key, _TOKEN_KEY_AAD)


def unwrap_token_key(master: bytes, wrapped: bytes) -> bytes:
    return open_sealed(master, wrapped, _TOKEN_KEY_AAD)


def audit_chain_key(token_key: bytes) -> bytes:
    """The key the audit log's links are MACs under (see `store/audit_tx.py`): derived from the
    token key under a label of its own (HKDF), so no new secret is stored, the key never changes
    (a rotation of the master key re-wraps the token key, never replaces it), and neither key
    tells anything about the other."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_AUDIT_CHAIN_LABEL).derive(token_key)


def key_check_value(master: bytes) -> str:
    """A value that tells a wrong master key from the right one, and reveals nothing of it; this
    one also says that the database's token hashes are keyed, its token rows carry MACs and its
    audit chains are keyed (see `server/tokenkey.py`)."""
    return hmac.new(master, _KEY_CHECK_LABEL, hashlib.sha256).hexdigest()


def legacy_key_check_value(master: bytes, version: int = 1) -> str:
    """The check value of a database from before keyed token hashes (1), token row MACs (2) or
    keyed audit links (3)."""
    return hmac.new(master, _LEGACY_KEY_CHECK_LABELS[version], hashlib.sha256).hexdigest()


def key_matches(master: bytes, check_value: str) -> bool:
    """Whether `master` is the key of a database with this check value, current or legacy."""
    return hmac.compare_digest(key_check_value(master), check_value) or legacy_version(master, check_value) is not None


def legacy_version(master: bytes, check_value: str) -> int | None:
    """Which legacy check value of `master` this is, or None when it is none of them."""
    for version in _LEGACY_KEY_CHECK_LABELS:
        if hmac.compare_digest(legacy_key_check_value(master, version), check_value):
            return version
    return None
