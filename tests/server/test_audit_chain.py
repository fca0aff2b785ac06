"""Tamper evidence (issue 17, part 4): every event is hashed onto its site's chain, and `audit
verify` names the first event whose link is broken, when someone with the database in hand edits,
removes or reorders rows; and retention (part 2) leaves a chain that still verifies."""

from __future__ import annotations

import hashlib
import json

import pytest

import dbbackend
from apihelpers import SITE, create_secret, reveal
from server import audit_chain, cli
from server.audit_chain import apply_retention, verify_chain
from server.store import AuditRecord
from server.store.audit_tx import AuditKey


def verify(data_dir, capsys, *extra: str) -> tuple[int, str]:
    url = dbbackend.database_url(data_dir)
    status = cli.main(["audit", "verify", "--data-dir", str(data_dir), *(["--database-url", url] if url else []), *extra])
    return status, capsys.readouterr().out


def some_events(api, count: int = 3, prefix: str = "S") -> list[int]:
    for i in range(count):
        create_secret(api, f"{prefix}{i}", "v")
        reveal(api, f"{prefix}{i}")
    return [e["id"] for e in api.get(f"{SITE}/audit").json()["items"]]


def test_fresh_log_verifies_on_every_chain(api, data_dir, capsys) -> None:
    some_events(api)
    api.post("/v1/tokens", json={"name": "t", "role": "viewer"})  # an event of no site
    status, out = verify(data_dir, capsys)
    assert status == 0, out
    assert "ok: site 'default'" in out and "ok: events of no site" in out


def test_link_is_sha256_of_the_previous_hash_and_the_columns_as_json() -> None:
    """The link's definition, which every stored chain was written by: a change to how it is
    computed must not change a single byte, or chains written before it stop verifying."""
    sealed = ("2026-01-01T00:00:00Z", "ci \"bot\"", None, "secret.create", "default", "0" * 32, "secret:A/é\u2028\ud800",
              "ok", "127.0.0.1", json.dumps({"name": "A\n", "tags": ["x"]}))
    body = json.dumps(list(sealed), ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    assert audit_chain.chain_hash(bytes(32), sealed) == hashlib.sha256(bytes(32) + body).digest()
    assert audit_chain.chain_hash(b"p" * 32, (1, 2.5, None)) == hashlib.sha256(b"p" * 32 + b"[1,2.5,null]").digest()


def test_details_are_stored_as_compact_json_dumps_writes_them() -> None:
    # encode_details runs a C encoder made once, not json's own per call: the stored text (which the
    # chain hash covers) must stay what json.dumps writes
    from server.store.base import encode_details

    for details in ({"secrets": ["S0", "é\u2028\x00\""], "missing": 0}, {"a": 1.5, "b": None, "c": [True, {"d": float("inf")}], 3: "k"}):
        assert encode_details(details) == json.dumps(details, separators=(",", ":"))
    assert encode_details({}) == encode_details(None) == "{}"
    with pytest.raises(TypeError):
        encode_details({"x": object()})


def test_edited_row_is_named_by_verify(api, data_dir, capsys) -> None:
    ids = some_events(api)
    edited = ids[2]
    dbbackend.rows(data_dir, "UPDATE audit_events SET actor = 'someone-else' WHERE id = ?", edited)
    status, out = verify(data_dir, capsys, "--site", "default")
    assert status == 1
    assert f"BROKEN: site 'default': event {edited} its hash does not match" in out


def test_removed_row_is_named_by_the_event_after_it(api, data_dir, capsys) -> None:
    ids = some_events(api)  # newest first
    dbbackend.rows(data_dir, "DELETE FROM audit_events WHERE id = ?", ids[3])
    status, out = verify(data_dir, capsys, "--site", "default")
    assert status == 1 and f"event {ids[2]} its hash does not match" in out


def test_reordered_rows_break_the_chain(api, data_dir, capsys) -> None:
    ids = some_events(api)
    a, b = ids[1], ids[2]
    dbbackend.rows(data_dir, "UPDATE audit_events SET id = -1 WHERE id = ?", a)
    dbbackend.rows(data_dir, "UPDATE audit_events SET id = ? WHERE id = ?", a, b)
    dbbackend.rows(data_dir, "UPDATE audit_events SET id = ? WHERE id = -1", b)
    status, out = verify(data_dir, capsys, "--site", "default")
    assert status == 1 and f"event {b} its hash does not match" in out


def test_removed_tail_is_caught_by_the_chains_head(api, data_dir, capsys) -> None:
    ids = some_events(api)
    dbbackend.rows(data_dir, "DELETE FROM audit_events WHERE id = ?", ids[0])
    status, out = verify(data_dir, capsys, "--site", "default")
    assert status == 1 and f"its head names event {ids[0]}" in out


def test_chain_of_a_site_is_its_own(api, data_dir, capsys) -> None:
    api.post("/v1/sites", json={"name": "shop"})
    create_secret(api, "A", scope="/v1/sites/shop")
    ids = some_events(api)
    dbbackend.rows(data_dir, "UPDATE audit_events SET outcome = 'error' WHERE id = ?", ids[0])
    status, out = verify(data_dir, capsys)
    assert "ok: site 'shop'" in out and "BROKEN: site 'default'" in out and status == 1


def test_unknown_site_is_one_sentence(api, data_dir, capsys) -> None:
    with pytest.raises(SystemExit, match="no site 'nope'"):
        verify(data_dir, capsys, "--site", "nope")


# ---------------------------------------------------------------- retention keeps it verifiable

FAR_FUTURE = "2100-01-01T00:00:00Z"
KEY = AuditKey(bytes(range(32)))


def test_retention_removes_old_events_in_batches_each_recorded(api, state, data_dir, capsys, monkeypatch) -> None:
    monkeypatch.setattr(audit_chain, "RETENTION_BATCH", 4)
    some_events(api, 5)
    before = len(api.get(f"{SITE}/audit?limit=500").json()["items"])
    report = apply_retention(state.store, 400, FAR_FUTURE, exporting=False)
    left = api.get(f"{SITE}/audit?limit=500").json()["items"]
    assert all(e["action"] == "audit.retention" for e in left)
    removed = [e["details"]["removed"] for e in api.get(f"{SITE}/audit?action=audit.retention&limit=500").json()["items"]]
    assert sum(removed) + len([e for e in left if e["at"] >= FAR_FUTURE]) >= before and max(removed) <= 4
    assert report.batches >= before // 4 and report.longest_batch_ms > 0
    newest = left[0]["details"]
    assert newest["up_to_id"] < left[0]["id"] and newest["before"] < FAR_FUTURE
    status, out = verify(data_dir, capsys)
    assert status == 0, out
    assert "after the anchor at event" in out


def test_chain_verifies_from_its_anchor_and_still_catches_an_edit(api, state, data_dir, capsys) -> None:
    some_events(api)
    apply_retention(state.store, 400, FAR_FUTURE, exporting=False)
    ids = some_events(api, prefix="T")
    dbbackend.rows(data_dir, "UPDATE audit_events SET details = '{}' WHERE id = ?", ids[1])
    status, out = verify(data_dir, capsys, "--site", "default")
    assert status == 1 and f"event {ids[1]}" in out


def test_retention_of_zero_days_keeps_the_site_log(api, state) -> None:
    some_events(api)
    assert api.patch(SITE, json={"limits": {"audit_retention_days": 0}}).json()["limits"]["audit_retention_days"] == 0
    count = len(api.get(f"{SITE}/audit?limit=500").json()["items"])
    apply_retention(state.store, 400, FAR_FUTURE, exporting=False)
    assert len(api.get(f"{SITE}/audit?limit=500").json()["items"]) == count


def test_site_bound_admin_may_not_change_retention(client, mint) -> None:
    bound = client(mint("admin", site="default"))
    assert bound.patch(SITE, json={"limits": {"audit_retention_days": 1}}).status_code == 403


def test_retention_never_removes_what_the_sink_has_not_written(api, state) -> None:
    ids = some_events(api)
    before = len(api.get(f"{SITE}/audit?limit=500").json()["items"])
    apply_retention(state.store, 400, FAR_FUTURE, exporting=True)  # nothing exported yet
    assert len(api.get(f"{SITE}/audit?limit=500").json()["items"]) == before
    chain = state.store.read(lambda tx: [c for c, (n, _) in tx.chain_sites().items() if n == "default"][0])
    state.store.write(lambda tx: tx.set_exported(chain, ids[2]))
    apply_retention(state.store, 400, FAR_FUTURE, exporting=True)
    left = [e["id"] for e in api.get(f"{SITE}/audit?limit=500").json()["items"] if e["action"] != "audit.retention"]
    assert left == [i for i in ids if i > ids[2]]


def test_bad_retention_setting_is_refused(api) -> None:
    response = api.patch(SITE, json={"limits": {"audit_retention_days": -1}})
    assert response.status_code == 422
    assert json.loads(response.text)["error"]["code"] == "validation_error"


def test_verify_of_a_store_directly(api, state) -> None:
    some_events(api)
    chain = state.store.read(lambda tx: [c for c, (n, _) in tx.chain_sites().items() if n == "default"][0])
    report = verify_chain(state.store, chain, state.store.audit_key)
    assert report.ok and report.events >= 6


# ---------------------------------------------------------------- the API's on-demand walk (part 5)


def test_verify_endpoint_says_ok_then_names_the_edited_event(api, data_dir) -> None:
    ids = some_events(api)
    answer = api.get(f"{SITE}/audit/verify").json()
    assert answer["ok"] is True and answer["events"] >= len(ids) and answer["broken_id"] is None
    dbbackend.rows(data_dir, "UPDATE audit_events SET target = 'secret:site/OTHER' WHERE id = ?", ids[1])
    answer = api.get(f"{SITE}/audit/verify").json()
    assert (answer["ok"], answer["broken_id"]) == (False, ids[1])


def test_verify_endpoint_is_for_admins_of_the_site(client, mint) -> None:
    assert client(mint("viewer")).get(f"{SITE}/audit/verify").status_code == 403
    assert client(mint("admin", site="default")).get(f"{SITE}/audit/verify").json()["ok"] is True
    assert client(mint("admin", site="default")).get("/v1/sites/nope/audit/verify").status_code == 404


def test_migration_puts_existing_events_on_chains_unsealed(backend, tmp_path) -> None:
    from test_api_tenancy import V1_EVENTS, version_1_database

    old = version_1_database(backend, tmp_path)
    try:
        old.migrate()
        chains = {c[0]: c for c in old.tx.audit_chains()}
        [uid] = [r[0] for r in old.tx._all("SELECT uid FROM sites")]
        assert set(chains) == {"", uid} and sum(len(old.tx.chain_events(c, 0, 100)) for c in chains) == len(V1_EVENTS)
        assert [e[0] for e in old.tx.chain_events(uid, 0, 100)] == [6, 7] and chains[uid][1] == 7  # head: the last event
        old.tx.audit_key = KEY  # as the first process opening it with the master key keys it
        old.tx.key_audit_chains(KEY)
        old.tx.insert_audit(AuditRecord.of("secret.create", at="2026-02-01T00:00:00Z", outcome="ok", site="gamma"))
        events = old.tx.chain_events(uid, 0, 100)
        assert [e[1] is None for e in events] == [True, True, False]  # the chain starts at its first hashed event
        assert [e["id"] for e in old.tx.list_audit("gamma", {"action": "secret.create"}, 10, None)] == [8, 7]
    finally:
        old.close()


def test_concurrent_writes_and_fetches_keep_one_unbroken_chain(api, client, admin_token, data_dir, capsys) -> None:
    from concurrent.futures import ThreadPoolExecutor

    create_secret(api, "A", "v")
    api.post(f"{SITE}/services", json={"name": "worker", "secrets": [{"name": "A"}]})
    api.post("/v1/sites", json={"name": "shop"})

    def creates(n: int) -> None:
        own = client(admin_token)
        for i in range(10):
            assert own.post(f"{SITE}/secrets", json={"name": f"C{n}_{i}", "value": "v"}).status_code == 201
            assert own.post("/v1/sites/shop/secrets", json={"name": f"C{n}_{i}", "value": "v"}).status_code == 201

    def fetches(n: int) -> None:
        own = client(admin_token)
        for _ in range(20):
            assert own.get(f"{SITE}/services/worker/env").status_code == 200

    with ThreadPoolExecutor(6) as pool:
        for future in [pool.submit(creates, n) for n in range(3)] + [pool.submit(fetches, n) for n in range(3)]:
            future.result()
    status, out = verify(data_dir, capsys)
    assert status == 0, out
    assert "ok: site 'default'" in out and "ok: site 'shop'" in out


# ---------------------------------------------------------------- walks: shared, and a few at once


class HeldWalks:
    """`audit_chain.Walks` whose walks (real ones, `verify_chain`) each wait to be let go."""

    def __init__(self, slots: int) -> None:
        import threading

        self.started: list[str] = []
        self.go: dict[str, threading.Event] = {}
        self._threading = threading
        self.walks = audit_chain.Walks(slots, walk=self._walk)

    def _walk(self, store, chain, key):
        self.started.append(chain)
        self.go.setdefault(chain, self._threading.Event()).wait(timeout=60)
        return verify_chain(store, chain, key)

    def let_go(self, chain: str) -> None:
        self.go.setdefault(chain, self._threading.Event()).set()

    def verify_in_thread(self, store, chain):
        from concurrent.futures import ThreadPoolExecutor

        return ThreadPoolExecutor(1).submit(self.walks.verify, store, chain, store.audit_key)


def chain_named(state, site: str) -> str:
    return state.store.read(lambda tx: tx.chain_of(site))


def test_verifies_of_one_site_at_once_share_one_walk(api, state) -> None:
    from waiting import wait_until

    some_events(api)
    chain, held = chain_named(state, "default"), HeldWalks(slots=2)
    first = held.verify_in_thread(state.store, chain)
    wait_until(lambda: held.started == [chain], "the first walk")
    others = [held.verify_in_thread(state.store, chain) for _ in range(5)]
    wait_until(lambda: held.walks.sharing(state.store, chain) == 5, "the others to join it")
    held.let_go(chain)
    reports = [future.result(timeout=60) for future in (first, *others)]
    assert held.started == [chain]  # one walk for six requests
    assert all(report.ok and report.events == reports[0].events > 0 for report in reports)
    again = held.verify_in_thread(state.store, chain)  # a request after it: a walk of its own
    wait_until(lambda: held.started == [chain, chain], "a new walk")
    held.let_go(chain)
    assert again.result(timeout=60).ok


def test_no_more_sites_are_walked_at_once_than_the_slots(api, state) -> None:
    from waiting import wait_until

    some_events(api)
    api.post("/v1/sites", json={"name": "other"})
    mine, other = chain_named(state, "default"), chain_named(state, "other")
    held = HeldWalks(slots=1)
    first = held.verify_in_thread(state.store, mine)
    wait_until(lambda: held.started == [mine], "the first walk")
    second = held.verify_in_thread(state.store, other)
    held.let_go(other)  # free to run, but the one slot is taken
    wait_until(lambda: held.walks.queued() == 1, "the second walk to wait for the slot")
    assert held.started == [mine] and not second.done()
    held.let_go(mine)
    assert first.result(timeout=60).ok and second.result(timeout=60).ok
    assert held.started == [mine, other]


# ---------------------------------------------------------------- a long walk, in a process of its own


@pytest.fixture
def walks_apart(monkeypatch) -> list[dict]:
    """Every chain is long enough to be walked by `audit_walker`'s child process; the requests
    the children were given are listed."""
    from server import audit_walker

    given, real = [], audit_walker.walk_apart
    monkeypatch.setattr(audit_walker, "IN_PROCESS_EVENTS", 0)
    monkeypatch.setattr(audit_walker, "walk_apart", lambda place, chain, key: given.append(place) or real(place, chain, key))
    return given


def test_a_long_chain_is_walked_apart_and_reports_as_the_walk_in_process(api, state, data_dir, walks_apart) -> None:
    # a walk is CPU-bound Python: in a worker's thread it held the interpreter lock from every other
    # tenant's request in that worker (env p99 28-34 ms during a 300,000-event walk, 2-3.5 ms idle)
    ids = some_events(api)
    answer = api.get(f"{SITE}/audit/verify").json()
    assert len(walks_apart) == 1
    chain = chain_named(state, "default")
    in_process = verify_chain(state.store, chain, state.store.audit_key)
    assert answer["ok"] is True and answer["events"] == in_process.events >= len(ids)
    dbbackend.rows(data_dir, "UPDATE audit_events SET actor = 'someone-else' WHERE id = ?", ids[2])
    answer = api.get(f"{SITE}/audit/verify").json()
    assert (answer["ok"], answer["broken_id"]) == (False, ids[2]) and len(walks_apart) == 2


def test_the_walker_is_given_its_key_and_database_on_stdin_alone(api, state, walks_apart, monkeypatch) -> None:
    import subprocess
    import sys

    from server import audit_walker

    monkeypatch.setenv("SITESECRETS_MASTER_KEY", "the-master-key")
    runs, real = [], subprocess.run
    monkeypatch.setattr(audit_walker.subprocess, "run", lambda argv, **kw: runs.append((argv, kw)) or real(argv, **kw))
    some_events(api, 1)
    assert api.get(f"{SITE}/audit/verify").json()["ok"] is True
    [(argv, kw)] = runs
    assert argv == [sys.executable, "-m", "server.audit_walker"]
    assert not [name for name in kw["env"] if name.startswith("SITESECRETS_")]
    assert state.store.audit_key.key.hex().encode() in kw["input"]


def test_a_walker_that_gives_no_report_is_an_error_not_a_verdict(tmp_path, caplog) -> None:
    from server.audit_walker import walk_apart
    from server.store import StoreError

    with pytest.raises(StoreError, match="could not be walked"):
        walk_apart({"sqlite": str(tmp_path / "no.db")}, "chain", None)
    assert "walker process ended with status 1" in caplog.text


@pytest.mark.sqlite_only  # a data directory's SQLite file
def test_a_data_directory_named_relative_is_walked_apart_too(api, state, data_dir, monkeypatch) -> None:
    # `make serve` runs `serve --data-dir data`; the walker starts in another directory
    from pathlib import Path

    from server import audit_walker
    from server.store import SqliteStore

    some_events(api, 1)
    monkeypatch.chdir(data_dir.parent)
    store = SqliteStore(Path(data_dir.name) / "secrets.db")
    try:
        chain = store.read(lambda tx: tx.chain_of("default"))
        place = audit_walker._place(store)
        assert Path(place["sqlite"]).is_absolute()
        assert audit_walker.walk_apart(place, chain, state.store.audit_key).ok
    finally:
        store.close()
