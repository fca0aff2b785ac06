"""`sitesecrets versions | get --version | rollback | trash ls|restore|purge`: a secret's kept values
and the site's trash from the shell, against a real server, with the exit statuses scripts rely on."""

from __future__ import annotations

import json
import re
import sys

from cli_helpers import REPO, Live, base_env
from pty_process import PtyProcess

ACTIVE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
HOSTILE_NAME = "EVIL\x1b]0;owned\x07\x9b2J\u202e"


def with_history(live: Live, site: str, name: str, *values: str, app: str | None = None) -> None:
    """`name` created with the first value and updated with each of the others."""
    live.put_secret(site, name, values[0], app=app)
    scope = f"/v1/sites/{site}" + (f"/apps/{app}" if app else "")
    for value in values[1:]:
        live.ok("PATCH", f"{scope}/secrets/{name}", json={"value": value})



# ------------------------------------------------------------------ versions


def test_versions_json_lists_kept_versions_newest_first_without_values(live: Live, cli, site):
    with_history(live, site, "API_KEY", "first-value", "second-value", "first-value")
    result = cli("versions", "API_KEY", "--json", site=site)
    assert result.returncode == 0, result.stderr
    versions = json.loads(result.stdout)
    assert [(v["version"], v["current"]) for v in versions] == [(3, True), (2, False), (1, False)]
    assert versions[0]["fingerprint"] == versions[2]["fingerprint"] != versions[1]["fingerprint"]
    assert "first-value" not in result.stdout and "second-value" not in result.stdout


def test_versions_on_a_terminal_marks_the_current_one_and_equal_values(live: Live, terminal, site):
    with_history(live, site, "API_KEY", "same", "other", "same")
    result = terminal("versions", "API_KEY", site=site)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["VERSION", "CURRENT", "CREATED", "BY", "TYPE", "VALUE"]
    v3, v2, v1 = lines[1:]
    assert v3.split()[:2] == ["3", "*"] and v3.endswith("same as v1")
    assert v1.split()[0] == "1" and "*" not in v1 and v1.endswith("same as v3")
    assert "same as" not in v2
    assert "same" not in result.stdout.replace("same as", "")  # no value, only fingerprints compared


def test_versions_of_an_app_secret(live: Live, cli, site):
    live.new_app(site, "web")
    with_history(live, site, "K", "a", "b", app="web")
    result = cli("versions", "K", "--app", "web", site=site)
    assert [v["version"] for v in json.loads(result.stdout)] == [2, 1]
    assert cli("versions", "K", site=site).returncode == 1  # not at site level


def test_versions_of_a_missing_secret_exits_1(cli, site):
    result = cli("versions", "NOPE", site=site)
    assert result.returncode == 1 and "NOPE" in result.stderr and result.stdout == ""


def test_hostile_names_reach_stderr_with_nothing_a_terminal_acts_on(cli, site):
    for args in (["versions", HOSTILE_NAME], ["versions", "K", "--app", HOSTILE_NAME], ["rollback", HOSTILE_NAME, "--to", "1"],
                 ["trash", "restore", HOSTILE_NAME], ["trash", "purge", HOSTILE_NAME, "--yes"]):
        result = cli(*args, site=site)
        assert result.returncode == 1 and result.stderr.strip(), args
        assert not ACTIVE.search(result.stderr + result.stdout), args


# ------------------------------------------------------------------ get --version


def test_get_version_prints_an_older_value_and_is_audited_with_it(live: Live, cli, site):
    with_history(live, site, "TOKEN", "old value\n", "new value")
    result = cli("get", "TOKEN", "--version", "1", site=site)
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("old value\n", "")
    reveals = [e for e in live.audit(site, action="secret.reveal") if e["target"].endswith("TOKEN")]
    assert len(reveals) == 1 and "1" in json.dumps(reveals[0].get("details"))


def test_get_version_of_a_version_not_kept_exits_1(live: Live, cli, site):
    live.put_secret(site, "TOKEN", "only")
    result = cli("get", "TOKEN", "--version", "7", site=site)
    assert result.returncode == 1 and result.stdout == "" and result.stderr.strip()


def test_get_version_on_a_terminal_spells_out_control_sequences(live: Live, terminal, site):
    with_history(live, site, "EVIL", "start\x1b]0;owned\x07\x9b2J end", "clean")
    result = terminal("get", "EVIL", "--version", "1", site=site)
    assert result.returncode == 0, result.stderr
    assert not ACTIVE.search(result.stdout) and "\\x1b]0;owned" in result.stdout


# ------------------------------------------------------------------ rollback


def test_rollback_makes_a_new_version_with_the_old_value(live: Live, cli, site):
    with_history(live, site, "API_KEY", "good", "broken")
    result = cli("rollback", "API_KEY", "--to", "1", site=site)
    assert result.returncode == 0, result.stderr
    assert "version 3" in result.stderr and result.stdout == ""
    assert live.reveal(site, "API_KEY") == "good"
    assert live.secret(site, "API_KEY").json()["version"] == 3


def test_rollback_names_the_services_that_now_need_a_restart(live: Live, cli, site):
    with_history(live, site, "API_KEY", "good", "broken")
    live.new_service(site, "billing", None, [{"name": "API_KEY"}])
    live.new_service(site, "mailer", None, [])
    service_token = live.mint("service", site, "billing")
    live.client(service_token).get(f"/v1/sites/{site}/services/billing/env").raise_for_status()  # billing loaded
    result = cli("rollback", "API_KEY", "--to", "1", site=site)
    assert result.returncode == 0, result.stderr
    assert "restart" in result.stderr and "billing" in result.stderr and "mailer" not in result.stderr
    assert live.service(site, "billing")["restart_required"] is True


def test_rollback_to_the_current_value_changes_nothing_and_says_so(live: Live, cli, site):
    with_history(live, site, "API_KEY", "same", "other", "same")
    result = cli("rollback", "API_KEY", "--to", "1", site=site)
    assert result.returncode == 0, result.stderr
    assert "nothing changed" in result.stderr
    assert live.secret(site, "API_KEY").json()["version"] == 3


def test_rollback_with_a_stale_expected_version_is_refused(live: Live, cli, site):
    with_history(live, site, "API_KEY", "good", "broken")
    result = cli("rollback", "API_KEY", "--to", "1", "--expected-version", "1", site=site)
    assert result.returncode == 1 and "version" in result.stderr.lower()
    assert live.reveal(site, "API_KEY") == "broken"


def test_rollback_with_the_current_expected_version_goes_ahead(live: Live, cli, site):
    with_history(live, site, "API_KEY", "good", "broken")
    assert cli("rollback", "API_KEY", "--to", "1", "--expected-version", "2", site=site).returncode == 0
    assert live.reveal(site, "API_KEY") == "good"


def test_rollback_to_a_version_not_kept_exits_1_and_changes_nothing(live: Live, cli, site):
    with_history(live, site, "API_KEY", "good", "broken")
    result = cli("rollback", "API_KEY", "--to", "9", site=site)
    assert result.returncode == 1 and result.stderr.strip()
    assert live.secret(site, "API_KEY").json()["version"] == 2


def test_rollback_in_an_app_scope(live: Live, cli, site):
    live.new_app(site, "web")
    with_history(live, site, "K", "good", "broken", app="web")
    assert cli("rollback", "K", "--app", "web", "--to", "1", site=site).returncode == 0
    assert live.reveal(site, "K", app="web") == "good"


def test_rollback_by_a_viewer_is_refused(live: Live, cli, site):
    with_history(live, site, "API_KEY", "good", "broken")
    result = cli("rollback", "API_KEY", "--to", "1", site=site, token=live.mint("viewer", site))
    assert result.returncode == 1
    assert live.reveal(site, "API_KEY") == "broken"


# ------------------------------------------------------------------ trash


def test_rm_moves_to_the_trash_and_says_how_to_restore(live: Live, cli, site):
    live.put_secret(site, "GONE", "x")
    result = cli("rm", "GONE", "--yes", site=site)
    assert result.returncode == 0, result.stderr
    assert "trash" in result.stderr and "trash restore" in result.stderr


def test_rm_where_the_trash_is_off_deletes_for_good_and_says_nothing_of_a_trash(live: Live, cli):
    site = live.new_site("notrash", trash_days=0)
    live.put_secret(site, "GONE", "x")
    result = cli("rm", "GONE", "--yes", site=site)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "deleted GONE\n"
    assert json.loads(cli("trash", "ls", site=site).stdout) == []


def test_trash_ls_json_lists_deleted_secrets_of_every_scope(live: Live, cli, site):
    live.new_app(site, "web")
    live.put_secret(site, "SITE_ONE", "secret-one")
    live.put_secret(site, "APP_ONE", "secret-two", app="web")
    assert cli("rm", "SITE_ONE", "--yes", site=site).returncode == 0
    assert cli("rm", "APP_ONE", "--app", "web", "--yes", site=site).returncode == 0
    result = cli("trash", "ls", "--json", site=site)
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    assert sorted((t["name"], t["app"]) for t in items) == [("APP_ONE", "web"), ("SITE_ONE", None)]
    assert {"deleted_at", "deleted_by", "purge_at", "version"} <= set(items[0])
    assert "secret-one" not in result.stdout and "secret-two" not in result.stdout


def test_trash_ls_on_a_terminal_is_a_table(live: Live, terminal, site):
    live.put_secret(site, "GONE", "x")
    live.ok("DELETE", f"/v1/sites/{site}/secrets/GONE", 204)
    result = terminal("trash", "ls", site=site)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == ["NAME", "SCOPE", "VERSION", "DELETED", "BY", "PURGED"]
    assert row.split()[:3] == ["GONE", "site", "1"]


def test_trash_ls_of_an_empty_trash_is_an_empty_list(cli, site):
    result = cli("trash", "ls", site=site)
    assert (result.returncode, json.loads(result.stdout)) == (0, [])


def test_trash_restore_brings_the_secret_back_with_its_versions(live: Live, cli, site):
    with_history(live, site, "BACK", "v1", "v2")
    assert cli("rm", "BACK", "--yes", site=site).returncode == 0
    result = cli("trash", "restore", "BACK", site=site)
    assert result.returncode == 0, result.stderr
    assert "restored BACK (version 2)" in result.stderr
    assert live.reveal(site, "BACK") == "v2"
    assert json.loads(cli("trash", "ls", site=site).stdout) == []


def test_trash_restore_in_an_app_scope(live: Live, cli, site):
    live.new_app(site, "web")
    live.put_secret(site, "K", "app value", app="web")
    assert cli("rm", "K", "--app", "web", "--yes", site=site).returncode == 0
    assert cli("trash", "restore", "K", site=site).returncode == 1  # not in the site level's trash
    assert cli("trash", "restore", "K", "--app", "web", site=site).returncode == 0
    assert live.reveal(site, "K", app="web") == "app value"


def test_trash_restore_of_a_name_taken_again_is_refused(live: Live, cli, site):
    live.put_secret(site, "TAKEN", "old")
    assert cli("rm", "TAKEN", "--yes", site=site).returncode == 0
    live.put_secret(site, "TAKEN", "new")
    result = cli("trash", "restore", "TAKEN", site=site)
    assert result.returncode == 1 and result.stderr.strip()
    assert live.reveal(site, "TAKEN") == "new"


def test_trash_restore_of_a_name_not_in_the_trash_exits_1(cli, site):
    result = cli("trash", "restore", "NOPE", site=site)
    assert result.returncode == 1 and "NOPE" in result.stderr


def test_trash_purge_with_yes_wipes_the_entry(live: Live, cli, site):
    live.put_secret(site, "WIPED", "x")
    assert cli("rm", "WIPED", "--yes", site=site).returncode == 0
    result = cli("trash", "purge", "WIPED", "--yes", site=site)
    assert result.returncode == 0, result.stderr
    assert json.loads(cli("trash", "ls", site=site).stdout) == []
    assert [e["action"] for e in live.audit(site, action="secret.purge")] == ["secret.purge"]


def test_trash_purge_without_yes_off_a_terminal_asks_for_it_and_purges_nothing(live: Live, cli, site):
    live.put_secret(site, "KEPT", "x")
    assert cli("rm", "KEPT", "--yes", site=site).returncode == 0
    result = cli("trash", "purge", "KEPT", site=site)
    assert result.returncode == 2 and "--yes" in result.stderr
    assert [t["name"] for t in json.loads(cli("trash", "ls", site=site).stdout)] == ["KEPT"]


def purge_at_terminal(live: Live, site: str, answer: str) -> tuple[int, str]:
    env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=live.admin_token, SITESECRETS_SITE=site)
    tty = PtyProcess([sys.executable, "-m", "tui.cli", "trash", "purge", "ASKED"], env, str(REPO))
    tty.wait_for("[y/N] ")
    tty.type(answer + "\n")
    return tty.finish(), tty.output


def test_trash_purge_at_a_terminal_asks_and_no_keeps_the_entry(live: Live, cli, site):
    live.put_secret(site, "ASKED", "x")
    assert cli("rm", "ASKED", "--yes", site=site).returncode == 0
    status, output = purge_at_terminal(live, site, "n")
    assert status == 1 and "ASKED" in output and "nothing was purged" in output
    assert [t["name"] for t in json.loads(cli("trash", "ls", site=site).stdout)] == ["ASKED"]


def test_trash_purge_at_a_terminal_asks_and_yes_purges(live: Live, cli, site):
    live.put_secret(site, "ASKED", "x")
    assert cli("rm", "ASKED", "--yes", site=site).returncode == 0
    status, output = purge_at_terminal(live, site, "y")
    assert status == 0, output
    assert json.loads(cli("trash", "ls", site=site).stdout) == []


def test_trash_purge_by_an_editor_is_refused(live: Live, cli, site):
    live.put_secret(site, "KEPT", "x")
    assert cli("rm", "KEPT", "--yes", site=site).returncode == 0
    result = cli("trash", "purge", "KEPT", "--yes", site=site, token=live.mint("editor", site))
    assert result.returncode == 1 and result.stderr.strip()
    assert [t["name"] for t in json.loads(cli("trash", "ls", site=site).stdout)] == ["KEPT"]


def test_trash_purge_question_spells_out_a_hostile_name(live: Live, site):
    env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=live.admin_token, SITESECRETS_SITE=site)
    tty = PtyProcess([sys.executable, "-m", "tui.cli", "trash", "purge", HOSTILE_NAME], env, str(REPO))
    tty.wait_for("[y/N] ")
    tty.type("n\n")
    assert tty.finish() == 1
    assert "\\x1b]0;owned\\x07\\x9b2J\\u202e" in tty.output
    assert not ACTIVE.search(tty.output.replace("\r", "").replace("\n", ""))
