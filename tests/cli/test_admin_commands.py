"""`sitesecrets apps | services | token`: what the API offers admins, from the shell."""

from __future__ import annotations

import json
import sys

from cli_helpers import Live, base_env, run_text


def as_json(result) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --- apps ----------------------------------------------------------------------------------------

def test_apps_create_ls_and_set(live: Live, cli, site):
    assert cli("apps", "create", "web", site=site).returncode == 0
    assert cli("apps", "create", "jobs", "--site-secrets", "no", site=site).returncode == 0
    listed = {a["name"]: a["site_secrets"] for a in as_json(cli("apps", "ls", "--json", site=site))}
    assert listed == {"web": True, "jobs": False}

    changed = cli("apps", "set", "jobs", "--site-secrets", "yes", site=site)
    assert changed.returncode == 0, changed.stderr
    assert {a["name"]: a["site_secrets"] for a in live.ok("GET", f"/v1/sites/{site}/apps")["items"]}["jobs"] is True


def test_apps_ls_on_a_terminal_shows_when_as_every_other_table_does(live: Live, terminal, site):
    """`2026-12-03 17:22`, as `ls`, `versions`, `token ls` and `services ls` show a time; the table
    printed the datetime's own form, `2026-12-03 17:22:24+00:00`."""
    live.new_app(site, "web")
    created = live.ok("GET", f"/v1/sites/{site}/apps/web")["created_at"]  # 2026-12-03T17:22:24Z
    shown = terminal("apps", "ls", site=site)
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if line.startswith("web "))
    assert row.split()[-2:] == [created[:10], created[11:16]], row


def test_apps_create_of_a_taken_name_exits_1(live: Live, cli, site):
    live.new_app(site, "web")
    again = cli("apps", "create", "web", site=site)
    assert again.returncode == 1 and "web" in again.stderr


def test_apps_set_of_an_unknown_app_exits_1(cli, site):
    result = cli("apps", "set", "ghost", "--site-secrets", "no", site=site)
    assert result.returncode == 1 and "ghost" in result.stderr


def test_apps_create_by_an_editor_is_refused(live: Live, cli, site):
    result = cli("apps", "create", "web", site=site, token=live.mint("editor", site))
    assert result.returncode == 1 and result.stderr.strip()
    assert live.ok("GET", f"/v1/sites/{site}/apps")["items"] == []


# --- services ------------------------------------------------------------------------------------

def test_services_create_show_ls_bind_unbind_rm(live: Live, cli, site):
    live.new_app(site, "web")
    live.put_secret(site, "SITE_KEY", "s")
    live.put_secret(site, "APP_KEY", "a", app="web")
    created = cli("services", "create", "api", "--app", "web", "--secret", "web/APP_KEY", site=site)
    assert created.returncode == 0, created.stderr

    shown = as_json(cli("services", "show", "api", "--json", site=site))
    assert (shown["name"], shown["app"], shown["secrets"]) == ("api", "web", [{"name": "APP_KEY", "app": "web"}])

    assert cli("services", "bind", "api", "SITE_KEY", site=site).returncode == 0
    assert live.service(site, "api")["secrets"] == [{"name": "APP_KEY", "app": "web"}, {"name": "SITE_KEY", "app": None}]
    assert cli("services", "bind", "api", "SITE_KEY", site=site).returncode == 0  # binding twice is a no-op
    assert len(live.service(site, "api")["secrets"]) == 2

    assert cli("services", "unbind", "api", "web/APP_KEY", site=site).returncode == 0
    assert live.service(site, "api")["secrets"] == [{"name": "SITE_KEY", "app": None}]

    listed = as_json(cli("services", "ls", "--json", site=site))
    assert [s["name"] for s in listed] == ["api"]

    refused = cli("services", "rm", "api", site=site)  # no terminal to ask at: its tokens would go unasked
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    assert [s["name"] for s in live.ok("GET", f"/v1/sites/{site}/services")["items"]] == ["api"]
    assert cli("services", "rm", "api", "--yes", site=site).returncode == 0
    assert live.ok("GET", f"/v1/sites/{site}/services")["items"] == []


def test_services_unbind_of_a_secret_not_bound_exits_1(live: Live, cli, site):
    live.put_secret(site, "KEY", "x")
    live.new_service(site, "api", None, [{"name": "KEY"}])
    result = cli("services", "unbind", "api", "OTHER", site=site)
    assert result.returncode == 1 and "OTHER" in result.stderr
    assert live.service(site, "api")["secrets"] == [{"name": "KEY", "app": None}]


def test_services_bind_of_a_site_secret_refused_where_the_app_disallows_it(live: Live, cli, site):
    live.new_app(site, "locked", site_secrets=False)
    live.put_secret(site, "SITE_KEY", "s")
    live.new_service(site, "api", "locked", [])
    result = cli("services", "bind", "api", "SITE_KEY", site=site)
    assert result.returncode == 1 and result.stderr.strip()
    assert live.service(site, "api")["secrets"] == []


def test_services_show_marks_restart_needed_with_the_stale_secrets(live: Live, cli, site):
    live.put_secret(site, "ROTATED", "v1")
    live.put_secret(site, "STEADY", "v1")
    live.new_service(site, "api", None, [{"name": "ROTATED"}, {"name": "STEADY"}])
    live.ok("GET", f"/v1/sites/{site}/services/api/env")
    live.ok("PATCH", f"/v1/sites/{site}/secrets/ROTATED", json={"value": "v2"})
    service = as_json(cli("services", "show", "api", "--json", site=site))
    assert service["restart_required"] is True
    assert service["stale"] == [{"name": "ROTATED", "app": None}]


def test_services_show_json_is_the_one_service_as_an_object_and_ls_a_list(live: Live, cli, site):
    """`show` of one thing prints that thing, as `kubectl get KIND NAME -o json` does; a list is
    what `ls` prints. The object is the API's Service, as `GET .../services/NAME` answers it."""
    live.put_secret(site, "KEY", "x")
    live.new_service(site, "api", None, [{"name": "KEY"}])
    shown = as_json(cli("services", "show", "api", "--json", site=site))
    assert shown == live.service(site, "api")
    assert as_json(cli("services", "ls", "--json", site=site)) == [shown]


def test_services_show_of_an_unknown_service_exits_1(cli, site):
    result = cli("services", "show", "ghost", site=site)
    assert result.returncode == 1 and "ghost" in result.stderr


# --- tokens --------------------------------------------------------------------------------------

def test_token_create_prints_the_token_once_and_it_runs_its_service(live: Live, cli, site):
    live.put_secret(site, "KEY", "the value")
    live.new_service(site, "api", None, [{"name": "KEY"}])
    created = cli("token", "create", "--name", "ci", "--role", "service", "--service", "api", site=site)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and token.startswith("ss_")
    assert token not in created.stderr

    env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=token)
    ran = run_text([sys.executable, "-m", "tui.cli", "run", "--service", "api", "--site", site, "--",
                    sys.executable, "-c", "import os; print(os.environ['KEY'])"], env=env)
    assert (ran.returncode, ran.stdout) == (0, "the value\n")


def test_token_ls_lists_tokens_without_the_tokens(live: Live, cli, site):
    token = live.ok("POST", "/v1/tokens", 201, json={"name": "listed", "role": "viewer", "site": site})["token"]
    listed = as_json(cli("token", "ls", "--json"))
    mine = [t for t in listed if t["name"] == "listed"]
    assert len(mine) == 1 and mine[0]["role"] == "viewer" and mine[0]["site"] == site
    assert token not in json.dumps(listed) and "token" not in mine[0]


def test_token_ls_on_a_terminal_lines_up_columns_after_a_wide_character_name(live: Live, site):
    """Padded by characters, a CJK name (two cells a character) pushed its row's later columns right."""
    from rich.cells import cell_len

    from cli_helpers import run_on_terminal

    for name in ("運用チーム", "ops-team"):
        live.ok("POST", "/v1/tokens", 201, json={"name": name, "role": "viewer", "site": site})
    env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=live.admin_token)
    shown = run_on_terminal([sys.executable, "-m", "tui.cli", "token", "ls", "--site", site], env)
    assert shown.returncode == 0, shown.stderr
    header, *rows = shown.stdout.splitlines()
    wide, narrow = (next(row for row in rows if name in row) for name in ("運用チーム", "ops-team"))
    column = header.index("ROLE")
    assert cell_len(wide[:wide.index("viewer")]) == cell_len(narrow[:narrow.index("viewer")]) == column


def test_token_create_says_when_a_token_made_by_an_expiring_one_expires(live: Live, cli, site):
    """A token made by one that expires expires with it (the server's rule); nothing on the command
    line says so, so the command does, on stderr beside the token's id."""
    contractor = live.ok("POST", "/v1/tokens", 201, json={"name": "contractor", "role": "admin", "site": site,
                                                          "expires_in_days": 7})
    made = cli("token", "create", "--name", "deploy", "--role", "editor", "--bind-site", site, token=contractor["token"])
    assert made.returncode == 0, made.stderr
    assert f"expires {contractor['expires_at'][:10]}" in made.stderr and "with the token that created it" in made.stderr
    asked = cli("token", "create", "--name", "short", "--role", "viewer", "--bind-site", site, "--expires-in-days", "1")
    assert "expires " in asked.stderr and "with the token that created it" not in asked.stderr
    lasting = cli("token", "create", "--name", "lasting", "--role", "viewer", "--bind-site", site)
    assert "expires" not in lasting.stderr


def test_site_bound_token_sees_its_site_only(live: Live, cli, site):
    token = cli("token", "create", "--name", "bound", "--role", "viewer", "--bind-site", site).stdout.strip()
    other = live.new_site("other")
    assert cli("ls", "--json", site=site, token=token).returncode == 0
    elsewhere = cli("ls", "--json", site=other, token=token)
    assert elsewhere.returncode == 1


def test_revoked_token_is_refused(live: Live, cli, site):
    created = live.ok("POST", "/v1/tokens", 201, json={"name": "doomed", "role": "viewer", "site": site})
    assert cli("ls", site=site, token=created["token"]).returncode == 0
    revoked = cli("token", "revoke", created["id"])
    assert revoked.returncode == 0, revoked.stderr
    refused = cli("ls", site=site, token=created["token"])
    assert refused.returncode == 1 and refused.stdout == ""
    assert created["id"] not in [t["id"] for t in live.ok("GET", "/v1/tokens")["items"]]


def test_token_revoke_of_an_unknown_id_exits_1(cli):
    result = cli("token", "revoke", "tok_does_not_exist")
    assert result.returncode == 1 and result.stderr.strip()


def test_token_revoke_given_the_token_instead_of_its_id_sends_nothing_and_says_where_the_id_is(live: Live, cli, site):
    created = live.ok("POST", "/v1/tokens", 201, json={"name": "pasted", "role": "viewer", "site": site})
    result = cli("token", "revoke", created["token"])
    assert result.returncode == 2, result.stderr
    assert "a token, not a token id (tok_...)" in result.stderr and "sitesecrets token ls" in result.stderr
    assert created["token"] not in result.stderr
    assert cli("ls", site=site, token=created["token"]).returncode == 0  # nothing was revoked either


def test_token_commands_by_an_editor_are_refused(live: Live, cli, site):
    editor = live.mint("editor", site)
    assert cli("token", "ls", token=editor).returncode == 1
    made = cli("token", "create", "--name", "x", "--role", "admin", token=editor)
    assert made.returncode == 1 and made.stdout == ""


def test_services_create_refuses_a_bad_name_on_the_client_before_connecting():
    env = base_env(SITESECRETS_URL="http://127.0.0.1:9", SITESECRETS_TOKEN="ss_unused")  # nothing listens there
    result = run_text([sys.executable, "-m", "tui.cli", "services", "create", "Not A Name"], env=env)
    assert result.returncode == 1 and "/name:" in result.stderr and "cannot reach" not in result.stderr.lower()
