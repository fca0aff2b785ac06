"""`sitesecrets run` counts a service as loaded only if CMD can start: a command that is not there,
may not be executed, or an environment too large for exec leaves `restart_required` (and the
recorded versions) as they were, and a successful start still clears it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from cli_helpers import Live, base_env, run_text

SIZE_LIMIT = 300_000  # the site's max_value_bytes, raised so one value exceeds exec's 128 KiB per string


def run_cmd(live: Live, token: str, site: str, *command: str, url: str | None = None,
            wrap: list[str] | None = None) -> subprocess.CompletedProcess:
    """`sitesecrets run --service api --site SITE -- COMMAND` (under `wrap`, e.g. a shell setting a limit)."""
    env = base_env(SITESECRETS_URL=url or live.url, SITESECRETS_TOKEN=token)
    argv = [sys.executable, "-m", "tui.cli", "run", "--service", "api", "--site", site, "--", *command]
    return run_text([*(wrap or []), *argv], env=env)


@dataclass
class Stale:
    """Service `api` of `site`, loaded once and then flagged: its secret KEY changed since."""

    site: str
    token: str
    before: dict  # the service as it stands, flagged

    def unchanged(self, live: Live) -> bool:
        return live.service(self.site, "api") == self.before


def flagged_service(live: Live, values: dict[str, str]) -> Stale:
    site = live.new_site("load", max_value_bytes=SIZE_LIMIT)
    live.put_secret(site, "KEY", "one")
    for name, value in values.items():
        live.put_secret(site, name, value)
    live.new_service(site, "api", None, [{"name": "KEY"}, *({"name": n} for n in values)])
    token = live.mint("service", site, "api")
    live.ok("GET", f"/v1/sites/{site}/services/api/env")  # a fetch that records the load, as before `run` checked
    live.ok("PATCH", f"/v1/sites/{site}/secrets/KEY", json={"value": "two"})
    before = live.service(site, "api")
    assert before["restart_required"] is True
    return Stale(site, token, before)


@pytest.fixture
def stale(live: Live) -> Stale:
    return flagged_service(live, {})


def marker_cmd(tmp_path: Path) -> tuple[Path, list[str]]:
    marker = tmp_path / "started"
    return marker, [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]


# --- the command: checked before anything is fetched ----------------------------------------------

def test_a_command_that_does_not_exist_exits_127_and_the_load_is_not_recorded(live, stale):
    result = run_cmd(live, stale.token, stale.site, "/nonexistent/cmd")
    assert result.returncode == 127
    assert result.stderr == "sitesecrets run: cannot start /nonexistent/cmd: no such command\n"
    assert stale.unchanged(live)


def test_a_command_that_does_not_exist_is_refused_before_any_secret_is_fetched(live, stale):
    fetches = len(live.audit(stale.site, action="service.env"))
    assert run_cmd(live, stale.token, stale.site, "/nonexistent/cmd").returncode == 127
    assert len(live.audit(stale.site, action="service.env")) == fetches


def test_a_command_not_on_path_exits_127_and_the_load_is_not_recorded(live, stale):
    result = run_cmd(live, stale.token, stale.site, "sitesecrets-no-such-command")
    assert result.returncode == 127 and "no such command on PATH" in result.stderr
    assert stale.unchanged(live)


def test_a_file_that_may_not_be_executed_exits_126_and_the_load_is_not_recorded(live, stale, tmp_path):
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    result = run_cmd(live, stale.token, stale.site, str(script))
    assert result.returncode == 126 and "not an executable file" in result.stderr
    assert stale.unchanged(live)


def test_a_directory_named_as_the_command_exits_126(live, stale, tmp_path):
    assert run_cmd(live, stale.token, stale.site, str(tmp_path)).returncode == 126
    assert stale.unchanged(live)


def test_a_script_whose_interpreter_is_missing_exits_126_and_the_load_is_not_recorded(live, stale, tmp_path):
    script = tmp_path / "script"
    script.write_text("#!/nonexistent/interpreter -x\nexit 0\n")
    script.chmod(0o755)
    result = run_cmd(live, stale.token, stale.site, str(script))
    assert result.returncode == 126 and "/nonexistent/interpreter" in result.stderr
    assert stale.unchanged(live)


# --- the environment: checked after the fetch, before the load is recorded ------------------------

def test_a_value_too_large_for_exec_is_refused_naming_it_and_the_load_is_not_recorded(live, tmp_path):
    value = "v" * 200_000  # one NAME=value string over Linux's 128 KiB
    stale = flagged_service(live, {"HUGE": value})
    marker, cmd = marker_cmd(tmp_path)
    result = run_cmd(live, stale.token, stale.site, *cmd)
    assert result.returncode == 1
    assert "variable HUGE" in result.stderr and "vvvv" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not marker.exists()
    assert stale.unchanged(live)


def test_an_environment_over_arg_max_is_refused_naming_the_largest_and_the_load_is_not_recorded(live, tmp_path):
    # a 2 MiB stack makes ARG_MAX 512 KiB (a quarter of it); six 100 KB secrets go over it
    values = {f"PART_{i}": "w" * (100_000 + i) for i in range(6)}
    stale = flagged_service(live, values)
    marker, cmd = marker_cmd(tmp_path)
    small_stack = ["sh", "-c", 'ulimit -s 2048 && exec "$@"', "sh"]
    result = run_cmd(live, stale.token, stale.site, *cmd, wrap=small_stack)
    assert result.returncode == 1, result.stderr
    assert "variable PART_5" in result.stderr and "wwww" not in result.stderr
    assert not marker.exists()
    assert stale.unchanged(live)


def test_the_same_environment_starts_where_the_stack_allows_it(live, tmp_path):
    values = {f"PART_{i}": "w" * (100_000 + i) for i in range(6)}
    stale = flagged_service(live, values)
    marker, cmd = marker_cmd(tmp_path)
    result = run_cmd(live, stale.token, stale.site, *cmd, wrap=["sh", "-c", 'ulimit -s 8192 && exec "$@"', "sh"])
    assert result.returncode == 0, result.stderr
    assert marker.exists()
    assert live.service(stale.site, "api")["restart_required"] is False


# --- a start that goes ahead records the load -----------------------------------------------------

def test_a_successful_run_clears_restart_required_and_records_the_versions_it_started_with(live, stale):
    assert run_cmd(live, stale.token, stale.site, "true").returncode == 0
    service = live.service(stale.site, "api")
    assert service["restart_required"] is False
    assert service["loaded_versions"] == [{"name": "KEY", "app": None, "version": 2}]


def test_a_successful_run_fetches_without_recording_and_then_records_the_load(live, stale):
    assert run_cmd(live, stale.token, stale.site, "true").returncode == 0
    latest = live.audit(stale.site)[:2]
    assert [e["action"] for e in latest] == ["service.load", "service.env"]
    assert latest[1]["details"]["recorded"] is False


# --- what the server answers (a canned server on loopback) ----------------------------------------

ENV_ANSWER = {"env": {"KEY": "one"}, "versions": {"KEY": 1}, "missing": [],
              "loaded_versions": [{"name": "KEY", "app": None, "version": 1}]}


def http_answer(status: str, payload: dict) -> bytes:
    body = json.dumps(payload).encode()
    return f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.fixture
def canned() -> Iterator[tuple[str, list[bytes], list[bytes], threading.Thread]]:
    """(url, answers to give in order, requests received, the thread to start once `answers` is
    filled): a loopback server answering one request per connection from `answers`."""
    answers: list[bytes] = []
    received: list[bytes] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.settimeout(60)

        def serve() -> None:
            while answers:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    received.append(read_request(conn))
                    conn.sendall(answers.pop(0))

        thread = threading.Thread(target=serve, daemon=True)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        yield url, answers, received, thread


def read_request(conn: socket.socket) -> bytes:
    """One whole request: its head, and as many body bytes as its Content-Length says."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def test_a_load_the_server_will_not_record_stops_the_start(live, canned, tmp_path):
    url, answers, received, thread = canned
    answers += [http_answer("200 OK", ENV_ANSWER),
                http_answer("422 Unprocessable Entity", {"error": {"code": "validation_error", "message": "no such version"}})]
    thread.start()
    marker, cmd = marker_cmd(tmp_path)
    result = run_cmd(live, "ss_token", "default", *cmd, url=url)
    thread.join(timeout=60)
    assert result.returncode == 1
    assert "cannot record the load (no such version)" in result.stderr and "not started" in result.stderr
    assert not marker.exists()
    assert received[0].startswith(b"GET /v1/sites/default/services/api/env?record=false ")
    assert received[1].startswith(b"POST /v1/sites/default/services/api/loads ")
    assert json.loads(received[1].partition(b"\r\n\r\n")[2]) == {"versions": ENV_ANSWER["loaded_versions"]}


def test_a_server_from_before_record_false_is_not_asked_to_record_again(live, canned, tmp_path):
    # such a server ignores ?record=false and recorded the load with the fetch, as it always did
    url, answers, received, thread = canned
    answers.append(http_answer("200 OK", {k: v for k, v in ENV_ANSWER.items() if k != "loaded_versions"}))
    thread.start()
    marker, cmd = marker_cmd(tmp_path)
    result = run_cmd(live, "ss_token", "default", *cmd, url=url)
    thread.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert marker.exists() and len(received) == 1
