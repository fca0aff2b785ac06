"""The exit statuses a cron job, a CI deploy or a systemd unit decides by (README, "Exit
statuses"): 0 done, 1 refused (the server answered no, and asking again will not change that),
2 a usage error, 75 (sysexits' EX_TEMPFAIL) the server could not be reached or said it cannot
serve just now, so the same command may well succeed later.

The commands run in this process (`tui.cli.main`) against a real server on a unix socket, which
the tests stop and start again on the same socket, as an operator's restart would."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Callable

import pytest

from cli_helpers import REPO, Live, RecordingProxy
from tui import cli, crash, exitstatus, retry, run

REFUSED, USAGE, TEMPORARY = 1, 2, 75

Sitesecrets = Callable[..., tuple[int, str]]


@pytest.fixture
def sitesecrets(live: Live, site: str, monkeypatch, capsys) -> Sitesecrets:
    """`sitesecrets(*args, token=admin)`: run the command in this process as a script would;
    (exit status, stderr)."""

    def run(*args: str, token: str | None = None, url: str | None = None) -> tuple[int, str]:
        monkeypatch.setenv("SITESECRETS_URL", url or live.url)
        monkeypatch.setenv("SITESECRETS_TOKEN", token or live.admin_token)
        monkeypatch.setenv("SITESECRETS_SITE", site)
        capsys.readouterr()
        status = cli.main(list(args))
        printed = capsys.readouterr()
        run.stdout = printed.out
        return status, printed.err

    return run


@pytest.fixture(autouse=True)
def slept(monkeypatch) -> list[float]:
    """The delays retries waited, which pass at once here: the tests wait for what happens."""
    delays: list[float] = []
    monkeypatch.setattr(retry, "sleep", delays.append)
    return delays


class Outage:
    """The module's server stopped; `restart_on_retry()` has the first retry's wait start it again
    on the same socket, as a restart finishing during that wait would."""

    def __init__(self, live: Live, slept: list[float], monkeypatch) -> None:
        self.live, self.slept, self.monkeypatch = live, slept, monkeypatch
        self.down = True
        live.stop_server()

    def restart_on_retry(self) -> None:
        def sleep(seconds: float) -> None:
            self.slept.append(seconds)
            self.start()

        self.monkeypatch.setattr(retry, "sleep", sleep)

    def start(self) -> None:
        if self.down:
            self.live.start_server()
            self.down = False


@pytest.fixture
def stopped(live: Live, slept, monkeypatch):
    """The module's server, stopped for the test (`Outage`) and running again after it."""
    outage = Outage(live, slept, monkeypatch)
    yield outage
    outage.start()


def test_a_stopped_server_exits_75_so_a_script_knows_to_try_again(sitesecrets, stopped):
    status, said = sitesecrets("ls")
    assert status == TEMPORARY
    assert "no server socket" in said and "Traceback" not in said


def test_the_tui_with_its_server_stopped_exits_75_with_the_sentence_every_command_says(sitesecrets, stopped,
                                                                                     monkeypatch):
    monkeypatch.setattr(crash, "disable_core_dumps", lambda: None)  # the test process stays debuggable
    tui_status, tui_said = sitesecrets()  # no subcommand: the TUI, which checks its server before it opens
    ls_status, ls_said = sitesecrets("ls")
    assert tui_status == ls_status == TEMPORARY
    assert tui_said.splitlines() == ls_said.splitlines()[-1:]  # ls says first that it tries again; the TUI does not


# ----------------------------------------------------------------- --json: the error as JSON too


def error_of(said: str) -> dict:
    """The last line of a failed `--json` command's stderr (warnings may come before it): one JSON
    object, the API's error shape and the exit status."""
    return json.loads(said.splitlines()[-1])


def test_with_json_an_unreachable_server_is_a_json_error_on_stderr(sitesecrets, stopped, monkeypatch):
    monkeypatch.setenv("SITESECRETS_RETRY_SECONDS", "0")
    status, said = sitesecrets("ls", "--json")
    assert status == TEMPORARY and sitesecrets.stdout == ""
    error = error_of(said)
    assert error["exit_status"] == TEMPORARY and error["error"]["code"] == "unreachable"
    assert "no server socket" in error["error"]["message"]


def test_with_json_a_refusal_carries_the_servers_code_and_status(sitesecrets):
    status, said = sitesecrets("versions", "NOPE", "--json")
    assert status == REFUSED and sitesecrets.stdout == ""
    assert error_of(said) == {"error": {"code": "not_found", "message": "secret 'NOPE' does not exist",
                                        "details": {"name": "NOPE", "resource": "secret"}, "status": 404},
                              "exit_status": REFUSED}


def test_with_json_a_usage_error_is_a_json_error(sitesecrets):
    status, said = sitesecrets("ls", "--json", "--app", "")
    assert status == USAGE and error_of(said)["error"]["code"] == "usage_error"


def test_with_json_a_503_is_a_json_error_whose_status_says_try_again(sitesecrets, front, monkeypatch):
    monkeypatch.setenv("SITESECRETS_RETRY_SECONDS", "0")
    front.unavailable(1)
    status, said = sitesecrets("ls", "--json", url=front.url)
    assert status == TEMPORARY
    assert error_of(said)["error"]["code"] == "database_unavailable" and error_of(said)["error"]["status"] == 503


def test_without_json_errors_stay_one_sentence(sitesecrets):
    status, said = sitesecrets("versions", "NOPE")
    assert status == REFUSED and said.startswith("sitesecrets: ") and "{" not in said


# ----------------------------------------------------------------- trying again, within bounds


def test_a_read_is_tried_again_while_the_server_restarts(sitesecrets, stopped):
    stopped.restart_on_retry()
    status, said = sitesecrets("ls")
    assert status == 0, said
    assert "trying again for up to 10 s" in said and len(stopped.slept) == 1


def test_a_server_that_stays_down_is_given_up_on_within_the_budget(sitesecrets, stopped, slept):
    status, said = sitesecrets("ls")
    assert status == TEMPORARY
    assert len(slept) >= 3 and sum(slept) <= retry.DEFAULT_BUDGET
    assert said.count("trying again") == 1  # said once, not at every try


def test_the_budget_comes_from_SITESECRETS_RETRY_SECONDS_and_0_turns_retrying_off(sitesecrets, stopped, slept,
                                                                                 monkeypatch):
    monkeypatch.setenv("SITESECRETS_RETRY_SECONDS", "0")
    assert sitesecrets("ls")[0] == TEMPORARY and slept == []
    monkeypatch.setenv("SITESECRETS_RETRY_SECONDS", "2.5")
    assert sitesecrets("ls")[0] == TEMPORARY and 0 < sum(slept) <= 2.5


def test_a_budget_that_is_not_a_number_of_seconds_is_a_usage_error(sitesecrets, monkeypatch):
    monkeypatch.setenv("SITESECRETS_RETRY_SECONDS", "soon")
    status, said = sitesecrets("ls")
    assert status == USAGE and "SITESECRETS_RETRY_SECONDS" in said


def test_a_read_answered_503_waits_at_least_its_retry_after_then_succeeds(live, site, sitesecrets, front, slept):
    front.unavailable(2, retry_after="3")
    status, said = sitesecrets("ls", url=front.url)
    assert status == 0, said
    assert len(slept) == 2 and min(slept) >= 3
    assert [method for method, _, _ in front.requests] == ["GET"] * 3


def test_a_retry_after_beyond_the_budget_is_not_waited_for(sitesecrets, front, slept):
    front.unavailable(1, retry_after="120")
    assert sitesecrets("ls", url=front.url)[0] == TEMPORARY
    assert slept == [] and len(front.requests) == 1


def test_a_write_that_never_left_is_tried_again_and_made_once(live, site, sitesecrets, stopped):
    stopped.restart_on_retry()
    status, said = sitesecrets("apps", "create", "web")
    assert status == 0, said
    assert [a["name"] for a in live.ok("GET", f"/v1/sites/{site}/apps")["items"]] == ["web"]


def test_a_write_refused_by_a_busy_server_before_it_was_read_is_tried_again(live, site, sitesecrets, front, slept):
    front.unavailable(1, code="server_busy", method="POST")
    status, said = sitesecrets("apps", "create", "web", url=front.url)
    assert status == 0, said
    assert [method for method, _, _ in front.requests].count("POST") == 2


@pytest.mark.parametrize("args", [["get", "NOPE"], ["versions", "NOPE"], ["services", "show", "nope"]])
def test_what_the_server_refuses_exits_1(sitesecrets, args):
    status, said = sitesecrets(*args)
    assert status == REFUSED and said.startswith("sitesecrets: ")


def test_a_write_the_server_refuses_exits_1_and_changes_nothing(live, site, sitesecrets):
    live.put_secret(site, "TAKEN", "first")
    status, said = sitesecrets("set", "TAKEN", "--from-file", "/dev/null", "--allow-empty", "--expected-version", "7")
    assert status == REFUSED
    assert live.reveal(site, "TAKEN") == "first"


def test_a_token_the_server_rejects_exits_1(sitesecrets):
    assert sitesecrets("ls", token="ss_" + "x" * 43)[0] == REFUSED


def test_a_role_that_may_not_exits_1(live, site, sitesecrets):
    assert sitesecrets("audit", "ls", token=live.mint("viewer", site))[0] == REFUSED


def test_a_usage_error_still_exits_2_even_with_the_server_stopped(sitesecrets, stopped):
    status, said = sitesecrets("ls", "--app", "")
    assert status == USAGE and "--app" in said


@pytest.fixture
def front(live: Live):
    """A relay in front of the module's server that can answer 503 for it (cli_helpers.RecordingProxy)."""
    relay = RecordingProxy(live.url)
    yield relay
    relay.close()


def test_a_write_answered_503_exits_75_and_is_not_sent_again(live, site, sitesecrets, front, slept):
    """The server may have made the change before its database went: sending it again could make
    it twice (a secret deleted after its name was taken again), so the script decides."""
    live.put_secret(site, "GONE", "v")
    front.unavailable(1, method="DELETE")
    status, said = sitesecrets("rm", "GONE", "--yes", url=front.url)
    assert status == TEMPORARY and "cannot serve just now" in said
    assert [method for method, _, _ in front.requests].count("DELETE") == 1 and slept == []
    assert live.secret(site, "GONE").status_code == 200


def values_of(live: Live, site: str) -> dict[str, tuple[str, int]]:
    """Each secret of the site: (value, version)."""
    return {s["name"]: (live.reveal(site, s["name"]), s["version"])
            for s in live.ok("GET", f"/v1/sites/{site}/secrets")["items"]}


def test_an_import_with_overwrite_stopped_part_way_exits_75_and_the_same_import_again_completes_it(
        live, site, sitesecrets, front, tmp_path):
    """With --overwrite a second run writes the same values again, which makes no new version: a
    script retrying on 75 finishes the import and changes nothing twice."""
    live.put_secret(site, "OLD", "old")
    dotenv = tmp_path / "in.env"
    dotenv.write_text("OLD=new\nFRESH=1\nMORE=2\n")
    front.unavailable(1, method="POST", after=1)  # OLD updated (PATCH), FRESH created, MORE refused
    status, said = sitesecrets("import", str(dotenv), "--overwrite", url=front.url)
    assert status == TEMPORARY
    assert "import stopped at line 3 (MORE): 2 of 3 written (OLD, FRESH); not written: MORE" in said
    assert "the same import again is safe" in said
    status, said = sitesecrets("import", str(dotenv), "--overwrite")
    assert status == 0, said
    assert values_of(live, site) == {"OLD": ("new", 2), "FRESH": ("1", 1), "MORE": ("2", 1)}


def test_an_import_without_overwrite_stopped_after_a_write_exits_1_and_says_to_import_again_with_overwrite(
        live, site, sitesecrets, front, tmp_path):
    """Run again as it was, it would be refused (`A exists`) and never finish: 75 would invite a
    retry loop that cannot succeed, so it is 1 with what to do instead, which does succeed."""
    dotenv = tmp_path / "in.env"
    dotenv.write_text("A=1\nB=2\nC=3\n")
    front.unavailable(1, method="POST", after=1)
    status, said = sitesecrets("import", str(dotenv), url=front.url)
    assert status == REFUSED
    assert "import stopped at line 2 (B): the server cannot serve just now" in said
    assert "1 of 3 written (A); not written: B, C" in said and "import again with --overwrite" in said
    status, said = sitesecrets("import", str(dotenv), "--overwrite")
    assert status == 0, said
    assert values_of(live, site) == {"A": ("1", 1), "B": ("2", 1), "C": ("3", 1)}


def test_an_import_stopped_before_any_write_exits_75(live, site, sitesecrets, front, tmp_path):
    dotenv = tmp_path / "in.env"
    dotenv.write_text("A=1\nB=2\n")
    front.unavailable(1, method="POST")
    status, said = sitesecrets("import", str(dotenv), url=front.url)
    assert status == TEMPORARY and "written" not in said
    assert values_of(live, site) == {}


# ----------------------------------------------------------------- `run`, before it execs


@dataclass
class Started:
    """What `run` exec'd in this process's place (nothing, when it did not start the command)."""

    argv: list[str] | None = None
    env: dict[str, str] | None = None


@pytest.fixture
def run_here(live: Live, site: str, monkeypatch, capsys) -> Callable[..., tuple[int, str, Started]]:
    """`run_here(*options, url=...)`: `sitesecrets run --service api OPTIONS -- true` in this
    process with a service token of `api` (binding API_KEY); (status, stderr, what was exec'd).
    exec itself would replace the test, so it is the one thing not real: it is recorded instead."""
    live.put_secret(site, "API_KEY", "k1")
    live.new_service(site, "api", None, [{"name": "API_KEY"}])
    token = live.mint("service", site, "api")
    started = Started()

    def execve(program: str, argv: list[str], env: dict[str, str]) -> None:
        started.argv, started.env = argv, env

    monkeypatch.setattr(os, "execve", execve)
    monkeypatch.setattr(run, "forbid_dumping", lambda: None)  # the test process stays debuggable
    monkeypatch.setattr(run, "restore_default_signals", lambda: None)  # pytest keeps Python's SIGPIPE

    def go(*options: str, url: str | None = None) -> tuple[int, str, Started]:
        monkeypatch.setenv("SITESECRETS_URL", url or live.url)
        monkeypatch.setenv("SITESECRETS_TOKEN", token)
        monkeypatch.setenv("SITESECRETS_SITE", site)
        capsys.readouterr()
        status = cli.main(["run", "--service", "api", *options, "--", "true"])
        return status, capsys.readouterr().err, started

    return go


def test_run_starts_the_command_when_the_server_answers(run_here):
    status, _, started = run_here()
    assert status == 0 and started.argv == ["true"] and started.env["API_KEY"] == "k1"


def test_run_against_a_server_that_stays_down_exits_75_within_the_budget_and_starts_nothing(run_here, stopped,
                                                                                            slept):
    status, said, started = run_here()
    assert status == TEMPORARY and started.argv is None
    assert "no server socket" in said and "not started" in said
    assert len(slept) >= 3 and sum(slept) <= retry.DEFAULT_BUDGET and said.count("trying again") == 1


def test_run_at_a_function_start_waits_for_a_server_restarting(live, site, run_here, stopped):
    stopped.restart_on_retry()
    status, said, started = run_here()
    assert status == 0, said
    assert started.env["API_KEY"] == "k1" and "trying again" in said
    assert live.service(site, "api")["loaded_at"] is not None


def test_run_whose_fetch_is_answered_503_waits_its_retry_after_and_starts(run_here, front, slept):
    front.unavailable(1, retry_after="2")
    status, said, started = run_here(url=front.url)
    assert status == 0, said
    assert started.argv == ["true"] and slept and min(slept) >= 2


def test_run_whose_load_cannot_be_recorded_for_now_tries_again_and_records_it_once_started(live, site, run_here,
                                                                                          front):
    front.unavailable(1, method="POST")
    status, said, started = run_here(url=front.url)
    assert status == 0, said
    assert [m for m, _, _ in front.requests] == ["GET", "POST", "POST"]
    assert live.service(site, "api")["loaded_at"] is not None


def test_run_whose_load_stays_unrecordable_exits_75_and_starts_nothing(live, site, run_here, front, monkeypatch):
    monkeypatch.setenv("SITESECRETS_RETRY_SECONDS", "0")
    front.unavailable(1, method="POST", retry_after=None)
    status, said, started = run_here(url=front.url)
    assert status == TEMPORARY and started.argv is None and "cannot record the load" in said
    assert live.service(site, "api")["loaded_at"] is None


def test_run_with_a_budget_that_is_not_a_number_of_seconds_is_a_usage_error(run_here, monkeypatch):
    monkeypatch.setenv("SITESECRETS_RETRY_SECONDS", "-1")
    with pytest.raises(SystemExit) as ended:  # argparse's usage error
        run_here()
    assert ended.value.code == USAGE


def test_run_of_a_service_the_server_does_not_know_exits_1(run_here):
    status, said, started = run_here("--service", "nope")
    assert status == REFUSED and started.argv is None


def test_the_readme_table_names_every_status_and_every_temporary_answer():
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("### Exit statuses and retries"):]
    table = table[:table.index("Before giving up")]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert {"0", "1", "2", "75"} <= set(rows)
    assert all(str(status) in rows["75"] for status in exitstatus.TEMPORARY_HTTP)
    assert retry.BUDGET_VAR in readme and f"default {retry.DEFAULT_BUDGET:g}" in readme


def test_https_to_a_server_that_speaks_plain_http_exits_1_at_once(sitesecrets, front, slept):
    """A wrong URL (https:// to an http port) is not a server restarting: no retry mends it."""
    status, said = sitesecrets("ls", url=front.url.replace("http://", "https://"))
    assert status == REFUSED and slept == []


def test_run_with_https_to_a_server_that_speaks_plain_http_exits_1_at_once(run_here, front, slept):
    status, said, started = run_here(url=front.url.replace("http://", "https://"))
    assert status == REFUSED and slept == [] and started.argv is None


def test_a_reveal_answered_503_is_tried_again_as_a_read(live, site, sitesecrets, front, slept):
    """`get` is a POST only because each reveal is audited: a refused one revealed nothing and
    recorded nothing, so asking again changes nothing but the one true audit event."""
    live.put_secret(site, "DB_PASSWORD", "s3cret")
    front.unavailable(1, method="POST")
    status, said = sitesecrets("get", "DB_PASSWORD", url=front.url)
    assert status == 0, said
    assert sitesecrets.stdout.rstrip("\n") == "s3cret"
    assert [m for m, _, _ in front.requests].count("POST") == 2
    assert [e["action"] for e in live.audit(site, action="secret.reveal")] == ["secret.reveal"]


def test_run_with_a_url_that_is_not_a_server_url_is_a_usage_error_as_for_every_command(run_here):
    status, said, started = run_here(url="ftp://example.org")
    assert status == USAGE and started.argv is None and "ftp://example.org" in said


def test_run_with_a_token_file_others_may_read_is_a_usage_error_as_for_every_command(run_here, tmp_path):
    exposed = tmp_path / "api.token"
    exposed.write_text("ss_" + "x" * 43 + "\n")
    exposed.chmod(0o644)
    status, said, started = run_here("--token-file", str(exposed))
    assert status == USAGE and started.argv is None and "chmod 600" in said


def test_run_asking_for_site_default_with_a_token_of_another_site_says_how_to_name_its_site(run_here):
    # a unit file copied with `--site default`: a service token of the customer's site never sees it
    status, said, started = run_here("--site", "default")
    assert status == REFUSED and started.argv is None
    assert "a token bound to a site sees only its own: leave out --site and SITESECRETS_SITE to use it" in said
    assert "is the one asked for when no --site" not in said  # it was asked for by --site
    assert said.rstrip().endswith("true was not started")
