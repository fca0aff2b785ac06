"""The master key in memory, and the per-site data keys it unwraps (cached: unwrapping is per site,
not per request)."""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import crypto
from .store import SiteRow


class Keyring:
    def __init__(self, master_key: bytes) -> None:
        self._master = master_key
        self._data_keys: dict[tuple[int, bytes], AESGCM] = {}
        self._lock = threading.Lock()

    def new_wrapped_data_key(self, site: str) -> bytes:
        return crypto.wrap_data_key(self._master, site, crypto.new_key())

    def data_key(self, site: SiteRow) -> AESGCM:
        """The site's data key, ready to use; raises `crypto.IntegrityError` if its wrapped form was tampered with.

        Cached by the wrapped form itself, so a re-wrapped or replaced key is never served stale.
        """
        cache_key = (site.id, site.wrapped_key)
        key = self._data_keys.get(cache_key)
        if key is None:
            key = AESGCM(crypto.unwrap_data_key(self._master, site.name, site.wrapped_key))
            with self._lock:
                self._data_keys[cache_key] = key
        return key

    def seal_value(self, site: SiteRow, app: str | None, name: str, version: int, value: str) -> bytes:
        aad = crypto.value_aad(site.name, app, name, version)
        return crypto.seal(self.data_key(site), value.encode("utf-8"), aad)

    def open_value(self, site: SiteRow, app: str | None, name: str, version: int, blob: bytes) -> str:
        aad = crypto.value_aad(site.name, app, name, version)
        return crypto.open_sealed(self.data_key(site), blob, aad).decode("utf-8")
