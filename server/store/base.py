"""The storage interface and the rows it deals in. Backends implement `Store` and `Transaction`."""

from __future__ import annotations

import json
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Protocol, TypeVar

from .audit_key import AuditKey

T = TypeVar("T")
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))  # built once: `json.dumps` builds one a call


class StoreError(Exception):
    """The database failed in a way the request cannot fix (the message holds no data)."""


class StorageFull(StoreError):
    """The disk (or the database's page limit) is full; nothing of the write was kept."""


class Unavailable(StoreError):
    """The database cannot be reached just now (restarting, crashed, the connection cut), or gave
    no connection in time; a later request may succeed. A write that failed so was not acknowledged."""


class LockHeld(StoreError):
    """Another process holds the lock that serving and rotating the master key take (see
    `dirlock.py` and `PostgresStore.hold_lock`); `holders` names them where that is known."""

    def __init__(self, holders: list[str]) -> None:
        super().__init__("the lock is held" + (f" by {', '.join(holders)}" if holders else ""))
        self.holders = holders


class AuditKeyMissing(StoreError):
    """An audit event was to be written by a store that holds no audit key: one opened without the
    master key (see `tokenkey.open_token_key`). Refused rather than written with an unkeyed link,
    which `verify` would report as a break in a keyed database."""

    def __init__(self) -> None:
        super().__init__("this process opened the database without its master key, so it may not write audit events")


class ChainTampered(StoreError):
    """A chain's seal (its switch-over to keyed links and its anchor, MAC'd under the audit key) does
    not verify, so retention refuses to move its anchor: re-sealing would launder the change."""


class Conflict(StoreError):
    """A uniqueness rule refused the write (a concurrent request took the name first)."""


class AuditRecord(NamedTuple):
    """One audit event to write. `details` is JSON text, serialised by whoever builds the event,
    so the single writer thread spends no time on it. A named tuple, not a frozen dataclass: as
    immutable, and built in half the instructions (a frozen dataclass sets each of its nine fields
    through `object.__setattr__`), which every audited request pays once."""

    at: str
    action: str
    outcome: str
    details: str = "{}"
    actor: str | None = None
    actor_id: str | None = None
    site: str | None = None
    target: str | None = None
    source: str | None = None

    @classmethod
    def of(cls, action: str, *, details: dict[str, Any] | None = None, **fields: Any) -> "AuditRecord":
        return cls(action=action, details=encode_details(details), **fields)


def encode_details(details: dict[str, Any] | None) -> str:
    """An event's `details` as the JSON text it is stored as: `_COMPACT_JSON.encode(details)`."""
    if not details:
        return "{}"
    if _encode_compact is None:
        return _COMPACT_JSON.encode(details)
    return "".join(_encode_compact(details, 0))


# the C encoder `_COMPACT_JSON.encode` makes on every call, made once (every audited request encodes
# its event's details: 19 k instructions a call, 12 k with it made once); the same text, without
# the check for a container holding itself, which details built by code never are
_encode_compact = (c_make_encoder(None, _COMPACT_JSON.default, encode_basestring_ascii, None, ":", ",", False, False, True)
                   if c_make_encoder is not None else None)


class SiteRow(NamedTuple):
    """A site. This row and the others read on every request (`ServiceRow`, `TokenRow`) are named
    tuples, as immutable as a frozen dataclass and built for a fraction of its cost: a frozen
    dataclass sets each field through `object.__setattr__` (callgrind: the seven rows of an
    environment fetch's snapshot cost 95 k instructions as frozen dataclasses, 14 k as named tuples).
    See `BoundSecret` for the one row read often enough to be a slotted dataclass instead."""

    id: int
    name: str
    created_at: str
    wrapped_key: bytes
    max_secrets: int | None
    max_value_bytes: int | None
    max_name_length: int | None
    max_versions: int | None = None
    trash_days: int | None = None
    audit_retention_days: int | None = None
    max_apps: int | None = None
    max_services: int | None = None
    max_types: int | None = None
    max_tokens: int | None = None


@dataclass(frozen=True)
class SiteUsageRow:
    """What a site holds: its secrets, their current blobs' summed size, services and tokens, and
    its trash (entries, and their current blobs' summed size)."""

    secrets: int
    sealed_bytes: int
    services: int
    tokens: int
    trash: int = 0
    trash_sealed_bytes: int = 0
    apps: int = 0
    types: int = 0


@dataclass(frozen=True)
class AppRow:
    id: int
    site_id: int
    name: str
    site_secrets: bool
    created_at: str


@dataclass(frozen=True)
class TypeRow:
    id: int
    site_id: int
    key: str
    name: str
    schema: str
    description: str
    created_at: str
    updated_at: str
    secret_count: int = 0


@dataclass(frozen=True)
class SecretRow:
    id: int
    site_id: int
    app_id: int | None
    app: str | None
    name: str
    type_id: int | None
    type_key: str | None
    description: str
    version: int
    ciphertext: bytes
    created_at: str
    updated_at: str
    created_by: str
    updated_by: str
    last_used_at: str | None
    fingerprint: str | None = None
    rotate_every_days: int | None = None
    value_updated_at: str | None = None
    """When the current value was set (its version created): what a rotation period counts from."""


@dataclass(frozen=True)
class VersionRow:
    """One kept value of a secret (the current one included)."""

    version: int
    ciphertext: bytes
    fingerprint: str | None
    type_key: str | None
    created_at: str
    created_by: str


@dataclass(frozen=True)
class TrashRow:
    """A deleted secret in its site's trash, with what it needs to come back or be purged."""

    id: int
    site_id: int
    app_id: int | None
    app: str | None
    name: str
    version: int
    deleted_at: str
    deleted_by: str
    purge_at: str


@dataclass(frozen=True)
class ExpiredTrash:
    """A trash entry past its `purge_at`, with the site name its purge is audited under."""

    id: int
    site: str
    app: str | None
    name: str
    version: int


@dataclass(frozen=True)
class BindingRow:
    service_id: int
    app_id: int | None
    app: str | None
    name: str
    loaded_version: int | None
    current_version: int | None
    """The bound secret's version now, or None while it does not exist."""


@dataclass(slots=True)
class BoundSecret:
    """A service's binding with the secret it names, if that exists (`secret_id` None otherwise).

    Not frozen, unlike the other rows, and not a named tuple: an environment fetch builds one per
    binding and reads its fields some thirty times over; a slotted dataclass is built for a quarter
    of a frozen one's cost and read for 40% of a named tuple's (callgrind: five built 15 k
    instructions against 68 k frozen; 400 reads 35 k against 93 k). Nothing changes one once read."""

    app_id: int | None
    app: str | None
    name: str
    secret_id: int | None
    version: int | None
    ciphertext: bytes | None
    loaded_version: int | None = None
    last_used_at: str | None = None


class ServiceRow(NamedTuple):
    id: int
    site_id: int
    app_id: int | None
    app: str | None
    name: str
    created_at: str
    loaded_at: str | None


class EnvSite(NamedTuple):
    """What an environment fetch reads of its site, and no more: every column read costs (callgrind:
    the site and service row of 19 columns cost 54 k instructions, the 9 that a fetch uses 36 k).
    `Keyring` opens the site's values with it as with a `SiteRow`."""

    id: int
    name: str
    wrapped_key: bytes


class EnvService(NamedTuple):
    """What an environment fetch reads of its service."""

    id: int
    loaded_at: str | None
    env_changes: int
    """The service's change counter as this read saw it (see `changes.py`): read with the row, so
    an environment fetch needs no query of its own for it."""


class EnvSnapshot(NamedTuple):
    """What an environment fetch reads (`Transaction.env_snapshot`)."""

    site: EnvSite
    service: EnvService | None
    """None: the site has no service of that name."""
    site_secrets: bool
    """Whether the service may receive site-level secrets: its app allows them, or it has no app."""
    bound: list[BoundSecret]


class TokenRow(NamedTuple):
    id: str
    name: str
    role: str
    site: str | None
    service: str | None
    hash: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    mac: str | None = None  # over every column but itself and last_used_at (`auth.TokenHasher.seal`)
    site_uid: str | None = None
    """Not a column: the uid (lifetime) of the token's site, read with the row by the token lookup
    (`get_token_by_hash`) alone, so that a denial of the token knows its kind without a read of its own
    (`denials.py`). None for a token of no site, and in a row any other query read."""


class Transaction(Protocol):
    """Every query of the server. Methods raise `Conflict` on a uniqueness violation."""

    # meta
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def get_meta_locked(self, key: str, *, exclusive: bool = False) -> str | None:
        """`get_meta` in a write transaction, the row locked until it ends (shared or exclusive):
        what makes a site creation and a master-key rotation see each other (see `datadir.py`)."""
        ...
    # sites
    def list_sites(self) -> list[SiteRow]: ...
    def get_site(self, name: str) -> SiteRow | None: ...
    def insert_site(self, name: str, wrapped_key: bytes, now: str) -> SiteRow: ...
    def update_site_limits(self, site_id: int, limits: dict[str, int | None]) -> None: ...
    def update_site_key(self, site_id: int, wrapped_key: bytes) -> None: ...
    def delete_site(self, site_id: int) -> None: ...
    def site_contents(self, site_id: int) -> dict[str, int]: ...
    def count_in_site(self, site_id: int, table: str) -> int:
        """How many rows of `table` (`secrets`, `apps`, `services` or `secret_types`) the site holds."""
        ...
    def count_live_tokens(self, site: str, now: str) -> int:
        """How many tokens bound to `site` have not expired at `now` (what `max_tokens` counts)."""
        ...
    def site_usage(self, now: str, site_id: int | None = None) -> dict[int, SiteUsageRow]:
        """Each site's usage by site id (every site, or only `site_id`), its tokens counted as at
        `now`; a site holding nothing is there with zeros."""
        ...
    def delete_site_contents(self, site_id: int) -> dict[str, int]:
        """Delete (and wipe) everything of the site but the site row and its tokens: bindings,
        services, secrets and their versions, the trash, types and apps; returns how many rows of
        each went (keys: bindings, services, versions, secrets, trashed_versions, trash,
        secret_types, apps)."""
        ...
    def env_changes(self, service_ids: list[int]) -> dict[int, int]:
        """Each service's count of changes that can alter its environment (migration 10's triggers
        keep it); a service that does not exist is left out."""
        ...
    # apps
    def list_apps(self, site_id: int) -> list[AppRow]: ...
    def get_app(self, site_id: int, name: str) -> AppRow | None: ...
    def insert_app(self, site_id: int, name: str, site_secrets: bool, now: str) -> AppRow: ...
    def update_app(self, app_id: int, site_secrets: bool) -> None: ...
    def delete_app(self, app_id: int) -> None: ...
    def app_contents(self, app_id: int) -> dict[str, int]: ...
    def services_binding_site_secrets(self, app_id: int) -> list[str]:
        """The names of the app's services that bind at least one site-level secret."""
        ...
    # secrets
    def list_secrets(self, site_id: int, app_id: int | None, all_scopes: bool = False) -> list[SecretRow]: ...
    def get_secret(self, site_id: int, app_id: int | None, name: str) -> SecretRow | None: ...
    def insert_secret(self, row: dict[str, Any]) -> int: ...
    def update_secret(self, secret_id: int, changes: dict[str, Any]) -> None: ...
    def delete_secret(self, secret_id: int) -> None: ...
    def secrets_of_type(self, type_id: int) -> list[SecretRow]: ...
    def services_using(self, site_id: int, app_id: int | None, name: str) -> list[str]: ...
    def usage_by_secret(self, site_id: int) -> dict[tuple[int | None, str], list[str]]: ...
    # versions (the current one included; see migration 4)
    def insert_version(self, secret_id: int, row: VersionRow) -> None: ...
    def list_versions(self, secret_id: int) -> list[VersionRow]:
        """Newest first."""
        ...
    def get_version(self, secret_id: int, version: int) -> VersionRow | None: ...
    def set_version_type(self, secret_id: int, version: int, type_key: str | None) -> None: ...
    def trim_versions(self, secret_id: int, keep: int) -> int:
        """Wipe all but the newest `keep` versions of the secret; returns how many went."""
        ...
    def trim_site_versions(self, site_id: int, keep: int) -> int:
        """`trim_versions` for every secret of the site, those in its trash included (after its
        `max_versions` was lowered)."""
        ...
    def fill_fingerprints(self, table: str, key: tuple, fingerprint: str) -> None: ...
    def unfingerprinted(self) -> list[tuple]:
        """(table, key, site id, app name, name, version, ciphertext) of every kept value with no
        fingerprint yet (values stored before migration 4)."""
        ...
    # trash
    def trash_secret(self, secret_id: int, deleted_at: str, deleted_by: str, purge_at: str) -> int:
        """Move the secret and its versions into the trash; returns the trash entry's id."""
        ...
    def restore_trashed(self, trash_id: int) -> int:
        """Move a trash entry and its versions back among the secrets; returns the secret's new id."""
        ...
    def purge_trashed(self, trash_id: int) -> bool:
        """Delete (and wipe) a trash entry and its versions; False if another purge took it first."""
        ...
    def list_trash(self, site_id: int) -> list[TrashRow]: ...
    def set_purge_at(self, trash_id: int, purge_at: str) -> None: ...
    def get_trashed(self, site_id: int, app_id: int | None, name: str) -> TrashRow | None: ...
    def expired_trash(self, now: str, limit: int) -> list[ExpiredTrash]:
        """The first `limit` trash entries due at `now`, soonest due first."""
        ...
    # secret types
    def list_types(self, site_id: int) -> list[TypeRow]: ...
    def get_type(self, site_id: int, key: str) -> TypeRow | None: ...
    def insert_type(self, site_id: int, key: str, name: str, schema: str, description: str, now: str) -> None: ...
    def update_type(self, type_id: int, changes: dict[str, Any]) -> None: ...
    def delete_type(self, type_id: int) -> None: ...
    # services
    def list_services(self, site_id: int) -> list[ServiceRow]: ...
    def get_service(self, site_id: int, name: str) -> ServiceRow | None: ...
    def insert_service(self, site_id: int, app_id: int | None, name: str, now: str) -> int: ...
    def delete_service(self, service_id: int) -> None: ...
    def bindings(self, service_ids: list[int]) -> list[BindingRow]: ...
    def replace_bindings(self, service_id: int, refs: list[tuple[int | None, str]]) -> None: ...
    def bound_secrets(self, service_id: int) -> list[BoundSecret]: ...
    def env_snapshot(self, site: str, service: str) -> EnvSnapshot | None:
        """The site named `site`, its service named `service` (None if it has none), whether that
        service may receive site-level secrets, and its bindings with their secrets: on SQLite in two
        queries, the site and service one (a join) and `bound_secrets`; on PostgreSQL in one (see
        `Store.read_env`). None when there is no such site."""
        ...
    def record_load(self, service_id: int, versions: dict[tuple[int | None, str], int], secret_ids: list[int], now: str,
                    *, touch_service: bool = True) -> None:
        """The service loaded these versions now: clears its restart flag and marks the secrets used.
        Callers pass only what changed (see `handlers.services.service_env`), and `touch_service=False`
        when the service's `loaded_at` is already `now`."""
        ...
    # tokens
    def get_token_by_hash(self, token_hash: str) -> TokenRow | None:
        """The token stored with `token_hash`, and its site's uid (`TokenRow.site_uid`), in one query."""
        ...
    def get_token(self, token_id: str) -> TokenRow | None: ...
    def expired_tokens(self, before: str, limit: int) -> list[TokenRow]:
        """Up to `limit` tokens that expired at or before `before`, those expired longest first."""
        ...
    def list_tokens(self, site: str | None = None) -> list[TokenRow]: ...
    def insert_token(self, row: TokenRow) -> None: ...
    def delete_token(self, token_id: str) -> bool: ...
    def delete_site_tokens(self, site: str) -> None: ...
    def delete_service_tokens(self, site: str, service: str) -> list[TokenRow]:
        """Revoke the service tokens of `service` in `site`; returns the tokens this removed."""
        ...
    def touch_token(self, token_id: str, now: str) -> None: ...
    # audit
    audit_key: AuditKey | None
    def insert_audit(self, event: AuditRecord, *, site_gone: bool = False) -> None:
        """Write `event` into the chain of its site's current lifetime (see `audit_tx.py`); with
        `site_gone`, into the chain of no site (the lifetime it belongs to has ended)."""
        ...
    def list_audit(self, site: str | None, filters: dict[str, str], limit: int, before: int | None) -> list[dict[str, Any]]:
        """Newest first: the events of the site named `site` in its current lifetime (never those of
        a deleted site of the same name), or with `site` None every event of every site and none."""
        ...
    def seal_audit(self) -> None:
        """Write the events `insert_audit` held back (a store grouping writers' events sets that)."""
        ...
    def audit_chains(self) -> list[tuple]:
        """(chain, last_id, last_hash, anchor_id, anchor_hash, exported_id) of every chain: a site
        lifetime's uid, or "" for events of no site (see `audit_tx.py`)."""
        ...
    def chain_of(self, site: str) -> str | None: ...
    def chain_head(self, chain: str) -> Any: ...
    def key_audit_chains(self, key: Any) -> int:
        """Key every chain not yet keyed from its head on (the upgrade; see `tokenkey.py`)."""
        ...
    def chain_sites(self) -> dict[str, tuple[str, int | None]]: ...
    def chain_events(self, chain: str, after_id: int, limit: int) -> list[tuple]: ...
    def remove_chain_prefix(self, chain: str, up_to_id: int, anchor_hash: bytes | None) -> int: ...
    def set_exported(self, chain: str, up_to_id: int) -> None: ...
    def export_page(self, after_id: int, chain: str | None, limit: int) -> list[dict[str, Any]]: ...
    def first_audit_id_at(self, at: str) -> int | None: ...


class Store(Protocol):
    audit_key: AuditKey | None
    """The key of the database's audit links, which every write transaction is given; None until
    the opener, holding the master key, sets it (`tokenkey.open_token_key`), and a store without
    it writes no audit event (`AuditKeyMissing`)."""

    def read(self, fn: Callable[[Transaction], T]) -> T:
        """Run `fn` in a read-only snapshot."""
        ...

    def lookup(self, fn: Callable[[Transaction], T]) -> T:
        """`read` for an `fn` that runs one query: without a transaction around it, which one
        statement does not need (it sees one snapshot on either backend). It saves `read`'s BEGIN
        and ROLLBACK: two statements, and two round trips on PostgreSQL, on every request (the
        token lookup)."""
        ...

    def read_env(self, fn: Callable[[Transaction], T]) -> T:
        """`read` for an `fn` whose only query is `env_snapshot`, run however that costs the store
        least: SQLite in a `read` (two queries, cheaper in-process than one that does both), PostgreSQL
        by `lookup` (its `env_snapshot` is one statement: one round trip instead of four)."""
        ...

    def write(self, fn: Callable[[Transaction], T]) -> T:
        """Run `fn` in a write transaction and return its result once that transaction is durable.

        If `fn` raises, none of its writes are kept and the exception reaches the caller. If the
        commit fails, the caller gets `StoreError` (or `StorageFull`) and nothing was kept.
        """
        ...

    def record(self, fn: Callable[[Transaction], T]) -> T:
        """`write` for what an audited read records (its audit event, a load record): `fn` takes
        no lock and refuses nothing, so the store may commit it together with others."""
        ...

    def hold_lock(self, *, exclusive: bool, pid: int | None = None) -> None:
        """Hold the server lock until `close()`: shared while serving, exclusive while rotating
        the master key. Never waits: raises `LockHeld` if a conflicting holder has it. `pid`: the
        process a rotation's refusal names, where not this one (a `serve --workers` worker's parent)."""
        ...

    def close(self) -> None: ...
