"""Fixtures shared by the server tests: a real data directory (real SQLite file, real master key),
the application over it, an admin client, tokens of every role, and a server on a real socket.

Nothing here is mocked: every test talks to the real WSGI application over httpx.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from server.app import State, create_app
from server.config import Settings
from server.datadir import init_data_dir, open_state
from server.embedded import EmbeddedServer
from server.keys import ENV_VAR


@pytest.fixture(autouse=True)
def _no_master_key_in_environment(monkeypatch) -> None:
    """A developer's own SITESECRETS_MASTER_KEY must not decide which key the tests' servers use."""
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture(scope="session")
def pristine_data_dir(tmp_path_factory) -> Path:
    """One `init`ed data directory per run, its admin token beside it in `admin.token`.
    Tests get copies: copying files costs no fsync, and SQLite's synchronous=FULL makes every
    commit one, which is most of a test's time on a busy disk."""
    directory = tmp_path_factory.mktemp("pristine") / "data"
    (directory.parent / "admin.token").write_text(init_data_dir(directory, environ={}))
    return directory


@pytest.fixture
def data_dir(pristine_data_dir: Path, tmp_path: Path) -> Path:
    """An initialised data directory of this test's own (key file, database, site `default`); see `admin_token`.
    A module may override this to copy a richer template (see `apihelpers.build_template`)."""
    shutil.copytree(pristine_data_dir.parent, tmp_path, dirs_exist_ok=True)
    return tmp_path / pristine_data_dir.name


@pytest.fixture
def world(data_dir: Path) -> Any:
    """What the `apihelpers.build_template` behind this test's data directory returned."""
    return json.loads((data_dir.parent / "world.json").read_text())


@pytest.fixture
def admin_token(data_dir: Path) -> str:
    return (data_dir.parent / "admin.token").read_text()


@pytest.fixture
def state(data_dir: Path) -> Iterator[State]:
    opened = open_state(Settings(data_dir=data_dir), environ={})
    yield opened
    opened.store.close()


@pytest.fixture
def app(state: State):
    return create_app(state)


@pytest.fixture
def client(app) -> Callable[..., httpx.Client]:
    """`client(token)`: an in-process client of the app; `token=None` sends no Authorization header."""
    opened: list[httpx.Client] = []

    def make(token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = httpx.WSGITransport(app=app, raise_app_exceptions=False)
        opened.append(httpx.Client(transport=transport, base_url="http://testserver", headers=headers))
        return opened[-1]

    yield make
    for c in opened:
        c.close()


@pytest.fixture
def api(client, admin_token: str) -> httpx.Client:
    """The first admin (unbound to any site)."""
    return client(admin_token)


@pytest.fixture
def mint(api: httpx.Client) -> Callable[..., str]:
    """`mint(role, site=None, service=None, **extra)`: a new token of that role, made through POST /v1/tokens."""

    def make(role: str, site: str | None = None, service: str | None = None, **extra) -> str:
        body = {"name": f"{role}-{site or 'all'}", "role": role, **extra}
        if site:
            body["site"] = site
        if service:
            body["service"] = service
        response = api.post("/v1/tokens", json=body)
        assert response.status_code == 201, response.text
        return response.json()["token"]

    return make


@pytest.fixture
def as_role(client, mint) -> Callable[..., httpx.Client]:
    """`as_role("viewer", site=...)`: a client holding a freshly minted token of that role."""
    return lambda role, **kw: client(mint(role, **kw))


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """The real threaded server on a loopback port, over its own data directory."""
    server = EmbeddedServer.start(tmp_path / "live")
    yield server
    server.stop()


@pytest.fixture
def db_rows(data_dir: Path) -> Callable[[], dict[str, list[tuple]]]:
    """`db_rows()`: every row of the database (the audit log as a count, tokens without their
    last-use time), read straight from the SQLite file, so a test can assert that a refused
    request changed nothing and was not audited as a change."""

    def read() -> dict[str, list[tuple]]:
        conn = sqlite3.connect(data_dir / "secrets.db")
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            rows = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                    for t in tables if t not in ("audit_events", "tokens", "sqlite_sequence")}
            rows["tokens"] = sorted(conn.execute("SELECT id, name, role, site, service, hash, expires_at FROM tokens"), key=repr)
            rows["audit_events"] = conn.execute("SELECT count(*) FROM audit_events").fetchall()
            return rows
        finally:
            conn.close()

    return read

