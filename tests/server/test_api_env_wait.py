"""Waiting for a change: the env answer's `ETag`, `If-None-Match`, and `Prefer: wait=N`, which holds
an unchanged answer until a bound secret changes (then 200, audited) or N seconds pass (then 304,
no body, not audited, no load recorded)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest

import dbbackend
from apihelpers import SITE, audit_rows, create_secret, expect_error
from server import wsgiserver
from server.app import create_app
from server.datadir import open_state
from server.store import postgres, sqlite
from server.store.migrations import MIGRATIONS
from waiting import wait_until

ENV = f"{SITE}/services/worker/env"
CEILING = 30.0


@pytest.fixture(autouse=True)
def worker(api) -> None:
    create_secret(api, "A", "alpha-1")
    create_secret(api, "UNBOUND", "u-1")
    assert api.post(f"{SITE}/services", json={"name": "worker", "secrets": [{"name": "A"}, {"name": "LATER"}]}).status_code == 201


def etag(api) -> str:
    response = api.get(ENV, params={"record": "false"})
    assert response.status_code == 200
    return response.headers["ETag"]


def waiting_fetch(api, tag: str, seconds: int = 30) -> Future:
    pool = ThreadPoolExecutor(1)
    future = pool.submit(api.get, ENV, headers={"If-None-Match": tag, "Prefer": f"wait={seconds}"}, params={"record": "false"})
    pool.shutdown(wait=False)
    return future


def test_env_answer_carries_a_strong_etag_that_stays_while_nothing_changes(api) -> None:
    tag = etag(api)
    assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/")
    assert etag(api) == tag


@pytest.mark.parametrize("change", [
    pytest.param(lambda api: api.patch(f"{SITE}/secrets/A", json={"value": "alpha-2"}), id="new-version"),
    pytest.param(lambda api: api.post(f"{SITE}/secrets", json={"name": "LATER", "value": "x"}), id="bound-secret-appears"),
    pytest.param(lambda api: api.patch(f"{SITE}/services/worker", json={"secrets": [{"name": "UNBOUND"}]}), id="bindings"),
])
def test_the_etag_changes_when_the_environment_may(api, change) -> None:
    before = etag(api)
    assert change(api).status_code in (200, 201)
    assert etag(api) != before


def test_the_etag_names_no_value(api) -> None:
    before = etag(api)
    create_secret(api, "TEMP", "t")
    assert etag(api) == before  # an unbound secret is not in the answer


def test_if_none_match_with_the_current_tag_is_304_without_body_audit_or_load(api, data_dir, db_rows) -> None:
    tag = etag(api)
    rows = db_rows()
    response = api.get(ENV, headers={"If-None-Match": tag})
    assert response.status_code == 304 and response.content == b""
    assert response.headers["ETag"] == tag
    assert db_rows() == rows  # no audit event, no load recorded, nothing marked used


def test_if_none_match_with_an_old_tag_answers_the_environment(api) -> None:
    tag = etag(api)
    assert api.patch(f"{SITE}/secrets/A", json={"value": "alpha-2"}).status_code == 200
    response = api.get(ENV, headers={"If-None-Match": tag, "Prefer": "wait=30"})
    assert response.status_code == 200 and response.json()["env"] == {"A": "alpha-2"}
    assert response.headers["ETag"] != tag


def test_a_waiting_fetch_answers_the_new_environment_when_a_bound_secret_changes(api, app, data_dir) -> None:
    tag = etag(api)
    future = waiting_fetch(api, tag)
    wait_until(lambda: app.state.changes.waiting == 1, "the fetch waits")
    assert api.patch(f"{SITE}/secrets/A", json={"value": "alpha-2"}).status_code == 200
    response = future.result(CEILING)
    assert response.status_code == 200, response.text
    assert response.json()["env"] == {"A": "alpha-2"} and response.headers["ETag"] != tag
    assert [e["action"] for e in audit_rows(data_dir, target="service:worker")][-1] == "service.env"


def test_a_token_revoked_while_its_fetch_waits_gets_no_new_environment(api, app, client, data_dir) -> None:
    """Revoking a leaked token and then rotating the secret it could read must not hand the new
    value to a request that token left waiting before it was revoked."""
    created = api.post("/v1/tokens", json={"name": "leaked", "role": "service", "site": "default", "service": "worker"}).json()
    leaked = client(created["token"])
    tag = etag(leaked)
    future = waiting_fetch(leaked, tag)
    wait_until(lambda: app.state.changes.waiting == 1, "the fetch waits")
    assert api.delete(f"/v1/tokens/{created['id']}").status_code == 204
    assert api.patch(f"{SITE}/secrets/A", json={"value": "rotated-after-the-leak"}).status_code == 200
    response = future.result(CEILING)
    expect_error(response, 401, "unauthorized")
    assert "rotated-after-the-leak" not in response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert len(audit_rows(data_dir, action="service.env", actor="leaked")) == 1  # the fetch before the revocation only


def test_a_wait_that_sees_no_change_ends_in_304_after_its_seconds(api, app, data_dir) -> None:
    tag = etag(api)
    events = len(audit_rows(data_dir))
    future = waiting_fetch(api, tag, seconds=1)
    wait_until(lambda: app.state.changes.waiting == 1, "the fetch waits")
    assert api.patch(f"{SITE}/secrets/UNBOUND", json={"value": "u-2"}).status_code == 200  # not in this environment
    response = future.result(CEILING)
    assert response.status_code == 304 and response.content == b""
    assert response.headers["Preference-Applied"] == "wait=1"
    assert len(audit_rows(data_dir)) == events + 1  # the unrelated update, and no fetch


def test_a_wait_whose_watcher_missed_a_change_answers_the_change_at_its_deadline(api, app, monkeypatch) -> None:
    """The watcher that reads the change counters may stall (its reads stuck behind a database
    outage) and miss a change: at the wait's end the tag decides, so the client gets the new
    environment instead of a 304 that would leave the old values running."""
    tag = etag(api)
    monkeypatch.setattr(app.state.changes, "_refresh", lambda services: None)  # a watcher that reads nothing
    future = waiting_fetch(api, tag, seconds=1)
    wait_until(lambda: app.state.changes.waiting == 1, "the fetch waits")
    assert api.patch(f"{SITE}/secrets/A", json={"value": "alpha-2"}).status_code == 200
    response = future.result(CEILING)
    assert response.status_code == 200 and response.json()["env"]["A"] == "alpha-2"
    assert response.headers["ETag"] != tag


def unrelated_changes(api) -> None:
    """Changes in the waiting service's site that its environment cannot see: a secret it does not
    bind, one of the bound name in another scope, another service binding its secret, a new secret."""
    assert api.patch(f"{SITE}/secrets/UNBOUND", json={"value": "u-2"}).status_code == 200
    assert api.post(f"{SITE}/apps", json={"name": "web"}).status_code == 201
    create_secret(api, "A", "web-alpha", scope=f"{SITE}/apps/web")
    assert api.post(f"{SITE}/services", json={"name": "other", "secrets": [{"name": "A"}, {"name": "UNBOUND"}]}).status_code == 201
    assert api.patch(f"{SITE}/services/other", json={"secrets": [{"name": "UNBOUND"}]}).status_code == 200
    create_secret(api, "NEW", "n-1")


def test_a_change_the_environment_cannot_see_does_not_end_a_wait(api, app) -> None:
    """Only a wait whose environment a change may alter is woken: 1,000 watchers of one service
    must not each read their environment again whenever anything else in the site changes."""
    tag = etag(api)
    hub = app.state.changes
    woken = hub.woken
    future = waiting_fetch(api, tag, seconds=2)
    wait_until(lambda: hub.waiting == 1, "the fetch waits")
    unrelated_changes(api)
    response = future.result(CEILING)
    assert response.status_code == 304 and response.headers["Preference-Applied"] == "wait=2"
    assert hub.woken == woken  # slept through every one of them
    future = waiting_fetch(api, tag, seconds=60)
    wait_until(lambda: hub.waiting == 1, "the fetch waits again")
    assert api.patch(f"{SITE}/secrets/A", json={"value": "alpha-2"}).status_code == 200
    response = future.result(CEILING)  # at once: well within the minute the fetch would wait
    assert response.status_code == 200 and response.json()["env"] == {"A": "alpha-2"}
    assert hub.woken == woken + 1


@pytest.fixture
def web_worker(api) -> str:
    """Service `web-worker` of app `web` (which may use site-level secrets), binding `web/K` and `A`;
    its env path."""
    assert api.post(f"{SITE}/apps", json={"name": "web"}).status_code == 201
    create_secret(api, "K", "k-1", scope=f"{SITE}/apps/web")
    create_secret(api, "K", "site-k-1")  # the same name at site level: not bound, not seen
    body = {"name": "web-worker", "app": "web", "secrets": [{"name": "K", "app": "web"}, {"name": "A"}]}
    assert api.post(f"{SITE}/services", json=body).status_code == 201
    return f"{SITE}/services/web-worker/env"


def flip_site_secrets_off(api, data_dir) -> None:
    # as a database from before the 409 may hold (and as another process's write reaches a wait)
    dbbackend.rows(data_dir, "UPDATE apps SET site_secrets = 0 WHERE name = 'web'")


@pytest.mark.parametrize("change, status", [
    pytest.param(lambda api, data_dir: api.patch(f"{SITE}/apps/web/secrets/K", json={"value": "k-2"}), 200, id="app-level-update"),
    pytest.param(lambda api, data_dir: api.patch(f"{SITE}/secrets/A", json={"value": "alpha-2"}), 200, id="site-level-update"),
    pytest.param(flip_site_secrets_off, 200, id="site-secrets-flip"),
    pytest.param(lambda api, data_dir: api.patch(f"{SITE}/services/web-worker", json={"secrets": [{"name": "K", "app": "web"}]}),
                 200, id="bindings"),
    pytest.param(lambda api, data_dir: api.delete(f"{SITE}/services/web-worker"), 404, id="service-delete"),
    pytest.param(lambda api, data_dir: api.delete(f"{SITE}?cascade=true"), 404, id="site-delete"),
])
def test_every_change_that_alters_the_environment_ends_the_wait(api, app, data_dir, web_worker, change, status) -> None:
    response = api.get(web_worker, params={"record": "false"})
    tag = response.headers["ETag"]
    pool = ThreadPoolExecutor(1)
    future = pool.submit(api.get, web_worker, headers={"If-None-Match": tag, "Prefer": "wait=60"}, params={"record": "false"})
    pool.shutdown(wait=False)
    wait_until(lambda: app.state.changes.waiting == 1, "the fetch waits")
    change(api, data_dir)
    response = future.result(CEILING)  # at once: well within the minute the fetch would wait
    assert response.status_code == status, response.text
    if status == 200:
        assert response.headers["ETag"] != tag


def test_a_change_committed_between_the_snapshot_and_the_wait_ends_it(api, app) -> None:
    """The counter a wait waits to see pass is the one its snapshot read, so a change committed
    before the wait begins still ends it at once."""
    snapshot = app.state.store.read_env(lambda tx: tx.env_snapshot("default", "worker"))
    assert api.patch(f"{SITE}/secrets/A", json={"value": "alpha-2"}).status_code == 200
    began = time.monotonic()
    assert app.state.changes.wait(snapshot.service.id, snapshot.service.env_changes, began + 60) is True
    assert time.monotonic() - began < CEILING


def test_a_change_made_by_another_process_ends_the_wait(api, app, data_dir) -> None:
    """Another worker or replica over the same database: seen by the hub's poll, not by a poke."""
    tag = etag(api)
    future = waiting_fetch(api, tag)
    wait_until(lambda: app.state.changes.waiting == 1, "the fetch waits")
    other = open_state(dbbackend.settings_for(data_dir), environ={})
    try:
        token = (data_dir.parent / "admin.token").read_text()
        with httpx.Client(transport=httpx.WSGITransport(app=create_app(other)), base_url="http://testserver",
                          headers={"Authorization": f"Bearer {token}"}) as elsewhere:
            assert elsewhere.patch(f"{SITE}/secrets/A", json={"value": "alpha-3"}).status_code == 200
        response = future.result(CEILING)
    finally:
        other.store.close()
    assert response.status_code == 200 and response.json()["env"] == {"A": "alpha-3"}


def test_a_service_deleted_and_made_again_under_its_id_ends_the_wait(api, app, data_dir) -> None:
    """SQLite gives a new row the id of the last one deleted. Service `worker` deleted and made
    again with other bindings by another process, between two of this one's polls (here: in one
    transaction), may come back under the same id: its environment changed, and so must its
    counter as the waiting fetch sees it, whatever a new service's counter starts from."""
    tag = etag(api)
    future = waiting_fetch(api, tag)
    wait_until(lambda: app.state.changes.waiting == 1, "the fetch waits")
    other = open_state(dbbackend.settings_for(data_dir), environ={})

    def again(tx) -> None:
        site = tx.get_site("default")
        tx.delete_service(tx.get_service(site.id, "worker").id)
        tx.replace_bindings(tx.insert_service(site.id, None, "worker", "2026-01-01T00:00:00Z"), [(None, "A")])

    try:
        other.store.write(again)
        response = future.result(CEILING)
    finally:
        other.store.close()
    assert response.status_code == 200 and response.json()["missing"] == []


@pytest.mark.parametrize("prefer", ["wait=0", "wait=61", "wait=abc", "wait=", "wait=-1", "wait=1.5"])
def test_a_wait_preference_outside_1_to_60_seconds_is_422(api, prefer) -> None:
    tag = etag(api)
    expect_error(api.get(ENV, headers={"If-None-Match": tag, "Prefer": prefer}), 422, "validation_error")


def test_other_preferences_are_ignored(api) -> None:
    tag = etag(api)
    assert api.get(ENV, headers={"If-None-Match": tag, "Prefer": "return=minimal, handling=lenient"}).status_code == 304


@pytest.fixture
def serve(app, admin_token):
    """`serve(**options)`: the app on a loopback port of a real WSGIServer; yields (server, client factory)."""
    from server.wsgiserver import WSGIServer

    started: list[tuple[WSGIServer, threading.Thread]] = []

    def start(**options) -> tuple[WSGIServer, threading.Thread]:
        server = WSGIServer(app, "127.0.0.1", 0, **options)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread))
        return server, thread

    yield start
    for server, thread in started:
        if thread.is_alive():
            server.shutdown()
            thread.join(CEILING)


def over_http(server, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=CEILING)


def test_a_304_over_http_has_no_body_and_keeps_the_connection(serve, api, admin_token) -> None:
    server, _ = serve()
    with over_http(server, admin_token) as http:
        tag = http.get(ENV).headers["ETag"]
        response = http.get(ENV, headers={"If-None-Match": tag})
        assert response.status_code == 304 and response.content == b""
        assert http.get(ENV).status_code == 200  # the same connection serves on


def over_unix(path, token: str) -> httpx.Client:
    return httpx.Client(base_url="http://localhost", headers={"Authorization": f"Bearer {token}"},
                        transport=httpx.HTTPTransport(uds=str(path)), timeout=CEILING)


@contextmanager
def watching(app, clients: list[httpx.Client], tag: str) -> Iterator[list[Future]]:
    """Each client's env fetch waiting on `tag` (`Prefer: wait=30`), started one after another once
    the one before waits; yields their futures, and closes the clients after."""
    pool = ThreadPoolExecutor(len(clients))
    try:
        futures = []
        for count, client in enumerate(clients, 1):
            futures.append(pool.submit(client.get, ENV, headers={"If-None-Match": tag, "Prefer": "wait=30"}))
            wait_until(lambda: app.state.changes.waiting == count, f"{count} fetches wait")
        yield futures
    finally:
        pool.shutdown()
        for client in clients:
            client.close()


def test_waiting_requests_do_not_count_against_the_connection_cap(serve, api, app, admin_token) -> None:
    server, _ = serve(max_connections=2)
    with watching(app, [over_http(server, admin_token) for _ in range(4)], etag(api)) as futures:
        with over_http(server, admin_token) as other:  # each watcher left the cap's count once it waited
            assert other.patch(f"{SITE}/secrets/A", json={"value": "alpha-2"}).status_code == 200
        assert {f.result(CEILING).status_code for f in futures} == {200}


def test_waiting_requests_do_not_count_against_a_users_share_of_a_unix_socket(serve, api, app, admin_token, tmp_path) -> None:
    """A tenant's many `run --watch` processes each hold a wait: they must not use up its share."""
    path = tmp_path / "s.sock"
    serve(unix_socket=path, max_connections=8, max_per_peer=1)
    with watching(app, [over_unix(path, admin_token) for _ in range(3)], etag(api)) as futures:
        with over_unix(path, admin_token) as other:
            assert other.patch(f"{SITE}/secrets/A", json={"value": "alpha-2"}).status_code == 200
        assert {f.result(CEILING).status_code for f in futures} == {200}


def test_connections_back_from_a_wait_keep_a_user_within_its_share(serve, api, app, admin_token, tmp_path, monkeypatch) -> None:
    """A wait lets a user open more connections than its share (each waiting one is out of the
    count): once answered, those over the share close, or one tenant could hold every connection
    of the worker by waiting on many and keeping them alive after."""
    users = iter([1001, 1001, 1001, 1002])  # the kernel's answer: a second user id no test can make
    monkeypatch.setattr(wsgiserver._UnixServer, "peer", lambda self, request: next(users))
    path = tmp_path / "s.sock"
    serve(unix_socket=path, max_connections=2, max_per_peer=1)
    with watching(app, [over_unix(path, admin_token) for _ in range(3)], etag(api)) as futures:
        assert api.patch(f"{SITE}/secrets/A", json={"value": "alpha-2"}).status_code == 200
        answers = [f.result(CEILING) for f in futures]
        assert {a.status_code for a in answers} == {200}
        assert sum(a.headers.get("connection") != "close" for a in answers) <= 1  # the user's share: one
        with over_unix(path, admin_token) as other_user:  # the worker's other place is free for another tenant
            wait_until(lambda: other_user.get("/v1/health").status_code == 200, "another user's connection served")


def test_shutting_down_ends_waiting_requests_at_once(serve, api, app, admin_token) -> None:
    server, thread = serve()
    tag = etag(api)
    with over_http(server, admin_token) as http:
        pool = ThreadPoolExecutor(1)
        future = pool.submit(http.get, ENV, headers={"If-None-Match": tag, "Prefer": "wait=60"})
        wait_until(lambda: app.state.changes.waiting == 1, "the fetch waits")
        server.shutdown()  # would take the whole minute if the wait held it up: CEILING is half that
        response = future.result(CEILING)
        pool.shutdown()
    assert response.status_code == 304 and response.headers["Connection"] == "close"


def version_8_database(backend: str, tmp_path):
    """A database at schema version 8 holding site `gamma` with secrets `BOUND` and `FREE` and
    service `fn` binding `BOUND`, as a server from before per-service change counters left it;
    (connection, migrate, `?` for the dialect's `%s`)."""
    if backend == "sqlite":
        conn = sqlite.connect(tmp_path / "v8.db")
        for migration in MIGRATIONS[:8]:
            conn.executescript(migration.sqlite)
        migrate, mark = (lambda: sqlite.migrate(conn)), "?"
    else:
        conn = postgres.connect(dbbackend.new_schema_url())
        for migration in MIGRATIONS[:8]:
            conn.execute(migration.postgresql)
        migrate, mark = (lambda: postgres.migrate(conn)), "%s"
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    for migration in MIGRATIONS[:8]:
        conn.execute(f"INSERT INTO schema_migrations VALUES ({mark}, {mark}, '2026-01-01T00:00:00Z')", (migration.version, migration.name))
    conn.execute(f"INSERT INTO sites (name, created_at, wrapped_key, uid) VALUES ('gamma', 'then', {mark}, 'u')", (b"key",))
    for name in ("BOUND", "FREE"):
        conn.execute("INSERT INTO secrets (site_id, name, description, version, ciphertext, created_at, updated_at, created_by, updated_by) "
                     f"VALUES (1, {mark}, '', 1, {mark}, 'then', 'then', 'x', 'x')", (name, b"sealed"))
    conn.execute("INSERT INTO services (site_id, name, created_at) VALUES (1, 'fn', 'then')")
    conn.execute("INSERT INTO bindings (service_id, name) VALUES (1, 'BOUND')")
    return conn, migrate


def test_migration_gives_services_that_exist_their_own_change_counter(backend, tmp_path) -> None:
    conn, migrate = version_8_database(backend, tmp_path)
    try:
        migrate()

        def counter() -> int:
            return conn.execute("SELECT changes FROM service_env_changes WHERE service_id = 1").fetchone()[0]

        before = counter()
        conn.execute("UPDATE secrets SET version = 2 WHERE name = 'FREE'")
        assert counter() == before
        conn.execute("UPDATE secrets SET version = 2 WHERE name = 'BOUND'")
        assert counter() > before
    finally:
        conn.close()
