"""Rotation from the shell: `ls --due DAYS` and the ROTATION column, `set --rotate-every`, and
`set --generate`, which shows a random value once on stdout and sends it (or, for a typed secret,
only its password field as a `value_patch`) to a real server."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

import dbbackend
from cli_helpers import Live
from tui.generate import ALPHABET

DB_SCHEMA = {"type": "object", "required": ["host", "user", "password"], "properties": {
    "host": {"type": "string"}, "user": {"type": "string"},
    "password": {"type": "string", "writeOnly": True, "minLength": 40, "maxLength": 64}}}
OLD = "o" * 40
TWO_SECRETS = {"type": "object", "properties": {
    "password": {"type": "string", "format": "password"}, "api_key": {"type": "string", "writeOnly": True}}}


def backdate_value(live: Live, site: str, name: str, days: int) -> None:
    """Make the secret's current value `days` old, as if it had been set then."""
    then = (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    dbbackend.rows(live.data_dir, "UPDATE secrets SET value_updated_at = ?, updated_at = ? WHERE name = ? "
                   "AND site_id = (SELECT id FROM sites WHERE name = ?)", then, then, name, site)


def with_policy(live: Live, site: str, name: str, days: int | None, age: int = 0) -> None:
    body = {"name": name, "value": "v"} | ({"rotate_every_days": days} if days else {})
    live.ok("POST", f"/v1/sites/{site}/secrets", 201, json=body)
    if age:
        backdate_value(live, site, name, age)


def typed_secret(live: Live, site: str, schema: dict, value: dict, name: str = "DB") -> None:
    live.ok("POST", f"/v1/sites/{site}/secret-types", 201, json={"key": "db", "name": "Database", "schema": schema})
    live.ok("POST", f"/v1/sites/{site}/secrets", 201, json={"name": name, "value": json.dumps(value), "type": "db"})



# ------------------------------------------------------------------ ls --due and the ROTATION column


def test_ls_due_lists_only_secrets_due_within_the_days(live: Live, cli, site):
    with_policy(live, site, "OVERDUE_KEY", 30, age=40)
    with_policy(live, site, "SOON_KEY", 30, age=25)
    with_policy(live, site, "LATER_KEY", 30)
    with_policy(live, site, "NO_POLICY", None)
    names = lambda *args: sorted(s["name"] for s in json.loads(cli("ls", *args, site=site).stdout))  # noqa: E731
    assert names("--due", "0") == ["OVERDUE_KEY"]
    assert names("--due", "7") == ["OVERDUE_KEY", "SOON_KEY"]
    assert names("--due", "60") == ["LATER_KEY", "OVERDUE_KEY", "SOON_KEY"]
    assert names() == ["LATER_KEY", "NO_POLICY", "OVERDUE_KEY", "SOON_KEY"]


def test_ls_due_with_all_and_with_app_keeps_to_the_scope_asked(live: Live, cli, site):
    live.new_app(site, "web")
    with_policy(live, site, "SITE_DUE", 1, age=5)
    live.ok("POST", f"/v1/sites/{site}/apps/web/secrets", 201, json={"name": "APP_DUE", "value": "v", "rotate_every_days": 1})
    backdate_value(live, site, "APP_DUE", 5)
    everything = json.loads(cli("ls", "--all", "--due", "0", site=site).stdout)
    assert sorted((s["name"], s["app"]) for s in everything) == [("APP_DUE", "web"), ("SITE_DUE", None)]
    assert [s["name"] for s in json.loads(cli("ls", "--app", "web", "--due", "0", site=site).stdout)] == ["APP_DUE"]


def test_ls_json_carries_the_rotation_fields(live: Live, cli, site):
    with_policy(live, site, "OLD", 30, age=40)
    [secret] = json.loads(cli("ls", "--json", site=site).stdout)
    assert secret["rotate_every_days"] == 30 and secret["rotation_overdue"] is True
    assert secret["rotation_due_at"].endswith("Z")


def test_ls_on_a_terminal_shows_due_and_overdue(live: Live, terminal, site):
    with_policy(live, site, "A_OVERDUE", 30, age=40)
    with_policy(live, site, "B_SOON", 30, age=27)
    with_policy(live, site, "C_NONE", None)
    result = terminal("ls", site=site)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "ROTATION" in lines[0].split()
    assert "OVERDUE" in lines[1]
    assert "due in 3 d" in lines[2] or "due in 2 d" in lines[2]  # 2 only in the seconds after midnight UTC
    column = lines[0].index("ROTATION")
    assert lines[3][column] == "-"


@pytest.mark.parametrize("days", ["-1", "3651", "soon"])
def test_ls_due_out_of_range_is_a_usage_error(cli, site, days):
    result = cli("ls", "--due", days, site=site)
    assert result.returncode == 2 and result.stdout == "" and "--due" in result.stderr


# ------------------------------------------------------------------ set --rotate-every and --keep-value


def test_set_rotate_every_on_create_sets_the_policy(live: Live, cli, site):
    assert cli("set", "KEY", "--rotate-every", "90", input="v", site=site).returncode == 0
    assert live.secret(site, "KEY").json()["rotate_every_days"] == 90


def test_set_keep_value_changes_only_the_policy(live: Live, cli, site):
    live.put_secret(site, "KEY", "kept")
    result = cli("set", "KEY", "--keep-value", "--rotate-every", "30", site=site)
    assert result.returncode == 0, result.stderr
    secret = live.secret(site, "KEY").json()
    assert (secret["version"], secret["rotate_every_days"]) == (1, 30)
    assert live.reveal(site, "KEY") == "kept"


def test_set_rotate_every_off_removes_the_policy(live: Live, cli, site):
    with_policy(live, site, "KEY", 30)
    assert cli("set", "KEY", "--keep-value", "--rotate-every", "off", site=site).returncode == 0
    assert live.secret(site, "KEY").json()["rotate_every_days"] is None


def test_set_keep_value_of_a_missing_secret_is_refused(live: Live, cli, site):
    result = cli("set", "NEW", "--keep-value", "--rotate-every", "30", site=site)
    assert result.returncode == 1 and "does not exist" in result.stderr
    assert live.secret(site, "NEW").status_code == 404


@pytest.mark.parametrize("days", ["0", "3651", "-5", "weekly", "1.5"])
def test_set_rotate_every_out_of_range_is_a_usage_error(cli, site, days):
    result = cli("set", "KEY", "--rotate-every", days, input="v", site=site)
    assert result.returncode == 2 and "--rotate-every" in result.stderr


# ------------------------------------------------------------------ set --generate


def test_set_generate_creates_a_secret_and_shows_the_value_once_on_stdout(live: Live, cli, site):
    result = cli("set", "API_KEY", "--generate", site=site)
    assert result.returncode == 0, result.stderr
    value = result.stdout.removesuffix("\n")
    assert result.stdout == value + "\n" and len(value) == 32 and set(value) <= set(ALPHABET)
    assert live.reveal(site, "API_KEY") == value
    assert value not in result.stderr and "created API_KEY (version 1)" in result.stderr
    assert "provider" in result.stderr
    assert value not in json.dumps(live.audit(site))


def test_set_generate_updates_an_existing_secret_with_a_new_random_value(live: Live, cli, site):
    live.put_secret(site, "API_KEY", "old")
    first = cli("set", "API_KEY", "--generate", "--length", "48", site=site)
    second = cli("set", "API_KEY", "--generate", "--length", "48", site=site)
    assert first.returncode == second.returncode == 0
    assert len(second.stdout.strip()) == 48 and first.stdout != second.stdout
    assert live.reveal(site, "API_KEY") == second.stdout.strip()
    assert live.secret(site, "API_KEY").json()["version"] == 3


def test_set_generate_never_reads_stdin(live: Live, cli, site):
    result = cli("set", "API_KEY", "--generate", input="not this", site=site)
    assert result.returncode == 0
    assert live.reveal(site, "API_KEY") == result.stdout.strip() != "not this"


def test_set_generate_with_rotate_every_restarts_the_period(live: Live, cli, site):
    with_policy(live, site, "API_KEY", 30, age=40)
    assert cli("set", "API_KEY", "--generate", site=site).returncode == 0
    assert live.secret(site, "API_KEY").json()["rotation_overdue"] is False
    assert json.loads(cli("ls", "--due", "0", site=site).stdout) == []


def test_set_generate_of_a_typed_secret_patches_only_its_password_field(live: Live, cli, site):
    typed_secret(live, site, DB_SCHEMA, {"host": "db.local", "user": "shop", "password": OLD})
    result = cli("set", "DB", "--generate", site=site)
    assert result.returncode == 0, result.stderr
    password = result.stdout.strip()
    assert len(password) == 40 and set(password) <= set(ALPHABET)  # the schema's minLength
    assert "DB.password" in result.stderr
    updates = [e for e in live.audit(site, action="secret.update") if e["target"].endswith("DB")]
    assert updates and updates[0]["details"].get("patched") is True
    assert live.audit(site, action="secret.reveal") == []  # the other fields were neither read nor resent
    assert json.loads(live.reveal(site, "DB")) == {"host": "db.local", "user": "shop", "password": password}


def test_set_generate_field_picks_one_of_several_secret_fields(live: Live, cli, site):
    typed_secret(live, site, TWO_SECRETS, {"password": "p", "api_key": "k"})
    ambiguous = cli("set", "DB", "--generate", site=site)
    assert ambiguous.returncode == 2 and "--field" in ambiguous.stderr and ambiguous.stdout == ""
    result = cli("set", "DB", "--generate", "--field", "api_key", "--length", "20", site=site)
    assert result.returncode == 0, result.stderr
    assert json.loads(live.reveal(site, "DB")) == {"password": "p", "api_key": result.stdout.strip()}


def test_set_generate_field_that_is_not_a_string_field_is_a_usage_error(live: Live, cli, site):
    typed_secret(live, site, DB_SCHEMA, {"host": "h", "user": "u", "password": OLD})
    result = cli("set", "DB", "--generate", "--field", "port", site=site)
    assert result.returncode == 2 and "port" in result.stderr
    assert live.secret(site, "DB").json()["version"] == 1


def test_set_generate_length_the_schema_refuses_is_refused_and_nothing_is_shown(live: Live, cli, site):
    typed_secret(live, site, DB_SCHEMA, {"host": "h", "user": "u", "password": OLD})
    result = cli("set", "DB", "--generate", "--length", "8", site=site)
    assert result.returncode == 1 and result.stdout == ""
    assert json.loads(live.reveal(site, "DB"))["password"] == OLD


def test_set_generate_field_of_an_untyped_secret_is_a_usage_error(live: Live, cli, site):
    live.put_secret(site, "PLAIN", "v")
    result = cli("set", "PLAIN", "--generate", "--field", "password", site=site)
    assert result.returncode == 2 and "type" in result.stderr
    assert live.reveal(site, "PLAIN") == "v"


def test_set_generate_over_the_sites_value_limit_is_refused_before_sending(live: Live, cli):
    site = live.new_site("small", max_value_bytes=16)
    result = cli("set", "K", "--generate", site=site)
    assert result.returncode == 1 and result.stdout == "" and "16" in result.stderr
    assert live.secret(site, "K").status_code == 404


def test_set_generate_by_a_viewer_is_refused_and_shows_nothing(live: Live, cli, site):
    result = cli("set", "K", "--generate", site=site, token=live.mint("viewer", site))
    assert result.returncode == 1 and result.stdout == ""


@pytest.mark.parametrize("argv", [
    ["--generate", "--from-file", "/dev/null"],
    ["--generate", "--keep-value"],
    ["--generate", "--type", "db"],
    ["--generate", "--length", "0"],
    ["--generate", "--length", "5000"],
    ["--length", "20"],
    ["--field", "password"],
    ["--keep-value", "--from-file", "/dev/null"],
    ["--keep-value"],
], ids=" ".join)
def test_set_option_combinations_that_make_no_sense_are_usage_errors(live: Live, cli, site, argv):
    result = cli("set", "K", *argv, input="v", site=site)
    assert result.returncode == 2 and result.stderr.strip() and result.stdout == ""
    assert live.secret(site, "K").status_code == 404


def test_set_of_a_new_value_names_the_services_to_restart(live: Live, cli, site):
    live.put_secret(site, "API_KEY", "old")
    live.new_service(site, "billing", None, [{"name": "API_KEY"}])
    live.client(live.mint("service", site, "billing")).get(f"/v1/sites/{site}/services/billing/env").raise_for_status()
    rotated = cli("set", "API_KEY", "--generate", site=site)
    assert rotated.returncode == 0, rotated.stderr
    assert "services to restart: billing" in rotated.stderr
    same = cli("set", "API_KEY", input=rotated.stdout.strip(), site=site)  # the value it already holds
    assert same.returncode == 0 and "restart" not in same.stderr


# ------------------------------------------------------------------ set --patch: one field of a typed value

def test_set_patch_changes_the_fields_given_and_keeps_the_others(live: Live, cli, site):
    """Rotating a database password from the shell, without revealing or retyping the rest."""
    typed_secret(live, site, DB_SCHEMA, {"host": "db", "user": "app", "password": OLD})
    new = "n" * 40
    result = cli("set", "DB", "--patch", input=json.dumps({"password": new}), site=site)
    assert result.returncode == 0, result.stderr
    assert json.loads(live.reveal(site, "DB")) == {"host": "db", "user": "app", "password": new}
    assert new not in result.stderr + result.stdout


def test_set_patch_that_breaks_the_type_changes_nothing_and_names_the_field(live: Live, cli, site):
    typed_secret(live, site, DB_SCHEMA, {"host": "db", "user": "app", "password": OLD})
    result = cli("set", "DB", "--patch", input=json.dumps({"password": "short-secretish"}), site=site)
    assert result.returncode == 1 and "/password" in result.stderr and "short-secretish" not in result.stderr
    assert json.loads(live.reveal(site, "DB"))["password"] == OLD


@pytest.mark.parametrize("patch", ["not json secretish", "[1, 2]", '"text"'])
def test_set_patch_that_is_not_a_json_object_is_a_usage_error_without_echoing_it(live: Live, cli, site, patch):
    typed_secret(live, site, DB_SCHEMA, {"host": "db", "user": "app", "password": OLD})
    result = cli("set", "DB", "--patch", input=patch, site=site)
    assert result.returncode == 2 and "JSON object" in result.stderr and "secretish" not in result.stderr
    assert json.loads(live.reveal(site, "DB"))["password"] == OLD


def test_set_patch_of_a_secret_that_does_not_exist_creates_nothing(live: Live, cli, site):
    result = cli("set", "NOPE", "--patch", input='{"password": "x"}', site=site)
    assert result.returncode == 1 and "--patch" in result.stderr
    assert live.secret(site, "NOPE").status_code == 404
