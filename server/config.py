"""Server settings: where the data lives, the default limits every site starts with, and the
names of the environment variables the commands (and `wsgi.create`) read them from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shared.limits import DEFAULT_LIMITS, Limits

DB_FILE = "secrets.db"

DATA_DIR_ENV = "SITESECRETS_DATA_DIR"
DATABASE_URL_ENV = "SITESECRETS_DATABASE_URL"
DATABASE_URL_FILE_ENV = "SITESECRETS_DATABASE_URL_FILE"
COPY_FROM_ENV = "SITESECRETS_COPY_FROM"
COPY_TO_ENV = "SITESECRETS_COPY_TO"
AUDIT_FILE_ENV = "SITESECRETS_AUDIT_FILE"
AUDIT_RETENTION_ENV = "SITESECRETS_AUDIT_RETENTION_DAYS"
# the master key's variable (`SITESECRETS_MASTER_KEY`) is `keys.ENV_VAR`, beside the code that reads it


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    limits: Limits = field(default_factory=lambda: DEFAULT_LIMITS)
    token_touch_seconds: int = 60
    """How stale a token's `last_used_at` may get before a request refreshes it (a write)."""
    database_url: str | None = field(default=None, repr=False)  # it may hold a password
    """A `postgresql://` URL: serve from that database instead of `secrets.db` in the data directory
    (which then holds only the master key)."""

    audit_file: Path | None = None
    """`serve --audit-file`: where every committed audit event is appended (see `audit_export.py`)."""

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILE
