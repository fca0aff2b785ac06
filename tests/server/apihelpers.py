"""Small assertions the server tests share (imported as a plain module: tests/server is on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import httpx

import dbbackend
from waiting import wait_until
from server.app import create_app
from server.datadir import open_state

SITE = "/v1/sites/default"


def expect_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert docs/API.md's error shape with this status and code; returns `details`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    return error["details"]


def expire_token(state, data_dir: Path, token_id: str, at: str) -> None:
    """Move a token's expiry to `at`, sealing the row as the server would: time cannot be made to
    pass, and an unsealed edit is refused for that alone (test_token_hashes.py)."""
    row = state.store.read(lambda tx: tx.get_token(token_id))
    moved = state.tokens.seal(row._replace(expires_at=at))
    dbbackend.rows(data_dir, "UPDATE tokens SET expires_at = ?, mac = ? WHERE id = ?", moved.expires_at, moved.mac, token_id)


def create_secret(api: httpx.Client, name: str, value: str = "v", *, scope: str = SITE, **extra) -> dict[str, Any]:
    response = api.post(f"{scope}/secrets", json={"name": name, "value": value, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def reveal(api: httpx.Client, name: str, *, scope: str = SITE) -> httpx.Response:
    return api.post(f"{scope}/secrets/{name}/reveal")


def audit_rows(data_dir: Path, **where: str) -> list[dict[str, Any]]:
    """Audit rows read straight from the database (oldest first), filtered by column equality; the
    hash chaining each to the one before it (bytes) as hex, so a row is plain JSON."""
    clause = " AND ".join(f"{k} = ?" for k in where) or "1 = 1"
    found = dbbackend.rows(data_dir, f"SELECT * FROM audit_events WHERE {clause} ORDER BY id", *where.values())
    return [{**row, "hash": bytes(row["hash"]).hex() if row.get("hash") is not None else None} for row in found]


def copy_data_dir(source: Path, into: Path) -> Path:
    """Copy a closed data directory (and the files beside it, its database too) into `into`; returns the new one."""
    return dbbackend.clone(source, into)


def build_template(pristine: Path, into: Path, build: Callable[[httpx.Client], Any]) -> Path:
    """A copy of `pristine` on which `build(admin client)` has run, closed again so it can be
    copied; whatever `build` returns is saved beside it as `world.json` (see `world`)."""
    directory = dbbackend.clone(pristine, into, keep=True)  # the module's tests copy it
    opened = open_state(dbbackend.settings_for(directory), environ={})
    try:
        transport = httpx.WSGITransport(app=create_app(opened))
        token = (directory.parent / "admin.token").read_text()
        with httpx.Client(transport=transport, base_url="http://testserver", headers={"Authorization": f"Bearer {token}"}) as admin:
            (directory.parent / "world.json").write_text(json.dumps(build(admin)))
    finally:
        opened.store.close()
    return directory


def stored_values(data_dir: Path) -> list[bytes]:
    """Every byte string in every live row of every table, read straight from the database."""
    found = []
    for table in dbbackend.tables(data_dir):
        for row in dbbackend.rows(data_dir, f"SELECT * FROM {table}"):
            found += [bytes(v) for v in row.values() if isinstance(v, (bytes, memoryview))]
    return found


def racing_the_token_sweep(data_dir: Path, token_id: str, request: Callable[[], httpx.Response]) -> httpx.Response:
    """`request`'s answer when the sweep of expired tokens (or an admin on another replica)
    removes `token_id` first: that removal holds the row's lock until `request`'s own DELETE of
    the token waits for it, then commits. PostgreSQL only: SQLite's one writer never overlaps."""
    import threading

    import psycopg

    with psycopg.connect(dbbackend.database_url(data_dir), autocommit=True) as sweep:
        sweep.execute("BEGIN")
        sweep.execute("DELETE FROM tokens WHERE id = %s", (token_id,))
        answer: list[httpx.Response] = []
        racing = threading.Thread(target=lambda: answer.append(request()))
        racing.start()
        wait_until(lambda: waiting_for_a_lock(sweep, "DELETE FROM tokens"), "the request waiting for the sweep's row lock")
        sweep.execute("COMMIT")
        racing.join(60)
    return answer[0]


def waiting_for_a_lock(holder, statement: str) -> bool:
    """Whether a statement containing `statement` waits for a lock that `holder`'s session holds
    (asked on a connection of its own: a transaction sees a frozen pg_stat_activity)."""
    import psycopg

    with psycopg.connect(dbbackend.base_url(), autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid)) AND query LIKE %s",
                            (holder.info.backend_pid, f"%{statement}%")).fetchone()[0] == 1
