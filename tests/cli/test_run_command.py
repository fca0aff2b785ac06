"""`sitesecrets run --service NAME -- CMD`: a real child process receives exactly the service's
bound secrets, its exit status comes back, and nothing is started when the environment can't be had."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli_helpers import Live, base_env, run_text

PRINT_ENV = [sys.executable, "-c", "import json,os,sys; sys.stdout.write(json.dumps(dict(os.environ)))"]
ODD_VALUE = "p@ss 'w\"ord'\n$HOME `id` \\ é ✓ = #x"


def run_cmd(live: Live, token: str, *args: str, env: dict[str, str] | None = None,
            url: str | None = None) -> subprocess.CompletedProcess:
    """`sitesecrets run ARGS` with `token` in SITESECRETS_TOKEN and a small known environment."""
    child_env = base_env(SITESECRETS_URL=url or live.url, SITESECRETS_TOKEN=token, INHERITED_ONLY="kept")
    child_env.update(env or {})
    return run_text([sys.executable, "-m", "tui.cli", "run", *args], env=child_env)


@dataclass
class Bound:
    site: str
    token: str  # a service token of service "api"
    other_token: str  # a service token of service "worker"


@pytest.fixture
def bound(live: Live) -> Bound:
    """Site with app `web`; service `api` binds SHARED at both levels, SITE_ONLY and web/DB_PASSWORD;
    UNBOUND exists but is not bound; service `worker` binds only web/WORKER_KEY."""
    site = live.new_site("run")
    live.new_app(site, "web")
    live.put_secret(site, "SHARED", "site-level")
    live.put_secret(site, "SITE_ONLY", "from the site")
    live.put_secret(site, "UNBOUND", "must not appear")
    live.put_secret(site, "SHARED", "app-level", app="web")
    live.put_secret(site, "DB_PASSWORD", ODD_VALUE, app="web")
    live.put_secret(site, "WORKER_KEY", "worker only", app="web")
    live.new_service(site, "api", "web", [{"name": "SHARED"}, {"name": "SITE_ONLY"},
                                          {"name": "SHARED", "app": "web"}, {"name": "DB_PASSWORD", "app": "web"}])
    live.new_service(site, "worker", "web", [{"name": "WORKER_KEY", "app": "web"}])
    return Bound(site, live.mint("service", site, "api"), live.mint("service", site, "worker"))


def child_env_of(result: subprocess.CompletedProcess) -> dict[str, str]:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_child_receives_exactly_the_bound_secrets_over_its_inherited_environment(live, bound):
    result = run_cmd(live, bound.token, "--service", "api", "--site", bound.site, "--", *PRINT_ENV)
    env = child_env_of(result)
    expected = base_env(SITESECRETS_URL=live.url, INHERITED_ONLY="kept",
                        SHARED="app-level", SITE_ONLY="from the site", DB_PASSWORD=ODD_VALUE)
    assert env == expected


AFTER_THE_CLIENT = "import sys, tui.client, tui.cli; sys.exit(tui.cli.main(sys.argv[1:]))"
"""`sitesecrets ARGS` in a process that has loaded the API client first, as the TUI and every
other command do (`run` alone does not need it)."""


@pytest.mark.parametrize("users", [None, "my_plugin"], ids=["unset", "the users"])
def test_a_child_sees_pydantic_plugins_as_the_user_left_them(live, bound, users):
    """The API client turns pydantic's plugins off for its own process (PYDANTIC_DISABLE_PLUGINS);
    a child's environment is the user's plus the secrets, so it gets the user's setting, or none."""
    env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=bound.token)
    if users is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = users
    for argv in ([sys.executable, "-m", "tui.cli"], [sys.executable, "-c", AFTER_THE_CLIENT]):
        started = run_text([*argv, "run", "--service", "api", "--site", bound.site, "--", *PRINT_ENV], env)
        assert child_env_of(started).get("PYDANTIC_DISABLE_PLUGINS") == users


def test_app_level_value_wins_over_site_level_of_the_same_name(live, bound):
    env = child_env_of(run_cmd(live, bound.token, "--service", "api", "--site", bound.site, "--", *PRINT_ENV))
    assert env["SHARED"] == "app-level"


def test_service_token_is_not_passed_to_the_child(live, bound):
    env = child_env_of(run_cmd(live, bound.token, "--service", "api", "--site", bound.site, "--", *PRINT_ENV))
    assert "SITESECRETS_TOKEN" not in env
    assert bound.token not in json.dumps(env)


def test_token_given_with_option_is_not_passed_to_the_child_either(live, bound):
    result = run_cmd(live, "", "--service", "api", "--site", bound.site, "--token", bound.token, "--", *PRINT_ENV)
    env = child_env_of(result)
    assert bound.token not in json.dumps(env)


def test_secret_values_never_appear_on_the_child_command_line(live, bound):
    show_argv = [sys.executable, "-c", "import sys; print(repr(sys.argv))"]
    result = run_cmd(live, bound.token, "--service", "api", "--site", bound.site, "--", *show_argv, "plain-arg")
    assert result.returncode == 0, result.stderr
    assert "app-level" not in result.stdout and "plain-arg" in result.stdout


def test_child_exit_status_comes_back(live, bound):
    result = run_cmd(live, bound.token, "--service", "api", "--site", bound.site, "--",
                     sys.executable, "-c", "import sys; sys.exit(3)")
    assert result.returncode == 3


def test_child_stdin_and_stdout_are_its_own(live, bound):
    child_env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=bound.token)
    result = run_text([sys.executable, "-m", "tui.cli", "run", "--service", "api", "--site", bound.site, "--",
                       sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read().upper())"],
                      env=child_env, input="piped in")
    assert (result.returncode, result.stdout) == (0, "PIPED IN")


def test_child_starts_with_the_signal_dispositions_a_shell_gives_it(live, bound):
    """Python ignores SIGPIPE and SIGXFSZ for itself; what `run` execs must not inherit that. A
    script cannot undo a signal ignored on entry (POSIX), so in `run -- deploy.sh` every
    `producer | head -1` would see its producer fail with EPIPE instead of ending quietly, and
    a shell loop writing into it would never end."""
    script = "yes | head -n 1 > /dev/null; echo ${PIPESTATUS[0]}; grep SigIgn /proc/self/status"
    result = run_cmd(live, bound.token, "--service", "api", "--site", bound.site, "--", "bash", "-c", script)
    assert result.returncode == 0, result.stderr
    status, ignored = result.stdout.splitlines()
    assert status == "141"  # yes, ended by SIGPIPE as at a shell
    mask = int(ignored.split()[1], 16)  # what the test's own parent ignored (a background job's SIGINT) stays so, as at a shell
    assert not mask & (1 << (signal.SIGPIPE - 1)) and not mask & (1 << (signal.SIGXFSZ - 1))
    assert "Broken pipe" not in result.stderr


def test_verbose_names_overridden_inherited_variables_on_stderr(live, bound):
    result = run_cmd(live, bound.token, "--service", "api", "--site", bound.site, "--verbose", "--", *PRINT_ENV,
                     env={"SHARED": "parent-value", "UNRELATED": "x"})
    env = child_env_of(result)
    assert env["SHARED"] == "app-level" and env["UNRELATED"] == "x"
    assert "SHARED" in result.stderr
    assert "UNRELATED" not in result.stderr and "SITE_ONLY" not in result.stderr
    assert "app-level" not in result.stderr and "parent-value" not in result.stderr  # names, never values


def test_without_verbose_an_override_is_silent(live, bound):
    result = run_cmd(live, bound.token, "--service", "api", "--site", bound.site, "--", *PRINT_ENV,
                     env={"SHARED": "inherited"})
    assert child_env_of(result)["SHARED"] == "app-level"
    assert result.stderr == ""


def test_a_service_token_that_names_no_site_runs_in_its_own_site(live, bound):
    env = child_env_of(run_cmd(live, bound.token, "--service", "api", "--", *PRINT_ENV))
    assert env["SITE_ONLY"] == "from the site"


def test_a_site_login_recorded_is_used_without_asking_the_server():
    from tui.credentials import Resolved
    from tui.run import site_of

    nowhere = "http://127.0.0.1:9"  # asked, it would fail: discard port
    assert site_of(None, Resolved("ss_logged_in", site="shop"), nowhere, None) == "shop"
    assert site_of("named", Resolved("ss_logged_in", site="shop"), nowhere, None) == "named"


def test_editor_token_may_run_a_service(live, bound):
    editor = live.mint("editor", bound.site)
    env = child_env_of(run_cmd(live, editor, "--service", "worker", "--site", bound.site, "--", *PRINT_ENV))
    assert env["WORKER_KEY"] == "worker only" and "SHARED" not in env


# --- refusals: a clear message, non-zero, and CMD is never started -----------------------------

def marker_cmd(tmp_path: Path) -> tuple[Path, list[str]]:
    marker = tmp_path / "started"
    return marker, [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]


def test_unknown_service_is_refused_and_cmd_not_started(live, bound, tmp_path):
    marker, cmd = marker_cmd(tmp_path)
    editor = live.mint("editor", bound.site)
    result = run_cmd(live, editor, "--service", "nope", "--site", bound.site, "--", *cmd)
    assert result.returncode == 1
    assert "nope" in result.stderr and "not started" in result.stderr
    assert not marker.exists()


def test_token_of_another_service_is_refused_and_cmd_not_started(live, bound, tmp_path):
    marker, cmd = marker_cmd(tmp_path)
    result = run_cmd(live, bound.other_token, "--service", "api", "--site", bound.site, "--", *cmd)
    assert result.returncode == 1
    assert "not started" in result.stderr
    assert "app-level" not in result.stderr + result.stdout
    assert not marker.exists()


def test_missing_double_dash_is_a_usage_error_and_cmd_not_started(live, bound, tmp_path):
    marker, cmd = marker_cmd(tmp_path)
    result = run_cmd(live, bound.token, "--service", "api", "--site", bound.site, *cmd)
    assert result.returncode == 2
    assert "--" in result.stderr
    assert not marker.exists()


def test_nothing_after_double_dash_is_a_usage_error(live, bound):
    result = run_cmd(live, bound.token, "--service", "api", "--site", bound.site, "--")
    assert result.returncode == 2 and "no command" in result.stderr


def test_unreachable_server_exits_75_and_cmd_not_started(live, bound, tmp_path):
    with socket.socket() as sock:  # a loopback port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    marker, cmd = marker_cmd(tmp_path)
    result = run_cmd(live, bound.token, "--service", "api", "--site", bound.site, "--", *cmd,
                     url=f"http://127.0.0.1:{port}", env={"SITESECRETS_RETRY_SECONDS": "0"})  # retries: test_exit_statuses
    assert result.returncode == 75
    assert "cannot reach" in result.stderr and "not started" in result.stderr
    assert not marker.exists()


def test_missing_token_is_refused_and_cmd_not_started(live, bound, tmp_path):
    marker, cmd = marker_cmd(tmp_path)
    result = run_cmd(live, "", "--service", "api", "--site", bound.site, "--", *cmd)
    assert result.returncode != 0 and "token" in result.stderr
    assert not marker.exists()


def test_revoked_service_token_is_refused_and_cmd_not_started(live, bound, tmp_path):
    created = live.ok("POST", "/v1/tokens", 201, json={"name": "gone", "role": "service", "site": bound.site,
                                                        "service": "api"})
    live.ok("DELETE", f"/v1/tokens/{created['id']}", 204)
    marker, cmd = marker_cmd(tmp_path)
    result = run_cmd(live, created["token"], "--service", "api", "--site", bound.site, "--", *cmd)
    assert result.returncode == 1 and not marker.exists()


def test_command_that_cannot_be_found_exits_127(live, bound):
    result = run_cmd(live, bound.token, "--service", "api", "--site", bound.site, "--", "/nonexistent/program")
    assert result.returncode == 127 and "cannot start" in result.stderr


# --- restart required ----------------------------------------------------------------------------

def test_updating_a_bound_secret_marks_the_service_and_a_new_run_clears_it(live, bound):
    assert run_cmd(live, bound.token, "--service", "api", "--site", bound.site, "--", "true").returncode == 0
    assert live.service(bound.site, "api")["restart_required"] is False

    live.ok("PATCH", f"/v1/sites/{bound.site}/apps/web/secrets/DB_PASSWORD", json={"value": "rotated"})
    service = live.service(bound.site, "api")
    assert service["restart_required"] is True
    assert {"name": "DB_PASSWORD", "app": "web"} in service["stale"]
    assert live.service(bound.site, "worker")["restart_required"] is False  # it does not bind DB_PASSWORD

    env = child_env_of(run_cmd(live, bound.token, "--service", "api", "--site", bound.site, "--", *PRINT_ENV))
    assert env["DB_PASSWORD"] == "rotated"
    service = live.service(bound.site, "api")
    assert service["restart_required"] is False and service["stale"] == []


def test_a_run_records_the_load_on_the_service(live, bound):
    assert live.service(bound.site, "worker")["loaded_at"] is None
    assert run_cmd(live, bound.other_token, "--service", "worker", "--site", bound.site, "--", "true").returncode == 0
    assert live.service(bound.site, "worker")["loaded_at"] is not None


def test_a_bound_secret_that_does_not_exist_stops_the_start(live, tmp_path):
    site = live.new_site("run-missing")
    live.put_secret(site, "PRESENT", "here")
    live.new_service(site, "api", None, [{"name": "PRESENT"}, {"name": "NOT_YET"}])
    marker, cmd = marker_cmd(tmp_path)
    result = run_cmd(live, live.mint("service", site, "api"), "--service", "api", "--site", site, "--", *cmd)
    assert result.returncode == 1
    assert "NOT_YET" in result.stderr and "not started" in result.stderr
    assert "here" not in result.stderr
    assert not marker.exists()


def test_an_app_value_standing_in_for_a_missing_site_value_is_enough(live):
    site = live.new_site("run-missing")
    live.new_app(site, "web")
    live.put_secret(site, "KEY", "app", app="web")
    live.new_service(site, "api", "web", [{"name": "KEY"}, {"name": "KEY", "app": "web"}])
    env = child_env_of(run_cmd(live, live.mint("service", site, "api"), "--service", "api", "--site", site, "--",
                               *PRINT_ENV))
    assert env["KEY"] == "app"


@contextmanager
def answering_once(answer: bytes) -> Iterator[str]:
    """The URL of a loopback listener that answers its first request with the bytes `answer`,
    whatever was asked: what a wrong URL, a proxy or a server not ours may send."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def answer_once() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(answer)

        thread = threading.Thread(target=answer_once, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
        thread.join(timeout=10)


@pytest.mark.parametrize(("answer", "status"), [
    (b"garbage\r\n\r\n", 1), (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", 1),
    (b'HTTP/1.1 500 Oops\r\nContent-Length: 17\r\n\r\n{"error": "text"}', 1),
    (b"", 75),  # the connection closed without an answer: a server going down, worth trying again
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"[" * 100_000, 1),  # nested past the parser's depth
    (b"HTTP/1.1 503 No\r\nContent-Length: 100000\r\n\r\n" + b"[" * 100_000, 75),
], ids=["not-http", "not-an-object", "not-our-error", "closed", "too-deep", "too-deep-error"])
def test_a_broken_answer_is_a_clear_error_and_cmd_not_started(live, tmp_path, answer, status):
    marker, cmd = marker_cmd(tmp_path)
    with answering_once(answer) as url:
        result = run_cmd(live, "ss_token", "--service", "api", "--", *cmd, url=url, env={"SITESECRETS_RETRY_SECONDS": "0"})
    assert result.returncode == status
    assert "not started" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()


def answer_with(body: dict, status: str) -> bytes:
    data = json.dumps(body).encode()
    return f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data


HOSTILE = "no\x1b]52;c;aGk=\x07 \x1b[2J\u202eexe.txt\x9b31m"


@pytest.mark.parametrize("answer", [
    answer_with({"error": {"code": "forbidden", "message": HOSTILE}}, "403 Forbidden"),
    answer_with({"error": {"code": "not_found", "message": HOSTILE, "details": {"resource": "site"}}}, "404 Not Found"),
    answer_with({"error": {"code": "database_unavailable", "message": HOSTILE}}, "503 Service Unavailable"),
])
def test_what_answers_at_the_url_cannot_drive_the_terminal_through_run_s_error_line(tmp_path, answer):
    """Whatever answers (a proxy, a wrong URL, a server not ours) is untrusted text: its message
    reaches stderr with escapes, OSC and CSI sequences and bidi marks spelled out, as every other
    command shows a server's message."""
    marker, cmd = marker_cmd(tmp_path)
    with answering_once(answer) as url:
        env = base_env(SITESECRETS_URL=url, SITESECRETS_TOKEN="ss_token", SITESECRETS_RETRY_SECONDS="0")
        result = run_text([sys.executable, "-m", "tui.cli", "run", "--service", "api", "--site", "s", "--", *cmd], env=env)
    assert "not started" in result.stderr and not marker.exists()
    assert "\\x1b]52;c;aGk=\\x07 \\x1b[2J\\u202eexe.txt\\x9b31m" in result.stderr
    assert not any(ch in result.stderr for ch in "\x1b\x07\u202e\x9b")
