"""`sitesecrets sites ls | create | set | rm` and `token ... --site`: the operator's console from the shell.
The `sites` commands name their site as their argument (`sites set SITE`), never with `--site`."""

from __future__ import annotations

import argparse
import itertools
import os
import json
import sys
from typing import Iterator

import pytest

from cli_helpers import REPO, Live, base_env, http_client, start_embedded
from pty_process import PtyProcess
from tui import cli as sitesecrets_cli
from tui.sitelimits import LIMIT_FIELDS

_names = itertools.count()


def fresh_name() -> str:
    return f"op-{next(_names)}"


def as_json(result) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_sites_ls_shows_usage_against_limits(live: Live, cli, site):
    live.put_secret(site, "KEY", "héllo")
    [listed] = [s for s in as_json(cli("sites", "ls", "--json")) if s["name"] == site]
    assert listed["usage"] == {"secrets": 1, "value_bytes": 6, "services": 0, "tokens": 0, "trash": 0, "trash_value_bytes": 0,
                               "apps": 0, "types": 0}
    assert listed["limits"]["max_secrets"] == 100


def test_sites_ls_table_on_a_terminal_has_the_usage_columns(live: Live, cli, site):
    """Every count a limit caps is shown against its limit, so an operator sees which tenant is
    near which cap."""
    from cli_helpers import run_on_terminal

    live.put_secret(site, "KEY", "v")
    live.ok("PATCH", f"/v1/sites/{site}", json={"limits": {"max_apps": 2}})
    live.ok("POST", f"/v1/sites/{site}/apps", 201, json={"name": "web"})
    env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=live.admin_token)
    shown = run_on_terminal([sys.executable, "-m", "tui.cli", "sites", "ls"], env)
    assert shown.returncode == 0, shown.stderr
    header, *rows = shown.stdout.splitlines()
    assert header.split() == ["NAME", "SECRETS", "APPS", "SERVICES", "TYPES", "TOKENS", "FULLEST", "VALUES", "MAX",
                              "VALUE", "VERSIONS", "TRASH", "DAYS"]
    [row] = [r for r in rows if r.split()[0] == site]
    assert row.split()[1:9] == ["1/100", "1/2", "0/500", "0/100", "0/1000", "apps", "50%", "1"]


def test_a_full_site_says_which_limit_and_the_command_that_raises_it(live: Live, cli, site):
    live.ok("PATCH", f"/v1/sites/{site}", json={"limits": {"max_secrets": 1}})
    live.put_secret(site, "FIRST", "v")
    refused = cli("set", "SECOND", input="v", site=site)
    assert refused.returncode == 1
    assert refused.stderr == (f"sitesecrets: site {site!r} already holds its limit of secrets: 1. "
                              "The hosting operator raises it: sitesecrets sites set SITE --max-secrets N.\n")


def test_sites_create_prints_its_first_admin_token_once(live: Live, cli):
    name = fresh_name()
    made = cli("sites", "create", name, "--admin-token")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert made.stdout == token + "\n" and token.startswith("ss_") and token not in made.stderr
    whoami = live.client(token).get("/v1/whoami").json()
    assert (whoami["role"], whoami["site"], whoami["name"]) == ("admin", name, f"{name}-admin")


def test_sites_create_without_a_token_prints_no_token(live: Live, cli):
    name = fresh_name()
    made = cli("sites", "create", name)
    assert made.returncode == 0 and made.stdout == "" and name in made.stderr
    assert live.ok("GET", f"/v1/sites/{name}")["usage"]["tokens"] == 0


def test_sites_create_json_holds_the_site_and_the_token(live: Live, cli):
    name = fresh_name()
    made = as_json(cli("sites", "create", name, "--admin-token", "--token-name", "first", "--json"))
    assert made["site"]["name"] == name and made["token"]["name"] == "first" and made["token"]["token"].startswith("ss_")


def test_sites_create_of_a_taken_name_exits_1_and_mints_nothing(live: Live, cli, site):
    before = len(live.ok("GET", "/v1/tokens")["items"])
    made = cli("sites", "create", site, "--admin-token")
    assert made.returncode == 1 and made.stdout == "" and site in made.stderr
    assert len(live.ok("GET", "/v1/tokens")["items"]) == before


def test_sites_create_of_a_bad_name_is_refused_before_connecting(cli):
    made = cli("sites", "create", "Not A Name", "--admin-token", url="http://127.0.0.1:9")
    assert made.returncode == 1 and "/name:" in made.stderr and "cannot reach" not in made.stderr.lower()


def test_sites_set_changes_only_the_named_limits(live: Live, cli, site):
    changed = as_json(cli("sites", "set", site, "--max-secrets", "7", "--trash-days", "0", "--json"))
    assert changed["limits"]["max_secrets"] == 7 and changed["limits"]["trash_days"] == 0
    assert changed["limits"]["max_versions"] == 10
    back = as_json(cli("sites", "set", site, "--max-secrets", "default", "--json"))
    assert back["limits"]["max_secrets"] == 100 and back["limits"]["trash_days"] == 0


def test_sites_set_takes_every_limit_the_api_takes(live: Live, cli, site):
    """The operator sets a site's audit retention (README, "Retention") from the shell as every
    other limit: `sites set` offered every field of `LimitsUpdate` but that one."""
    from shared.models import LimitsUpdate

    usage = cli("sites", "set", "--help").stdout
    assert [key for key in LimitsUpdate.model_fields if f"--{key.replace('_', '-')}" not in usage] == []
    changed = as_json(cli("sites", "set", site, "--audit-retention-days", "30", "--json"))
    assert changed["limits"]["audit_retention_days"] == 30
    back = as_json(cli("sites", "set", site, "--audit-retention-days", "default", "--json"))
    assert back["limits"]["audit_retention_days"] == 400


def test_sites_set_out_of_range_exits_1_and_changes_nothing(live: Live, cli, site):
    result = cli("sites", "set", site, "--max-versions", "0")
    assert result.returncode == 1 and "max_versions" in result.stderr
    assert live.ok("GET", f"/v1/sites/{site}")["limits"]["max_versions"] == 10


def test_sites_rm_of_a_site_with_secrets_exits_1_and_keeps_it(live: Live, cli, site):
    live.put_secret(site, "KEY", "v")
    result = cli("sites", "rm", site)
    assert result.returncode == 1 and "secrets" in result.stderr
    assert live.ok("GET", f"/v1/sites/{site}")["usage"]["secrets"] == 1


def test_sites_rm_of_a_site_not_empty_says_in_one_sentence_that_cascade_deletes_it_all(live: Live, cli, site):
    """The operator who meant it learns the way forward from the refusal, not from --help."""
    live.put_secret(site, "KEY", "v")
    result = cli("sites", "rm", site)
    assert result.returncode == 1
    [said] = result.stderr.strip().splitlines()
    assert said == (f"sitesecrets: site '{site}' still holds secrets; nothing was deleted: "
                    f"`sitesecrets sites rm {site} --cascade` deletes it with everything in it")


def test_sites_rm_cascade_needs_yes_when_not_at_a_terminal(live: Live, cli, site):
    live.put_secret(site, "KEY", "v")
    result = cli("sites", "rm", site, "--cascade")
    assert result.returncode == 2 and "--yes" in result.stderr
    assert live.ok("GET", f"/v1/sites/{site}")["usage"]["secrets"] == 1


def test_sites_rm_cascade_yes_deletes_everything_and_revokes_tokens(live: Live, cli, site):
    live.put_secret(site, "KEY", "v")
    bound = live.mint("viewer", site)
    result = cli("sites", "rm", site, "--cascade", "--yes")
    assert result.returncode == 0, result.stderr
    assert live.admin.get(f"/v1/sites/{site}").status_code == 404
    assert live.client(bound).get("/v1/whoami").status_code == 401


def rm_at_a_terminal(live: Live, site: str, typed: str) -> PtyProcess:
    env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=live.admin_token)
    tty = PtyProcess([sys.executable, "-m", "tui.cli", "sites", "rm", site, "--cascade"], env, str(REPO))
    tty.wait_for("Type the site's name to go on: ")
    tty.type(typed + "\n")
    return tty


def test_sites_rm_cascade_at_a_terminal_goes_ahead_once_the_name_is_typed(live: Live, site):
    live.put_secret(site, "KEY", "v")
    tty = rm_at_a_terminal(live, site, site)
    assert tty.finish() == 0
    assert live.admin.get(f"/v1/sites/{site}").status_code == 404


def test_sites_rm_cascade_at_a_terminal_keeps_the_site_for_another_name(live: Live, site):
    live.put_secret(site, "KEY", "v")
    tty = rm_at_a_terminal(live, site, "something-else")
    assert tty.finish() == 1 and "did not match" in tty.output
    assert live.ok("GET", f"/v1/sites/{site}")["usage"]["secrets"] == 1


def test_sites_commands_of_a_site_bound_admin_are_refused(live: Live, cli, site):
    admin = live.mint("admin", site)
    assert cli("sites", "create", fresh_name(), token=admin).returncode == 1
    assert cli("sites", "set", site, "--max-secrets", "5", token=admin).returncode == 1
    assert cli("sites", "rm", site, "--cascade", "--yes", token=admin).returncode == 1
    assert live.ok("GET", f"/v1/sites/{site}")["limits"]["max_secrets"] == 100


def test_token_ls_site_lists_that_sites_tokens_only(live: Live, cli, site):
    other = live.new_site("other")
    live.mint("viewer", site)
    live.mint("editor", other)
    listed = as_json(cli("token", "ls", "--site", site, "--json"))
    assert [(t["role"], t["site"]) for t in listed] == [("viewer", site)]


def test_token_ls_of_an_unknown_site_exits_1(cli):
    result = cli("token", "ls", "--site", "no-such-site")
    assert result.returncode == 1 and "no-such-site" in result.stderr


def test_token_create_site_binds_the_token(live: Live, cli, site):
    made = cli("token", "create", "--name", "bound", "--role", "editor", "--site", site)
    assert made.returncode == 0, made.stderr
    assert live.client(made.stdout.strip()).get("/v1/whoami").json()["site"] == site


def test_token_create_json_holds_the_token_once(live: Live, cli, site):
    made = as_json(cli("token", "create", "--name", "j", "--role", "viewer", "--site", site, "--json"))
    assert made["site"] == site and made["token"].startswith("ss_")


@pytest.fixture
def sitesecrets(live: Live, monkeypatch, capsys):
    """`sitesecrets(*args)`: the command run in this process as the operator would run it;
    (exit status, stdout, stderr)."""

    def run(*args: str, token: str | None = None) -> tuple[int, str, str]:
        monkeypatch.setenv("SITESECRETS_URL", live.url)
        monkeypatch.setenv("SITESECRETS_TOKEN", token or live.admin_token)
        monkeypatch.delenv("SITESECRETS_SITE", raising=False)
        capsys.readouterr()
        try:
            status = sitesecrets_cli.main(list(args))
        except SystemExit as ended:  # argparse: --help, and its own usage errors
            status = ended.code
        printed = capsys.readouterr()
        return status, printed.out, printed.err

    return run


@pytest.mark.parametrize("action", ["create", "set", "rm"])
def test_sites_commands_say_in_their_usage_that_the_site_is_their_argument(sitesecrets, action):
    status, out, _ = sitesecrets("sites", action, "--help")
    assert status == 0
    usage = out.split("\n\n")[0]
    assert usage.rstrip().endswith("SITE") and "--site" not in usage


@pytest.mark.parametrize(("action", "options"), [
    ("create", "[--admin-token] [--token-name LABEL] [--expires-in-days N] [--json]"),
    ("set", " ".join(f"[{field.flag} N|default]" for field in LIMIT_FIELDS) + " [--json]"),
    ("rm", "[--cascade] [--yes]"),
], ids=["create", "set", "rm"])
def test_sites_commands_usage_names_the_site_as_needed(sitesecrets, monkeypatch, action, options):
    """SITE, not `[SITE]`: argparse may do without it only because a --site before the command can
    stand for it. The same usage under --help and under a usage error."""
    monkeypatch.setenv("COLUMNS", "400")
    usage = (f"usage: sitesecrets sites {action} [-h] [--url URL] [--token-file PATH] [--token TOKEN] [--insecure] "
             f"[--proxy URL] {options} SITE")
    assert sitesecrets("sites", action, "--help")[1].split("\n")[0] == usage
    assert sitesecrets("sites", action, "--site", "shop")[2].split("\n")[0] == usage


def test_every_command_formats_its_help_with_argparse_public_formatters():
    """A private argparse method overridden may change in any Python release."""
    public = {argparse.HelpFormatter, argparse.RawDescriptionHelpFormatter, argparse.RawTextHelpFormatter,
              argparse.ArgumentDefaultsHelpFormatter, argparse.MetavarTypeHelpFormatter}

    def parsers(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action.choices, dict):  # a command's subcommands
                for sub in action.choices.values():
                    yield from parsers(sub)

    used = {parser.prog: parser.formatter_class for parser in parsers(sitesecrets_cli.build_parser())}
    assert {prog: formatter for prog, formatter in used.items() if formatter not in public} == {}


@pytest.mark.parametrize("argv", [["set", "--max-secrets", "5"], ["rm"], ["create"]], ids=" ".join)
def test_sites_commands_given_site_as_an_option_say_it_is_their_argument_and_change_nothing(live: Live, sitesecrets, site, argv):
    action, *rest = argv
    status, out, err = sitesecrets("sites", action, "--site", site, *rest)
    assert status == 2 and out == ""
    assert f"sitesecrets sites {action}: error:" in err and f"sites {action} SITE" in err
    assert live.ok("GET", f"/v1/sites/{site}")["limits"]["max_secrets"] == 100


def test_sites_ls_given_a_site_says_it_lists_every_site(sitesecrets, site):
    status, out, err = sitesecrets("sites", "ls", "--site", site)
    assert status == 2 and out == "" and "lists every site" in err


def named_token(live: Live, name: str, site: str | None) -> str:
    """A viewer token called `name` (of `site`, or of none); its id."""
    return live.ok("POST", "/v1/tokens", 201, json={"name": name, "role": "viewer", **({"site": site} if site else {})})["id"]


def token_ids(live: Live) -> set[str]:
    return {t["id"] for t in live.ok("GET", "/v1/tokens")["items"]}


def test_token_revoke_by_name_within_a_site_revokes_that_sites_token_alone(live: Live, sitesecrets, site):
    other = live.new_site("other")
    mine, theirs = named_token(live, "deploy", site), named_token(live, "deploy", other)
    status, _, err = sitesecrets("token", "revoke", "deploy", "--site", site)
    assert status == 0, err
    assert f"revoked {mine}" in err
    assert mine not in token_ids(live) and theirs in token_ids(live)


def test_token_revoke_of_a_name_two_tokens_hold_names_their_ids_and_revokes_neither(live: Live, sitesecrets, site):
    first, second = named_token(live, "twin", site), named_token(live, "twin", site)
    status, _, err = sitesecrets("token", "revoke", "twin", "--site", site)
    assert status == 1 and first in err and second in err and "nothing was revoked" in err
    assert {first, second} <= token_ids(live)


def test_token_revoke_of_a_name_no_token_holds_exits_1(sitesecrets, site):
    status, _, err = sitesecrets("token", "revoke", "nobody", "--site", site)
    assert status == 1 and "no token named 'nobody'" in err and site in err


def test_token_revoke_of_an_id_with_another_site_revokes_nothing(live: Live, sitesecrets, site):
    other = live.new_site("other")
    theirs = named_token(live, "elsewhere", other)
    status, _, err = sitesecrets("token", "revoke", theirs, "--site", site)
    assert status == 1 and f"not bound to site {site!r}" in err and "nothing was revoked" in err
    assert theirs in token_ids(live)


def test_token_revoke_of_an_id_with_its_site_revokes_it(live: Live, sitesecrets, site):
    mine = named_token(live, "mine", site)
    status, _, err = sitesecrets("token", "revoke", mine, "--site", site)
    assert status == 0, err
    assert mine not in token_ids(live)


def test_a_site_admin_who_names_no_site_works_on_its_own_site(live: Live, sitesecrets, site):
    # the README's customer admin: the token `sites create --admin-token` printed, then `sitesecrets ls`
    live.put_secret(site, "THEIRS", "v")
    status, out, err = sitesecrets("ls", "--json", token=live.mint("admin", site))
    assert status == 0, err
    assert [s["name"] for s in json.loads(out)] == ["THEIRS"]


def test_a_site_admin_who_names_another_site_is_refused_as_before(live: Live, sitesecrets, site):
    other = live.new_site("other")
    status, out, _ = sitesecrets("ls", "--site", other, token=live.mint("admin", site))
    assert status == 1 and out == ""


def test_an_operator_token_that_names_no_site_works_on_the_default_site(live: Live, sitesecrets):
    name = f"OPERATORS_{next(_names)}"
    live.put_secret("default", name, "v")
    status, out, err = sitesecrets("ls", "--json")
    assert status == 0, err
    assert name in [s["name"] for s in json.loads(out)]


@pytest.fixture
def no_default_site(tmp_path) -> Iterator[Live]:
    """A server of its own whose site 'default' has been deleted, as an operator may have done."""
    server = start_embedded(tmp_path / "data", tmp_path / "api.sock")
    admin = http_client(server.url, headers={"Authorization": f"Bearer {server.admin_token}"})
    live = Live(server, admin, tmp_path / "data", tmp_path / "api.sock")
    live.ok("DELETE", "/v1/sites/default", 204)
    live.new_site("shop")
    yield live
    admin.close()
    server.stop()


@pytest.mark.parametrize("command", [["ls"], ["get", "KEY"], ["services", "ls"], []],
                         ids=lambda c: c[0] if c else "tui")
def test_an_operator_token_that_names_no_site_where_there_is_no_default_is_told_to_name_one(
        no_default_site: Live, monkeypatch, capsys, command):
    """A token bound to no site (the operator's) has no site of its own: a command naming none asks
    for site 'default', and where there is none, the operator is told to name a site and how to
    list them, rather than only that 'default' does not exist. The TUI says the same."""
    monkeypatch.setenv("SITESECRETS_URL", no_default_site.url)
    monkeypatch.setenv("SITESECRETS_TOKEN", no_default_site.server.admin_token)
    monkeypatch.delenv("SITESECRETS_SITE", raising=False)
    assert sitesecrets_cli.main(command) == 1
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err == ("sitesecrets: site 'default' does not exist; a token bound to no site (an operator's) "
                           "must name the site: --site NAME or SITESECRETS_SITE (`sitesecrets sites ls` lists them)\n")


def test_an_operator_running_a_service_without_a_site_where_there_is_no_default_is_told_to_name_one(
        no_default_site: Live, monkeypatch, capsys):
    """`run` asks for the service of site 'default' too when neither the command nor the token
    names a site; it says the same as every other command, and starts nothing."""
    from tui import run

    monkeypatch.setattr(os, "execve", lambda *args: pytest.fail("started the command"))
    monkeypatch.setattr(run, "forbid_dumping", lambda: None)  # the test process stays debuggable
    monkeypatch.setattr(run, "restore_default_signals", lambda: None)  # pytest keeps Python's SIGPIPE
    monkeypatch.setenv("SITESECRETS_URL", no_default_site.url)
    monkeypatch.setenv("SITESECRETS_TOKEN", no_default_site.server.admin_token)
    monkeypatch.delenv("SITESECRETS_SITE", raising=False)
    assert sitesecrets_cli.main(["run", "--service", "api", "--", "true"]) == 1
    err = capsys.readouterr().err
    assert ("site 'default' does not exist; a token bound to no site (an operator's) must name the site: "
            "--site NAME or SITESECRETS_SITE (`sitesecrets sites ls` lists them)") in err, err
    assert err.rstrip().endswith("true was not started")


def test_an_operator_token_that_names_site_default_is_told_it_does_not_exist_and_nothing_of_operators(
        no_default_site: Live, monkeypatch, capsys):
    monkeypatch.setenv("SITESECRETS_URL", no_default_site.url)
    monkeypatch.setenv("SITESECRETS_TOKEN", no_default_site.server.admin_token)
    assert sitesecrets_cli.main(["ls", "--site", "default"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sitesecrets: site 'default' does not exist") and "operator" not in err


def test_after_login_a_site_admin_works_on_its_own_site_without_asking_whose_token_it_is(
        live: Live, site, tmp_path, monkeypatch, capsys):
    from tui.client import SiteSecretsClient
    from tui.credentials import store_token

    live.put_secret(site, "THEIRS", "v")
    store_token(str(tmp_path / "sitesecrets"), live.url, live.mint("admin", site), site=site)  # as login does
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("SITESECRETS_URL", live.url)
    for unset in ("SITESECRETS_TOKEN", "SITESECRETS_SITE"):
        monkeypatch.delenv(unset, raising=False)
    monkeypatch.setattr(SiteSecretsClient, "whoami", lambda self: pytest.fail("asked whoami: login recorded the site"))
    assert sitesecrets_cli.main(["ls", "--json"]) == 0
    assert [s["name"] for s in json.loads(capsys.readouterr().out)] == ["THEIRS"]


@pytest.mark.parametrize("name", ["NO_SUCH_SECRET_HERE", "N" * 5000], ids=["missing", "longer than any"])
def test_a_missing_secret_of_the_default_site_says_nothing_of_sites(live: Live, sitesecrets, name):
    status, _, err = sitesecrets("get", name)
    assert status == 1 and "--site" not in err


# ------------------------------------------------------------ `sitesecrets --site S COMMAND`: the site before the command


def test_a_site_before_the_command_is_the_commands_site(live: Live, sitesecrets, site):
    live.put_secret(site, "HERE", "v")
    status, out, err = sitesecrets("--site", site, "ls", "--json")
    assert status == 0, err
    assert [s["name"] for s in json.loads(out)] == ["HERE"]


def test_a_site_before_token_ls_lists_that_sites_tokens_alone(live: Live, sitesecrets, site):
    mine, theirs = named_token(live, "mine", site), named_token(live, "theirs", live.new_site("other"))
    status, out, err = sitesecrets("--site", site, "token", "ls", "--json")
    assert status == 0, err
    listed = {t["id"] for t in json.loads(out)}
    assert mine in listed and theirs not in listed


def test_a_site_before_a_sites_command_is_its_site_argument(live: Live, sitesecrets, site):
    status, _, err = sitesecrets("--site", site, "sites", "set", "--max-secrets", "5")
    assert status == 0, err
    assert live.ok("GET", f"/v1/sites/{site}")["limits"]["max_secrets"] == 5


def test_a_sites_command_with_no_site_anywhere_says_it_is_missing(sitesecrets):
    status, out, err = sitesecrets("sites", "set", "--max-secrets", "5")
    assert status == 2 and out == "" and "SITE" in err


@pytest.mark.parametrize("after", [["ls", "--site", "{other}"], ["token", "ls", "--site", "{other}"],
                                   ["sites", "set", "{other}", "--max-secrets", "5"]], ids=lambda a: " ".join(a[:-1]))
def test_a_site_before_the_command_and_another_after_it_is_a_usage_error_that_changes_nothing(
        live: Live, sitesecrets, site, after):
    other = live.new_site("other")
    status, out, err = sitesecrets("--site", site, *(part.format(other=other) for part in after))
    assert (status, out) == (2, "")
    assert err == (f"sitesecrets: --site {site!r} before the command and {other!r} after it name different sites; "
                   "name one\n")
    assert live.ok("GET", f"/v1/sites/{other}")["limits"]["max_secrets"] == 100


def test_the_same_site_before_and_after_the_command_is_fine(live: Live, sitesecrets, site):
    status, _, err = sitesecrets("--site", site, "ls", "--site", site)
    assert status == 0, err


@pytest.mark.parametrize("command", [["sites", "ls"], ["completion", "bash"], ["logout"]], ids=" ".join)
def test_a_site_before_a_command_that_takes_none_is_a_usage_error(sitesecrets, site, command):
    status, out, err = sitesecrets("--site", site, *command)
    assert (status, out) == (2, "")
    assert err == f"sitesecrets: {' '.join(command[:2] if command[0] == 'sites' else command[:1])} takes no site; " \
                  "leave out --site\n"


def test_a_site_before_local_is_the_site_it_opens(sitesecrets, tmp_path, monkeypatch):
    opened = {}

    def fake_run_tui(client, settings) -> int:
        opened["site"] = settings.site
        return 0

    monkeypatch.setattr(sitesecrets_cli, "run_tui", fake_run_tui)
    status, _, err = sitesecrets("--site", "shop", "local", "--data-dir", str(tmp_path / "data"))
    assert status == 0, err
    assert opened["site"] == "shop"
