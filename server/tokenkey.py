"""The token key: what stored token hashes are keyed with, so that writing the database mints no token.

A token is stored as HMAC-SHA256(token key, SHA-256(token)) (see `auth.TokenHasher`). The token
key is random and lives in `meta`, wrapped by the master key as each site's data key is; a
rotation of the master key re-wraps it, so it never changes and no stored hash is ever re-keyed
(which would need the tokens themselves).

Databases from before the token key stored plain SHA-256 hashes. The first process that opens
one with its master key (a server starting, `token create`, `rotate-master-key`) upgrades it in
one transaction: it makes a token key, keys every stored digest d as HMAC(key, d), which needs no
token, and replaces the legacy key check value with the current one.

The key check value, not a flag of its own, is what says the upgrade is done, because a writer
of the database cannot forge it. Were it a flag, deleting it (and the token key) and planting a
row holding the SHA-256 of a chosen token would make the next start key that row into a valid
token. Making a database look un-upgraded instead takes the legacy check value of this master
key: only the key itself gives it, or a copy of the database from before the upgrade, and that
only until the master key is next rotated. An upgraded database without its token key is refused.
"""

from __future__ import annotations

import base64
import dataclasses

from . import crypto
from .auth import TokenHasher
from .keyring import CHECK_META_KEY
from .store import Store, Transaction

TOKEN_KEY_META = "token_hash_key"
"""The `meta` row holding the token key, wrapped by the master key (base64)."""


class TokenKeyError(Exception):
    """The token key cannot be had; the message is one sentence for the user."""


def new_token_key(tx: Transaction, master: bytes) -> TokenHasher:
    """Give a new database its token key (`init`); the caller writes the current key check value."""
    key = crypto.new_key()
    tx.set_meta(TOKEN_KEY_META, _wrap(master, key))
    return TokenHasher(key)


def open_token_key(store: Store, master: bytes) -> TokenHasher:
    """The hasher of this database's token key, upgrading a database from before it (see above).

    `master` must already match the database's key check value (`keys.load_master_key`)."""
    check = store.read(lambda tx: tx.get_meta(CHECK_META_KEY)) or ""
    if crypto.is_legacy_check(master, check):
        return TokenHasher(store.write(lambda tx: token_key_for_writing(tx, master)))
    return TokenHasher(store.read(lambda tx: _current_token_key(tx, master)))


def token_key_for_writing(tx: Transaction, master: bytes) -> bytes:
    """The token key in a write transaction, made (and every legacy hash keyed with it) if the
    database predates it. Locks the key check row exclusively, so that of several processes
    upgrading at once one does it and the others then find it done."""
    check = tx.get_meta_locked(CHECK_META_KEY, exclusive=True) or ""
    if not crypto.is_legacy_check(master, check):
        return _current_token_key(tx, master)
    key = crypto.new_key()
    hasher = TokenHasher(key)
    for row in tx.list_tokens():
        # delete, then insert: the store has no update of a hash, and this is the one place needing it
        tx.delete_token(row.id)
        tx.insert_token(dataclasses.replace(row, hash=hasher.key_digest(row.hash)))
    tx.set_meta(TOKEN_KEY_META, _wrap(master, key))
    tx.set_meta(CHECK_META_KEY, crypto.key_check_value(master))
    return key


def rewrap_token_key(tx: Transaction, old: bytes, new: bytes) -> None:
    """Re-wrap the token key under a new master key (in the rotation's transaction, after it
    locked the key check row); a legacy database is upgraded first, under the old key."""
    key = token_key_for_writing(tx, old)
    tx.set_meta(TOKEN_KEY_META, _wrap(new, key))


def _current_token_key(tx: Transaction, master: bytes) -> bytes:
    wrapped = tx.get_meta(TOKEN_KEY_META)
    if wrapped is None:
        raise TokenKeyError("the database has no token key although its key check value says it should; "
                            "it was tampered with or damaged, so no token can be trusted")
    try:
        return crypto.unwrap_token_key(master, base64.b64decode(wrapped))
    except (crypto.IntegrityError, ValueError):
        raise TokenKeyError("the database's token key does not open with the master key; "
                            "it was tampered with or damaged, so no token can be trusted") from None


def _wrap(master: bytes, key: bytes) -> str:
    return base64.b64encode(crypto.wrap_token_key(master, key)).decode()
