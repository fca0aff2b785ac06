"""Fixtures shared by the server tests: a real data directory (real SQLite file, real master key),
the application over it, an admin client, tokens of every role, and a server on a real socket.

Every test that uses a data directory runs twice: on SQLite and on PostgreSQL (`backend`; see
`dbbackend.py`). A test that inspects the SQLite file itself is marked `sqlite_only` and gets
only the SQLite run. Without `SITESECRETS_TEST_DATABASE_URL` the PostgreSQL runs are left out,
with one line at the end saying how many and how to run them.

Nothing here is mocked: every test talks to the real WSGI application over httpx.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

import dbbackend
from server.app import create_app
from server.context import State
from server.datadir import init_data_dir, open_state
from server.embedded import EmbeddedServer
from server.keys import ENV_VAR

BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): the test inspects the SQLite file itself; it runs on SQLite alone")
    config.addinivalue_line("markers", "postgresql_only(reason): the test needs PostgreSQL (several replicas on one database)")


def pytest_generate_tests(metafunc) -> None:
    """Every test that (through its fixtures) uses `backend` runs once per backend."""
    if "backend" in metafunc.fixturenames:
        backends = BACKENDS
        if metafunc.definition.get_closest_marker("sqlite_only"):
            backends = ("sqlite",)
        elif metafunc.definition.get_closest_marker("postgresql_only"):
            backends = ("postgresql",)
        metafunc.parametrize("backend", backends, indirect=True, scope="session")


_left_out: list[pytest.Item] = []


SLOWEST_FIRST = ("tests/reliability/",)
"""Files whose tests run longest (schemathesis, kill -9 rounds: 15 s a test): collected first, so
`make test`'s workers (`--dist loadfile`, whole files in collection order) start them first and
the run does not end with one worker through such a file while the other waits."""


def pytest_collection_modifyitems(config, items) -> None:
    """The slowest files first (see above). Without a PostgreSQL server to use, its runs are left
    out (and counted in one line)."""
    items.sort(key=lambda item: not item.nodeid.startswith(SLOWEST_FIRST))  # stable: each file's order kept
    if dbbackend.base_url() is not None:
        return
    postgres = [i for i in items if getattr(i, "callspec", None) and i.callspec.params.get("backend") == "postgresql"]
    if postgres:
        _left_out.extend(postgres)
        items[:] = [i for i in items if i not in set(postgres)]
        config.hook.pytest_deselected(items=postgres)


def pytest_terminal_summary(terminalreporter) -> None:
    if _left_out:
        terminalreporter.write_line(f"{len(_left_out)} {dbbackend.HOW_TO_RUN}")


@pytest.fixture(scope="session")
def backend(request) -> Iterator[str]:
    """"sqlite" or "postgresql": the database the data directory of this run lives in."""
    yield request.param
    if request.param == "postgresql":
        dbbackend.drop_schemas()


@pytest.fixture(autouse=True)
def _no_master_key_in_environment(monkeypatch) -> None:
    """A developer's own SITESECRETS_MASTER_KEY must not decide which key the tests' servers use."""
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture(autouse=True)
def _recycle_test_schemas() -> Iterator[None]:
    """After each test (its stores closed), its PostgreSQL schemas go back to the free list."""
    yield
    dbbackend.release_test_schemas()


@pytest.fixture(scope="session")
def pristine_data_dir(tmp_path_factory, backend: str) -> Path:
    """One `init`ed data directory per run and backend, its admin token beside it in `admin.token`.
    Tests get copies: copying files costs no fsync, and SQLite's synchronous=FULL makes every
    commit one, which is most of a test's time on a busy disk."""
    directory = tmp_path_factory.mktemp(f"pristine-{backend}") / "data"
    url = None
    if backend == "postgresql":
        url = dbbackend.new_schema_url()
        (directory.parent / dbbackend.URL_FILE).write_text(url)
    (directory.parent / "admin.token").write_text(init_data_dir(directory, environ={}, database_url=url))
    return directory


@pytest.fixture
def data_dir(pristine_data_dir: Path, tmp_path: Path) -> Path:
    """An initialised data directory of this test's own (key file, database, site `default`); see `admin_token`.
    A module may override this to copy a richer template (see `apihelpers.build_template`)."""
    return dbbackend.clone(pristine_data_dir, tmp_path)


@pytest.fixture
def world(data_dir: Path) -> Any:
    """What the `apihelpers.build_template` behind this test's data directory returned."""
    return json.loads((data_dir.parent / "world.json").read_text())


@pytest.fixture
def admin_token(data_dir: Path) -> str:
    return (data_dir.parent / "admin.token").read_text()


@pytest.fixture
def state(data_dir: Path) -> Iterator[State]:
    opened = open_state(dbbackend.settings_for(data_dir), environ={})
    yield opened
    opened.store.close()


@pytest.fixture
def app(state: State):
    application = create_app(state)
    yield application
    application.close()  # as a server closes it: before its store


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
def live_server(tmp_path: Path, backend: str, pristine_data_dir: Path) -> Iterator[EmbeddedServer]:
    """The real threaded server on a loopback port, over its own data directory."""
    if backend == "sqlite":
        server = EmbeddedServer.start(tmp_path / "live")
    else:
        directory = dbbackend.clone(pristine_data_dir, tmp_path / "live")
        server = EmbeddedServer.start(directory, settings=dbbackend.settings_for(directory))
    yield server
    server.stop()


@pytest.fixture
def db_rows(data_dir: Path) -> Callable[[], dict[str, list[tuple]]]:
    """`db_rows()`: every row of the database (the audit log as a count, tokens without their
    last-use time), read straight from the database, so a test can assert that a refused
    request changed nothing and was not audited as a change."""

    def values(statement: str) -> list[tuple]:
        return sorted((tuple(r.values()) for r in dbbackend.rows(data_dir, statement)), key=repr)

    def read() -> dict[str, list[tuple]]:
        # the chains' heads move with every event, as the log does
        rows = {t: values(f"SELECT * FROM {t}") for t in dbbackend.tables(data_dir) if t not in ("audit_events", "audit_chains", "tokens")}
        rows["tokens"] = values("SELECT id, name, role, site, service, hash, expires_at FROM tokens")
        rows["audit_events"] = values("SELECT count(*) FROM audit_events")
        return rows

    return read



@pytest.fixture(scope="session")
def _empty_config_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("config") / "never-created"


@pytest.fixture(autouse=True)
def _no_stored_credentials(_empty_config_home, monkeypatch) -> None:
    """No test (nor its child processes) reads the developer's `sitesecrets login` credentials."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(_empty_config_home))
