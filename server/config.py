"""Server settings: where the data lives and the default limits every site starts with."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shared.limits import DEFAULT_LIMITS, Limits

DB_FILE = "secrets.db"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    limits: Limits = field(default_factory=lambda: DEFAULT_LIMITS)
    token_touch_seconds: int = 60
    """How stale a token's `last_used_at` may get before a request refreshes it (a write)."""
    database_url: str | None = field(default=None, repr=False)  # it may hold a password
    """A `postgresql://` URL: serve from that database instead of `secrets.db` in the data directory
    (which then holds only the master key)."""

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILE
