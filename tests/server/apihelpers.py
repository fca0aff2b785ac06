"""Small assertions the server tests share (imported as a plain module: tests/server is on sys.path)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx

SITE = "/v1/sites/default"


def expect_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert API.md's error shape with this status and code; returns `details`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    return error["details"]


def create_secret(api: httpx.Client, name: str, value: str = "v", *, scope: str = SITE, **extra) -> dict[str, Any]:
    response = api.post(f"{scope}/secrets", json={"name": name, "value": value, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def reveal(api: httpx.Client, name: str, *, scope: str = SITE) -> httpx.Response:
    return api.post(f"{scope}/secrets/{name}/reveal")


def audit_rows(data_dir: Path, **where: str) -> list[dict[str, Any]]:
    """Audit rows read straight from SQLite (oldest first), filtered by column equality."""
    conn = sqlite3.connect(data_dir / "secrets.db")
    conn.row_factory = sqlite3.Row
    try:
        clause = " AND ".join(f"{k} = ?" for k in where) or "1"
        return [dict(r) for r in conn.execute(f"SELECT * FROM audit_events WHERE {clause} ORDER BY id", tuple(where.values()))]
    finally:
        conn.close()
