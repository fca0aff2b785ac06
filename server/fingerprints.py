"""Fingerprints for values stored before there were any (schema migration 4).

SQL cannot compute a keyed HMAC, so the migration leaves them empty and the first process that
opens the database with its master key fills them in, in one write; after that this is one
query that finds nothing. A value that fails its integrity check keeps no fingerprint (its
`fingerprint` stays null) and is left for a reveal to report, as before.
"""

from __future__ import annotations

from .crypto import IntegrityError
from .keyring import Keyring
from .store import Store, Transaction


def fill_missing(store: Store, keyring: Keyring) -> int:
    """Fingerprint every kept value that has none; returns how many were filled."""
    if not store.read(lambda tx: tx.unfingerprinted()):
        return 0

    def write(tx: Transaction) -> int:
        sites = {site.id: site for site in tx.list_sites()}
        filled = 0
        for table, key, site_id, app, name, version, ciphertext in tx.unfingerprinted():
            site = sites[site_id]
            try:
                value = keyring.open_value(site, app, name, version, ciphertext)
            except IntegrityError:
                continue
            tx.fill_fingerprints(table, key, keyring.fingerprint(site, value))
            filled += 1
        return filled

    return store.write(write)
