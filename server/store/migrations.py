"""The numbered schema history. A release appends a migration; it never edits an applied one."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "initial schema",
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE sites (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            wrapped_key BLOB NOT NULL,
            max_secrets INTEGER,
            max_value_bytes INTEGER,
            max_name_length INTEGER
        );
        CREATE TABLE apps (
            id INTEGER PRIMARY KEY,
            site_id INTEGER NOT NULL REFERENCES sites(id),
            name TEXT NOT NULL,
            site_secrets INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (site_id, name)
        );
        CREATE TABLE secret_types (
            id INTEGER PRIMARY KEY,
            site_id INTEGER NOT NULL REFERENCES sites(id),
            key TEXT NOT NULL,
            name TEXT NOT NULL,
            schema TEXT NOT NULL,
            description TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (site_id, key)
        );
        CREATE TABLE secrets (
            id INTEGER PRIMARY KEY,
            site_id INTEGER NOT NULL REFERENCES sites(id),
            app_id INTEGER REFERENCES apps(id),
            name TEXT NOT NULL,
            type_id INTEGER REFERENCES secret_types(id),
            description TEXT NOT NULL,
            version INTEGER NOT NULL,
            ciphertext BLOB NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            last_used_at TEXT
        );
        -- one name per scope; app_id is NULL at site level, and NULLs never collide in UNIQUE
        CREATE UNIQUE INDEX secrets_scope_name ON secrets (site_id, coalesce(app_id, 0), name);
        CREATE INDEX secrets_type ON secrets (type_id);
        CREATE TABLE services (
            id INTEGER PRIMARY KEY,
            site_id INTEGER NOT NULL REFERENCES sites(id),
            app_id INTEGER REFERENCES apps(id),
            name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            loaded_at TEXT,
            UNIQUE (site_id, name)
        );
        -- a binding names a secret by scope and name: it may exist before its secret does
        CREATE TABLE bindings (
            service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
            app_id INTEGER REFERENCES apps(id),
            name TEXT NOT NULL,
            loaded_version INTEGER
        );
        CREATE UNIQUE INDEX bindings_ref ON bindings (service_id, coalesce(app_id, 0), name);
        CREATE INDEX bindings_target ON bindings (name, app_id);
        CREATE TABLE tokens (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            site TEXT,
            service TEXT,
            hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            expires_at TEXT,
            last_used_at TEXT
        );
        -- audit rows name sites by name, not id, so they outlive the site they describe
        CREATE TABLE audit_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT,
            actor_id TEXT,
            action TEXT NOT NULL,
            site TEXT,
            target TEXT,
            outcome TEXT NOT NULL,
            source TEXT,
            details TEXT NOT NULL
        );
        CREATE INDEX audit_site ON audit_events (site, id);
        """,
    ),
]
