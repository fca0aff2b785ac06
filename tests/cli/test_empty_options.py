"""An option given empty is a mistake, never a request for the default: `--site "$CUSTOMER"` with
CUSTOMER unset must not act on the site SITESECRETS_SITE or `default` names, and `--url "$URL"`
must not quietly talk to another server. Each is refused with one sentence (exit 2) and changes
nothing; a real server on a unix socket holds what must stay as it was."""

from __future__ import annotations

import sys

from cli_helpers import Live, base_env, run_text

EMPTY_SITE = "sitesecrets: the site name is empty (--site or SITESECRETS_SITE); nothing was done\n"


def test_an_empty_site_option_does_not_fall_back_to_the_environments_site(live: Live, cli, site):
    live.put_secret(site, "KEY", "keep me")
    result = cli("rm", "KEY", "--yes", "--site", "", site=site)  # SITESECRETS_SITE names `site`
    assert (result.returncode, result.stderr) == (2, EMPTY_SITE)
    assert live.reveal(site, "KEY") == "keep me"
    before = cli("--site", "", "import", "-", "--overwrite", site=site, input="KEY=replaced\n")
    assert (before.returncode, before.stderr) == (2, EMPTY_SITE)
    assert live.reveal(site, "KEY") == "keep me"


def test_an_empty_site_variable_is_named_as_the_mistake(live: Live, cli, site):
    result = cli("ls", env={"SITESECRETS_SITE": ""})
    assert (result.returncode, result.stderr, result.stdout) == (2, EMPTY_SITE, "")


def test_run_with_an_empty_site_starts_nothing(live: Live, site, tmp_path):
    live.put_secret(site, "API_KEY", "value")
    live.new_service(site, "api", None, [{"name": "API_KEY"}])
    token = live.mint("service", site, "api")
    marker = tmp_path / "started"
    env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=token, SITESECRETS_SITE=site)
    result = run_text([sys.executable, "-m", "tui.cli", "run", "--site", "", "--service", "api", "--",
                       "touch", str(marker)], env=env)
    assert result.returncode == 2
    assert "the site name is empty (--site or SITESECRETS_SITE)" in result.stderr
    assert not marker.exists()


def test_an_empty_url_option_does_not_fall_back_to_the_environments_server(live: Live, cli, site):
    live.put_secret(site, "KEY", "keep me")
    result = cli("rm", "KEY", "--yes", "--url", "", site=site)  # SITESECRETS_URL names the live server
    assert result.returncode == 2
    assert "'' is not a server URL" in result.stderr
    assert live.reveal(site, "KEY") == "keep me"


def test_an_empty_app_or_service_is_named_as_the_mistake(live: Live, cli, site):
    live.new_app(site, "web")
    live.put_secret(site, "KEY", "site level")
    live.new_service(site, "api", None, [{"name": "KEY"}])
    for args, option in ((["rm", "KEY", "--yes", "--app", ""], "app"), (["get", "KEY", "--app", ""], "app"),
                         (["import", "-", "--overwrite", "--app", ""], "app"), (["export", "--service", ""], "service")):
        result = cli(*args, site=site, input="KEY=x\n")
        assert (result.returncode, result.stdout) == (2, ""), args
        assert result.stderr == f"sitesecrets: the {option} name is empty (--{option}); nothing was done\n", args
    assert live.reveal(site, "KEY") == "site level"


def test_run_with_an_empty_service_starts_nothing(live: Live, site, tmp_path):
    marker = tmp_path / "started"
    env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=live.admin_token, SITESECRETS_SITE=site)
    result = run_text([sys.executable, "-m", "tui.cli", "run", "--service", "", "--", "touch", str(marker)], env=env)
    assert result.returncode == 2 and "the service name is empty (--service)" in result.stderr
    assert not marker.exists()
