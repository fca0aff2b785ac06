"""Getting the audit log out (issue 17, part 3): `audit export` writes the API's AuditEvent as JSON
lines and resumes by id; the `--audit-file` sink appends every committed event to a 0600 file,
follows logrotate, and a sink that cannot write loses nothing."""

from __future__ import annotations

import json
import os
import stat

import pytest

import dbbackend
from apihelpers import SITE, create_secret, reveal
from server import cli
from server.audit_export import FileSink
from waiting import wait_until


def export(data_dir, capsys, *extra: str) -> tuple[int, list[dict], str]:
    url = dbbackend.database_url(data_dir)
    status = cli.main(["audit", "export", "--data-dir", str(data_dir), *(["--database-url", url] if url else []), *extra])
    captured = capsys.readouterr()
    return status, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_export_is_the_apis_events_as_json_lines_oldest_first(api, data_dir, capsys) -> None:
    create_secret(api, "A")
    reveal(api, "A")
    status, lines, err = export(data_dir, capsys, "--since", "0")
    assert status == 0
    assert lines == list(reversed(api.get("/v1/audit?limit=500").json()["items"]))
    assert f"resume with --since {lines[-1]['id']}" in err


def test_export_resumes_after_the_last_id_written(api, data_dir, capsys) -> None:
    _, first, _ = export(data_dir, capsys, "--since", "0")
    create_secret(api, "B")
    _, more, _ = export(data_dir, capsys, "--since", str(first[-1]["id"]))
    assert [e["action"] for e in more] == ["secret.create"] and more[0]["id"] > first[-1]["id"]


def test_export_of_one_site_and_from_a_time(api, data_dir, capsys) -> None:
    api.post("/v1/sites", json={"name": "shop"})
    create_secret(api, "A", scope="/v1/sites/shop")
    _, lines, _ = export(data_dir, capsys, "--since", "0", "--site", "shop")
    assert {e["site"] for e in lines} == {"shop"} and len(lines) == 2
    _, none, _ = export(data_dir, capsys, "--since", "2999-01-01")
    assert none == []
    _, everything, _ = export(data_dir, capsys, "--since", "2000-01-01T00:00:00Z")
    assert len(everything) >= 3


def test_export_to_a_file_is_private(api, data_dir, tmp_path, capsys) -> None:
    target = tmp_path / "audit.jsonl"
    status, _, _ = export(data_dir, capsys, "--since", "0", "--to", str(target))
    assert status == 0 and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert json.loads(target.read_text().splitlines()[0])["action"] == "site.create"


def test_export_to_an_existing_file_says_how_to_resume_and_leaves_it_alone(api, data_dir, tmp_path, capsys) -> None:
    target = tmp_path / "audit.jsonl"
    export(data_dir, capsys, "--since", "0", "--to", str(target))
    before = target.read_bytes()
    status, _, err = export(data_dir, capsys, "--since", "1", "--to", str(target))
    assert status == 1 and target.read_bytes() == before
    assert f"{target} exists; choose a new file" in err and ">>" in err, err


def test_bad_since_is_refused(data_dir, capsys) -> None:
    status, _, err = export(data_dir, capsys, "--since", "yesterday")
    assert status == 2 and "--since takes" in err


def test_a_since_that_is_no_date_is_refused_not_an_empty_export(data_dir, capsys) -> None:
    for since in ("2026-13-45", "2026-02-30", "2026-01-31T25:00:00Z", "2026-01-31T12:61"):
        status, lines, err = export(data_dir, capsys, "--since", since)
        assert (status, lines) == (2, []) and "--since takes" in err, since


# ---------------------------------------------------------------- the file sink


def lines_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_sink_appends_every_committed_event_to_a_private_file(api, state, tmp_path) -> None:
    path = tmp_path / "audit.log"
    sink = FileSink(state.store, path).start()
    try:
        create_secret(api, "A")
        sink.wake()
        wait_until(lambda: any(e["action"] == "secret.create" for e in lines_of(path)))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert sorted(e["id"] for e in lines_of(path)) == sorted(e["id"] for e in api.get("/v1/audit").json()["items"])
    finally:
        sink.stop()


def test_sink_follows_logrotate_and_sighup(api, state, tmp_path) -> None:
    path = tmp_path / "audit.log"
    sink = FileSink(state.store, path).start()
    try:
        create_secret(api, "A")
        sink.wake()
        wait_until(lambda: any(e["action"] == "secret.create" for e in lines_of(path)))
        os.rename(path, tmp_path / "audit.log.1")  # logrotate moves it away
        reveal(api, "A")
        sink.wake()
        wait_until(lambda: [e["action"] for e in lines_of(path)] == ["secret.reveal"])
        sink.reopen()
        create_secret(api, "B")
        wait_until(lambda: [e["action"] for e in lines_of(path)] == ["secret.reveal", "secret.create"])
    finally:
        sink.stop()


def test_unwritable_sink_loses_no_event(api, state, tmp_path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    sink = FileSink(state.store, blocker / "audit.log").start()
    try:
        assert create_secret(api, "A")["name"] == "A"  # the server serves on
        rounds = sink.rounds
        sink.wake()
        wait_until(lambda: sink.rounds > rounds + 1)
        assert api.get(f"{SITE}/audit?action=secret.create").json()["items"]
        chains = state.store.read(lambda tx: tx.audit_chains())
        assert all(exported == 0 for *_, exported in chains)  # nothing marked written, so retention keeps it
    finally:
        sink.stop()
    path = tmp_path / "audit.log"
    sink = FileSink(state.store, path).start()  # writable again: everything arrives
    try:
        sink.wake()
        wait_until(lambda: any(e["action"] == "secret.create" for e in lines_of(path)))
    finally:
        sink.stop()


def test_one_sink_per_file(api, state, tmp_path) -> None:
    path = tmp_path / "audit.log"
    first = FileSink(state.store, path).start()
    second = FileSink(state.store, path).start()
    try:
        create_secret(api, "A")
        first.wake()
        second.wake()
        wait_until(lambda: first.rounds > 1 and second.rounds > 1 and any(e["action"] == "secret.create" for e in lines_of(path)))
        ids = [e["id"] for e in lines_of(path)]
        assert len(ids) == len(set(ids))
    finally:
        first.stop()
        second.stop()


def test_serve_with_audit_file_writes_it_across_workers_and_reopens_on_sighup(tmp_path) -> None:
    import signal

    import httpx
    from test_cli import Served, cli

    data_dir = tmp_path / "data"
    token = cli("init", "--data-dir", str(data_dir)).stdout.strip()
    path = tmp_path / "audit.log"
    served = Served(data_dir, "--audit-file", str(path), "--workers", "2", "--audit-retention-days", "30")
    try:
        with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
            assert api.post(f"{SITE}/secrets", json={"name": "A", "value": "v"}).status_code == 201
            wait_until(lambda: any(e["action"] == "secret.create" for e in lines_of(path)))
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            os.rename(path, tmp_path / "audit.log.1")
            served.proc.send_signal(signal.SIGHUP)  # logrotate's postrotate: the parent passes it on
            assert api.post(f"{SITE}/secrets", json={"name": "B", "value": "v"}).status_code == 201
            wait_until(lambda: [e["target"] for e in lines_of(path)] == ["secret:site/B"])
            assert api.get(SITE).json()["limits"]["audit_retention_days"] == 30
        ids = [e["id"] for e in lines_of(tmp_path / "audit.log.1") + lines_of(path)]
        assert len(ids) == len(set(ids))  # two workers, one writer of the file
    finally:
        assert served.stop() == 0


def test_serve_refuses_an_audit_file_that_is_one_of_the_data_directorys_own(data_dir, capsys) -> None:
    """`--audit-file DATA/master.key` appended events to the master key (the next start: "not valid
    base64"); `DATA/secrets.db` appended them to the database file."""
    for name in ("master.key", "secrets.db"):
        path = data_dir / name
        if not path.exists():
            continue  # PostgreSQL: no database file
        before = (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
        status = cli.main(["serve", "--data-dir", str(data_dir), "--workers", "1", "--port", "0", "--audit-file", str(path)])
        assert status == 1 and "--audit-file" in capsys.readouterr().err
        assert (path.read_bytes(), stat.S_IMODE(path.stat().st_mode)) == before


def test_an_audit_file_holding_something_else_is_refused_and_one_of_events_is_taken(tmp_path) -> None:
    from server.audit_export import check_audit_file
    from server.datadir import DataDirError

    other = tmp_path / "passwd"
    other.write_text("root:x:0:0:root:/root:/bin/bash\n")
    os.chmod(other, 0o644)
    with pytest.raises(DataDirError, match="holds something other than audit events"):
        check_audit_file(other, tmp_path / "data")
    assert stat.S_IMODE(other.stat().st_mode) == 0o644
    ours = tmp_path / "audit.jsonl"
    ours.write_text('{"id":1,"at":"2026-01-01T00:00:00Z","action":"site.create","site":"default"}\n')
    check_audit_file(ours, tmp_path / "data")
    check_audit_file(tmp_path / "new.jsonl", tmp_path / "data")
    (tmp_path / "empty.jsonl").write_text("")
    check_audit_file(tmp_path / "empty.jsonl", tmp_path / "data")
