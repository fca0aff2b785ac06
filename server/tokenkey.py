"""The token key: what stored token hashes are keyed with and token rows are sealed with, so that
writing the database mints no token and strengthens none; and the audit key derived from it
(`crypto.audit_chain_key`), which the audit log's links are MACs under, so that writing the
database rewrites no history.

A token is stored as HMAC-SHA256(token key, SHA-256(token)), and its row carries a MAC over its
columns under a key derived from the token key (see `auth.TokenHasher`). The token key is random
and lives in `meta`, wrapped by the master key as each site's data key is; a rotation of the
master key re-wraps it, so it never changes and no stored hash is ever re-keyed (which would need
the tokens themselves).

Older databases are upgraded by the first process that opens one with its master key (a server
starting, `token create`, `rotate-master-key`), in one transaction. Those from before the token key
(key check value v1) stored plain SHA-256 hashes: the upgrade makes a token key and keys every
stored digest d as HMAC(key, d), which needs no token. Those from before row MACs (v2) had keyed
hashes in rows without a MAC. Either way every row is then sealed. Those from before keyed audit
links (v1 to v3) have SHA-256 chains: each chain is keyed from its head on (`key_audit_chains`:
its old links stay as they are, pinned by the chain's seal). Then the legacy key check value is
replaced with the current one.

The key check value, not a flag of its own, is what says the upgrade is done, because a writer
of the database cannot forge it. Were it a flag, clearing it would make the next start seal
whatever the writer had put in the tokens table: a planted SHA-256 row keyed into a valid token,
a viewer's row edited into an admin's sealed as genuine. Making a database look un-upgraded
instead takes a legacy check value of this master key: only the key itself gives it, or a copy of
the database from before the upgrade, and that only until the master key is next rotated. An
upgraded database without its token key is refused, and its rows without a MAC are refused tokens.
The same holds for the audit chains: in a database with the current check value, a chain without
a seal that holds is reported broken by `verify`, never taken for an old chain.

The opener that proves it holds the master key (`open_token_key`) gives the store its audit key;
a store opened any other way writes no audit event (`store.AuditKeyMissing`).
"""

from __future__ import annotations

import base64

from . import crypto
from .auth import TokenHasher
from .keyring import CHECK_META_KEY
from .store import Store, Transaction
from .store.audit_key import AuditKey

TOKEN_KEY_META = "token_hash_key"
"""The `meta` row holding the token key, wrapped by the master key (base64)."""


class TokenKeyError(Exception):
    """The token key cannot be had; the message is one sentence for the user."""


def new_token_key(tx: Transaction, master: bytes) -> TokenHasher:
    """Give a new database its token key (`init`), and `tx` the audit key derived from it, so its
    chains are keyed from their first event; the caller writes the current key check value."""
    key = crypto.new_key()
    tx.set_meta(TOKEN_KEY_META, _wrap(master, key))
    tx.audit_key = _audit_key(key)
    return TokenHasher(key)


def open_token_key(store: Store, master: bytes) -> TokenHasher:
    """The hasher of this database's token key, upgrading an older database (see above); `store`
    is given the audit key, so that what it writes from now on is keyed.

    `master` must already match the database's key check value (`keys.load_master_key`)."""
    check = store.read(lambda tx: tx.get_meta(CHECK_META_KEY)) or ""
    if crypto.legacy_version(master, check) is not None:
        key = store.write(lambda tx: token_key_for_writing(tx, master))
    else:
        key = store.read(lambda tx: _current_token_key(tx, master))
    store.audit_key = _audit_key(key)
    return TokenHasher(key)


def read_audit_key(store: Store, master: bytes) -> AuditKey | None:
    """The audit key, for a reader that must not write (`audit verify`): None when the database is
    older than keyed links and not yet upgraded, so its chains are still SHA-256 throughout.

    `master` must already match the database's key check value."""
    check = store.read(lambda tx: tx.get_meta(CHECK_META_KEY)) or ""
    if crypto.legacy_version(master, check) is not None:
        return None
    return _audit_key(store.read(lambda tx: _current_token_key(tx, master)))


def token_key_for_writing(tx: Transaction, master: bytes) -> bytes:
    """The token key in a write transaction, the database upgraded first if it is an older one.
    Locks the key check row exclusively, so that of several processes upgrading at once one does
    it and the others then find it done."""
    check = tx.get_meta_locked(CHECK_META_KEY, exclusive=True) or ""
    version = crypto.legacy_version(master, check)
    if version is None:
        return _current_token_key(tx, master)
    key = crypto.new_key() if version == 1 else _current_token_key(tx, master)
    hasher = TokenHasher(key)
    # v3's rows carry MACs already: sealing them again would vouch for whatever a writer put there
    for row in tx.list_tokens() if version < 3 else []:
        stored = hasher.key_digest(row.hash) if version == 1 else row.hash
        # delete, then insert: the store has no update of a hash or MAC, and this is the one place needing it
        tx.delete_token(row.id)
        tx.insert_token(hasher.seal(row._replace(hash=stored)))
    if version == 1:
        tx.set_meta(TOKEN_KEY_META, _wrap(master, key))
    tx.key_audit_chains(_audit_key(key))
    tx.set_meta(CHECK_META_KEY, crypto.key_check_value(master))
    return key


def rewrap_token_key(tx: Transaction, old: bytes, new: bytes) -> None:
    """Re-wrap the token key under a new master key (in the rotation's transaction, after it
    locked the key check row); an older database is upgraded first, under the old key. `tx` is
    given the audit key, which the rotation leaves as it was (the token key does not change)."""
    key = token_key_for_writing(tx, old)
    tx.set_meta(TOKEN_KEY_META, _wrap(new, key))
    tx.audit_key = _audit_key(key)


def _audit_key(token_key: bytes) -> AuditKey:
    """The audit key of the database whose token key is `token_key` (`crypto.audit_chain_key`)."""
    return AuditKey(crypto.audit_chain_key(token_key))


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
