"""Keyed audit chains: each link is an HMAC under a key derived from the master key's token key,
so someone who can write the database but holds no master key (a DBA, whoever restores an edited
backup) cannot rewrite history and have `audit verify` pass. Chains from before keep their SHA-256
links up to a switch-over that a seal under the same key pins, with the retention anchor."""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest

import dbbackend
from apihelpers import SITE, create_secret, reveal
from server import audit_chain, cli, crypto, keys
from server.app import create_app
from server.audit_chain import apply_retention, verify_chain
from server.datadir import create_token_offline, open_state, open_store, rotate_master_key
from server.handlers.trash import purge_expired
from server.store import AuditKeyMissing, AuditRecord
from server.tokenkey import read_audit_key
from shared.models import Role

SEALED = "at, actor, actor_id, action, site, site_uid, target, outcome, source, details"


# ---------------------------------------------------------------- what an attacker and the old code do


def old_link(previous: bytes, row: dict) -> bytes:
    """The link as the code before keyed chains wrote it, and as anyone can recompute it."""
    body = json.dumps([row[c] for c in SEALED.split(", ")], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(previous + body.encode("utf-8", "surrogatepass")).digest()


def chain_of(data_dir: Path, site: str | None = "default") -> dict:
    uid = dbbackend.rows(data_dir, "SELECT uid FROM sites WHERE name = ?", site)[0]["uid"] if site else ""
    return dbbackend.rows(data_dir, "SELECT * FROM audit_chains WHERE chain = ?", uid)[0]


def events_of(data_dir: Path, chain_id: int) -> list[dict]:
    return dbbackend.rows(data_dir, f"SELECT id, hash, {SEALED} FROM audit_events WHERE chain_id = ? ORDER BY id", chain_id)


def relink_as_sha256(data_dir: Path, chain: dict, from_id: int = 0) -> None:
    """Recompute every link from event `from_id` on the old way, from the stored link before it,
    and move the head to match: what rewriting history took before links were keyed."""
    previous = bytes(chain["anchor_hash"] or bytes(32))
    for event in events_of(data_dir, chain["id"]):
        if event["id"] >= from_id:
            dbbackend.rows(data_dir, "UPDATE audit_events SET hash = ? WHERE id = ?", old_link(previous, event), event["id"])
            previous = old_link(previous, event)
        else:
            previous = bytes(event["hash"])
    dbbackend.rows(data_dir, "UPDATE audit_chains SET last_hash = ? WHERE id = ?", previous, chain["id"])


def master_key(data_dir: Path) -> bytes:
    return keys.read_key_file(data_dir / keys.KEY_FILE)


def make_old(data_dir: Path, at=None) -> None:
    """Make the data directory what the code before keyed chains left: every chain's links SHA-256
    (each event's time first set by `at(i)`, if given), no switch-over or seal, and key check value v3."""
    for chain in dbbackend.rows(data_dir, "SELECT * FROM audit_chains"):
        if at is not None:
            for i, event in enumerate(events_of(data_dir, chain["id"])):
                dbbackend.rows(data_dir, "UPDATE audit_events SET at = ? WHERE id = ?", at(i), event["id"])
        relink_as_sha256(data_dir, chain)
    dbbackend.rows(data_dir, "UPDATE audit_chains SET keyed_after = NULL, keyed_hash = NULL, seal = NULL")
    dbbackend.rows(data_dir, "UPDATE meta SET value = ? WHERE key = 'master_key_check'",
                   crypto.legacy_key_check_value(master_key(data_dir), 3))


@contextmanager
def serving(data_dir: Path) -> Iterator[tuple]:
    """A server's state on the data directory (opening it upgrades an old database), and an admin client."""
    state = open_state(dbbackend.settings_for(data_dir), environ={})
    token = (data_dir.parent / "admin.token").read_text()
    api = httpx.Client(transport=httpx.WSGITransport(app=create_app(state)), base_url="http://testserver",
                       headers={"Authorization": f"Bearer {token}"})
    try:
        yield state, api
    finally:
        api.close()
        state.store.close()


def some_events(api: httpx.Client, count: int = 3, prefix: str = "S") -> None:
    for i in range(count):
        create_secret(api, f"{prefix}{i}", "v")
        reveal(api, f"{prefix}{i}")


def verify(data_dir: Path, capsys, *extra: str) -> tuple[int, str, str]:
    url = dbbackend.database_url(data_dir)
    status = cli.main(["audit", "verify", "--data-dir", str(data_dir), *(["--database-url", url] if url else []), *extra])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def reports(data_dir: Path) -> dict[str, audit_chain.ChainReport]:
    """Each chain's report, read with the audit key as `audit verify` reads it."""
    store = open_store(data_dir, dbbackend.database_url(data_dir))
    try:
        key = read_audit_key(store, master_key(data_dir))
        return {c[0]: verify_chain(store, c[0], key) for c in store.read(lambda tx: tx.audit_chains())}
    finally:
        store.close()


def assert_every_link_keyed(data_dir: Path) -> None:
    """Every chain verifies, keyed from its first event, with no link of plain SHA-256."""
    for chain, report in reports(data_dir).items():
        assert report.ok and report.unkeyed == 0 and report.events > 0, (chain, report)
    assert {r["keyed_after"] for r in dbbackend.rows(data_dir, "SELECT keyed_after FROM audit_chains")} == {0}


# ---------------------------------------------------------------- what a database writer can no longer hide


def test_an_edit_is_caught_though_every_sha256_link_after_it_was_recomputed(data_dir, capsys) -> None:
    with serving(data_dir) as (_, api):
        some_events(api)
    chain = chain_of(data_dir)
    edited = events_of(data_dir, chain["id"])[2]["id"]
    dbbackend.rows(data_dir, "UPDATE audit_events SET actor = 'someone-else' WHERE id = ?", edited)
    relink_as_sha256(data_dir, chain, from_id=edited)
    status, out, _ = verify(data_dir, capsys, "--site", "default")
    assert status == 1 and f"BROKEN: site 'default': event {edited} its hash does not match" in out


@pytest.mark.parametrize("marker", ["moved to the head", "cleared"])
def test_keyed_events_relinked_as_sha256_behind_a_reset_switch_over_are_caught(data_dir, capsys, marker) -> None:
    with serving(data_dir) as (_, api):
        some_events(api)
    chain = chain_of(data_dir)
    relink_as_sha256(data_dir, chain)  # the whole chain made to look as if it were never keyed
    head = chain_of(data_dir)
    if marker == "cleared":
        dbbackend.rows(data_dir, "UPDATE audit_chains SET keyed_after = NULL, keyed_hash = NULL, seal = NULL WHERE id = ?", chain["id"])
    else:
        dbbackend.rows(data_dir, "UPDATE audit_chains SET keyed_after = ?, keyed_hash = ? WHERE id = ?",
                       head["last_id"], head["last_hash"], chain["id"])
    status, out, _ = verify(data_dir, capsys, "--site", "default")
    assert status == 1 and "BROKEN: site 'default': its seal" in out and "does not hold under the audit key" in out
    with serving(data_dir) as (_, api):
        assert api.get(f"{SITE}/audit/verify").json()["ok"] is False


def test_the_oldest_events_removed_with_the_anchor_moved_are_caught(data_dir, capsys) -> None:
    with serving(data_dir) as (_, api):
        some_events(api)
    chain = chain_of(data_dir)
    second = events_of(data_dir, chain["id"])[1]
    dbbackend.rows(data_dir, "DELETE FROM audit_events WHERE chain_id = ? AND id <= ?", chain["id"], second["id"])
    dbbackend.rows(data_dir, "UPDATE audit_chains SET anchor_id = ?, anchor_hash = ? WHERE id = ?", second["id"], second["hash"], chain["id"])
    status, out, _ = verify(data_dir, capsys, "--site", "default")
    assert status == 1 and "its seal" in out


def test_retention_leaves_a_chain_whose_seal_does_not_hold_as_it_was(data_dir) -> None:
    chain = chain_of(data_dir)
    dbbackend.rows(data_dir, "UPDATE audit_chains SET keyed_after = 1 WHERE id = ?", chain["id"])
    with serving(data_dir) as (state, _):
        report = apply_retention(state.store, 1, "2100-01-01T00:00:00Z", exporting=False)
    assert chain["chain"] in report.refused
    assert len(events_of(data_dir, chain["id"])) == 1  # the site's `site.create`, still there


def test_verify_without_the_master_key_is_one_sentence(data_dir, capsys) -> None:
    (data_dir / keys.KEY_FILE).rename(data_dir.parent / "elsewhere.key")
    status, _, err = verify(data_dir, capsys)
    assert status == 1 and err.startswith("sitesecrets-server: ") and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- databases from before keyed links


def test_an_old_database_verifies_as_it_is_then_upgrades_and_verifies_old_and_new(data_dir, capsys) -> None:
    with serving(data_dir) as (_, api):
        some_events(api)
    make_old(data_dir)
    old = len(events_of(data_dir, chain_of(data_dir)["id"]))
    status, out, err = verify(data_dir, capsys)  # read as it is: verify writes nothing, so no upgrade
    assert status == 0 and "ok: site 'default'" in out and "not keyed yet" in err
    with serving(data_dir) as (_, api):  # the first process with the master key keys every chain
        some_events(api, prefix="T")
        answer = api.get(f"{SITE}/audit/verify").json()
    assert answer["ok"] is True and answer["unkeyed"] == old and answer["events"] > old
    status, out, err = verify(data_dir, capsys)
    assert status == 0 and f"ok: site 'default': {answer['events']} events, {old} linked by SHA-256 before" in out and not err
    assert dbbackend.rows(data_dir, "SELECT value FROM meta WHERE key = 'master_key_check'")[0]["value"] == \
        crypto.key_check_value(master_key(data_dir))


@pytest.mark.parametrize("keyed_since", [True, False], ids=["with-keyed-events-after", "no-event-since"])
def test_after_the_upgrade_an_edit_of_the_old_part_is_caught(data_dir, capsys, keyed_since) -> None:
    # the SHA-256 part is pinned by the chain's seal (and by the first keyed link), so it is as
    # safe from the upgrade on as the keyed part, though not before it
    with serving(data_dir) as (_, api):
        some_events(api)
    make_old(data_dir)
    with serving(data_dir) as (_, api):
        if keyed_since:
            some_events(api, prefix="T")
    chain = chain_of(data_dir)
    edited = events_of(data_dir, chain["id"])[1]["id"]
    dbbackend.rows(data_dir, "UPDATE audit_events SET target = 'secret:other' WHERE id = ?", edited)
    if not keyed_since:
        relink_as_sha256(data_dir, chain, from_id=edited)
    else:  # the old part recomputed up to the switch-over; the keyed links cannot be
        previous = bytes(events_of(data_dir, chain["id"])[0]["hash"])
        for event in events_of(data_dir, chain["id"])[1:]:
            if event["id"] > chain["keyed_after"]:
                break
            previous = old_link(previous, event)
            dbbackend.rows(data_dir, "UPDATE audit_events SET hash = ? WHERE id = ?", previous, event["id"])
    status, out, _ = verify(data_dir, capsys, "--site", "default")
    assert status == 1 and "BROKEN: site 'default'" in out
    assert ("are not those its chain was keyed after" if keyed_since else "are not those it was keyed after") in out


def test_retention_anchors_verify_before_at_and_past_the_switch_over(data_dir, capsys, monkeypatch) -> None:
    monkeypatch.setattr(audit_chain, "RETENTION_BATCH", 2)
    with serving(data_dir) as (_, api):
        some_events(api)
    make_old(data_dir, at=lambda i: "2019-01-01T00:00:00Z" if i < 4 else "2021-01-01T00:00:00Z")
    with serving(data_dir) as (state, api):
        some_events(api, prefix="T")  # keyed, at today's time
        keyed_after = chain_of(data_dir)["keyed_after"]
        for now, where in (("2020-01-01T00:00:00Z", lambda anchor: anchor < keyed_after),
                           ("2022-01-01T00:00:00Z", lambda anchor: anchor == keyed_after),
                           ("2100-01-01T00:00:00Z", lambda anchor: anchor > keyed_after)):
            apply_retention(state.store, 1, now, exporting=False)
            assert where(chain_of(data_dir)["anchor_id"]), now
            status, out, _ = verify(data_dir, capsys)
            assert status == 0, (now, out)


def test_rotating_the_master_key_leaves_every_chain_verifiable(data_dir, capsys) -> None:
    with serving(data_dir) as (_, api):
        some_events(api)
    before = dbbackend.rows(data_dir, "SELECT seal FROM audit_chains ORDER BY id")
    rotate_master_key(data_dir, environ={}, database_url=dbbackend.database_url(data_dir))
    assert dbbackend.rows(data_dir, "SELECT seal FROM audit_chains ORDER BY id") == before  # nothing re-keyed
    assert_every_link_keyed(data_dir)
    assert [e["action"] for e in events_of(data_dir, chain_of(data_dir, None)["id"])][-1] == "master_key.rotate"


def test_rotating_the_master_key_of_an_old_database_keys_its_chains(data_dir, capsys) -> None:
    with serving(data_dir) as (_, api):
        some_events(api)
    make_old(data_dir)
    rotate_master_key(data_dir, environ={}, database_url=dbbackend.database_url(data_dir))
    status, out, err = verify(data_dir, capsys)
    assert status == 0 and "linked by SHA-256 before the chain was keyed" in out and not err


# ---------------------------------------------------------------- every writer of audit events writes keyed links


def test_every_writer_of_audit_events_writes_keyed_links(data_dir) -> None:
    assert_every_link_keyed(data_dir)  # init: the site `default` and the first admin token
    url = dbbackend.database_url(data_dir)
    create_token_offline(data_dir, "recovery", Role.admin, None, database_url=url, environ={})
    with serving(data_dir) as (state, api):  # the server's requests, the trash sweep
        some_events(api)
        api.delete(f"{SITE}/secrets/S0")
        assert purge_expired(state.store, "2100-01-01T00:00:00Z") == 1
    rotate_master_key(data_dir, environ={}, database_url=url)
    actions = {r["action"] for r in dbbackend.rows(data_dir, "SELECT action FROM audit_events")}
    assert {"site.create", "token.create", "secret.reveal", "secret.purge", "master_key.rotate"} <= actions
    assert_every_link_keyed(data_dir)
    with serving(data_dir) as (state, _):  # retention, last: it leaves little besides its own events
        assert apply_retention(state.store, 1, "2100-01-01T00:00:00Z", exporting=False).removed > 0
    assert "audit.retention" in {r["action"] for r in dbbackend.rows(data_dir, "SELECT action FROM audit_events")}
    assert_every_link_keyed(data_dir)


def test_local_mode_writes_keyed_links(tmp_path) -> None:
    from server.embedded import EmbeddedServer  # (its own SQLite data directory: no backend to choose)

    with EmbeddedServer.start(tmp_path / "local") as server:
        token = server.admin_token
        assert httpx.get(f"{server.url}/v1/sites/default/audit/verify", headers={"Authorization": f"Bearer {token}"}).json()["ok"]
    assert_every_link_keyed(tmp_path / "local")


def test_a_store_opened_without_the_master_key_writes_no_audit_event(data_dir) -> None:
    store = open_store(data_dir, dbbackend.database_url(data_dir))
    count = len(dbbackend.rows(data_dir, "SELECT id FROM audit_events"))
    try:
        with pytest.raises(AuditKeyMissing, match="without its master key"):
            store.write(lambda tx: tx.insert_audit(AuditRecord.of("x.unkeyed", at="2026-01-01T00:00:00Z", outcome="ok")))
    finally:
        store.close()
    assert len(dbbackend.rows(data_dir, "SELECT id FROM audit_events")) == count
