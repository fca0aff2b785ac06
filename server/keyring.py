"""The master key in memory, and the per-site data keys it unwraps (cached: unwrapping is per site,
not per request).

A running server must never use a master key the database no longer holds: a rotation that got
past the server lock (see `store.dirlock` and `PostgresStore.hold_lock`) would otherwise turn every
reveal into an integrity error and, worse, wrap the data key of each new site under the discarded
key, stranding it. So the keyring knows the key check value it started with and compares it with
the database's where a stale key would do harm: in the transaction that wraps a new data key (the
one write that uses the master key), and whenever a data key fails to unwrap (a cheap moment:
only on failure, so the hot paths pay nothing). Once it differs, `changed` is set for good and the
application refuses every request with 503 `master_key_changed` until a restart loads the new key.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import crypto
from .store import SiteRow, Transaction
from .store.base import EnvSite

CHECK_META_KEY = "master_key_check"
"""The `meta` row holding the master key's check value (never the key)."""

log = logging.getLogger("sitesecrets.server")


class MasterKeyChanged(Exception):
    """The database's key check value is not this keyring's: the master key was rotated under us."""


class Keyring:
    def __init__(self, master_key: bytes, stored_check: Callable[[], str | None] | None = None) -> None:
        """`stored_check` reads the database's key check value (in a transaction of its own); it is
        asked only after a data key failed to unwrap, to tell a changed master key from tampering."""
        self._master = master_key
        self.check_value = crypto.key_check_value(master_key)
        self._stored_check = stored_check
        self.changed = False
        self._data_keys: dict[tuple[int, bytes], tuple[AESGCM, bytes]] = {}
        """(the data key, the fingerprint key derived from it) by (site id, wrapped data key)."""
        self._lock = threading.Lock()

    def new_wrapped_data_key(self, tx: Transaction, site: str) -> bytes:
        """A new data key for `site`, wrapped, once `tx` has confirmed (and locked, so no rotation
        commits before `tx` does) that the database's master key is still ours."""
        self.require_current(tx.get_meta_locked(CHECK_META_KEY))
        return crypto.wrap_data_key(self._master, site, crypto.new_key())

    def require_current(self, stored_check: str | None) -> None:
        """Raise `MasterKeyChanged` (and refuse from now on) unless `stored_check` is our key's."""
        if stored_check == self.check_value:
            return
        with self._lock:
            first, self.changed = not self.changed, True
        if first:
            log.error("the master key in the database changed under this server (rotated while it ran); "
                      "refusing every request until it is restarted with the new key")
        raise MasterKeyChanged()

    def forget(self, site: SiteRow) -> None:
        """Drop a deleted site's unwrapped data key (other replicas drop theirs when they restart)."""
        with self._lock:
            for cache_key in [k for k in self._data_keys if k[0] == site.id]:
                del self._data_keys[cache_key]

    def data_key(self, site: SiteRow | EnvSite) -> AESGCM:
        """The site's data key, ready to use; raises `crypto.IntegrityError` if its wrapped form was
        tampered with, or `MasterKeyChanged` if the database's master key is no longer ours.

        Cached by the wrapped form itself, so a re-wrapped or replaced key is never served stale.
        """
        return self._site_keys(site)[0]

    def _site_keys(self, site: SiteRow | EnvSite) -> tuple[AESGCM, bytes]:
        cache_key = (site.id, site.wrapped_key)
        keys = self._data_keys.get(cache_key)
        if keys is None:
            try:
                unwrapped = crypto.unwrap_data_key(self._master, site.name, site.wrapped_key)
            except crypto.IntegrityError:
                if self._stored_check is not None:
                    self.require_current(self._stored_check())
                raise
            keys = (AESGCM(unwrapped), crypto.fingerprint_key(unwrapped))
            with self._lock:
                self._data_keys[cache_key] = keys
        return keys

    def fingerprint(self, site: SiteRow, value: str) -> str:
        """The site-keyed fingerprint of `value` (see `crypto.fingerprint`)."""
        return crypto.fingerprint(self._site_keys(site)[1], value)

    def seal_value(self, site: SiteRow, app: str | None, name: str, version: int, value: str) -> bytes:
        aad = crypto.value_aad(site.name, app, name, version)
        return crypto.seal(self.data_key(site), value.encode("utf-8"), aad)

    def open_value(self, site: SiteRow | EnvSite, app: str | None, name: str, version: int, blob: bytes) -> str:
        return self.opener(site)(app, name, version, blob)

    def opener(self, site: SiteRow | EnvSite) -> Callable[[str | None, str, int, bytes], str]:
        """`open_value` of `site`'s values, the site's data key found once for all of them (an
        environment opens several on every fetch)."""
        key, site_name = self.data_key(site), site.name

        def open_one(app: str | None, name: str, version: int, blob: bytes) -> str:
            return crypto.open_sealed(key, blob, crypto.value_aad(site_name, app, name, version)).decode("utf-8")

        return open_one
