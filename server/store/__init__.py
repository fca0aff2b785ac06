"""Storage behind one interface: `Store.read(fn)` and `Store.write(fn)` run `fn(tx)` in a
transaction, where `tx` offers every query the server needs (see `base.Transaction`).
All SQL lives in the backend modules; nothing above this package writes a query."""

from .base import (
    AppRow,
    AuditKeyMissing,
    AuditRecord,
    ChainTampered,
    Conflict,
    LockHeld,
    SecretRow,
    ServiceRow,
    SiteRow,
    SiteUsageRow,
    StorageFull,
    Store,
    StoreError,
    TokenRow,
    Transaction,
    TypeRow,
    Unavailable,
)
from .sqlite import SqliteStore

__all__ = [
    "AppRow", "AuditKeyMissing", "AuditRecord", "ChainTampered", "Conflict", "LockHeld", "SecretRow", "ServiceRow", "SiteRow", "SiteUsageRow", "SqliteStore", "StorageFull",
    "Store", "StoreError", "TokenRow", "Transaction", "TypeRow", "Unavailable",
]
