"""Starting `sitesecrets`: one clear sentence for every start-up failure, `local` on an embedded
server, a light import; crashes print no locals and core dumps are off."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shared.models import Role
from tui import cli
from tui.ui.app import SiteSecretsApp
from tui.client import ServerUnreachable, SiteSecretsClient
from tui.credentials import resolve_token
from tui.settings import Settings
from tui_helpers import wait_until


def _exit_message(argv: list[str]) -> str:
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    return str(caught.value.code)


def test_bad_url_is_one_sentence():
    assert _exit_message(["--url", "ftp://x", "--token", "ss_t"]).startswith("sitesecrets: 'ftp://x' is not a server URL")


def test_plain_http_to_remote_host_refused_without_insecure():
    message = _exit_message(["--url", "http://example.com", "--token", "ss_t"])
    assert "plain http" in message and "--insecure" in message


def _start_failure(argv: list[str], capsys) -> tuple[int, str]:
    """(exit status, the last line of stderr) of a TUI that could not open: one sentence, as every
    command says it (a warning about `--token` may come before it)."""
    capsys.readouterr()
    return cli.main(argv), capsys.readouterr().err.splitlines(keepends=True)[-1]


def test_unreachable_server_is_one_sentence_and_exits_75_as_every_command_does(capsys):
    status, said = _start_failure(["--url", "http://127.0.0.1:9", "--token", "ss_t"], capsys)
    assert status == 75
    assert said.startswith("sitesecrets: Cannot reach the server at http://127.0.0.1:9 (") and said.count("\n") == 1


def test_missing_token_is_one_sentence(monkeypatch):
    monkeypatch.delenv("SITESECRETS_TOKEN", raising=False)
    assert "no token" in _exit_message([])


def test_rejected_token_is_one_sentence(secrets_server, capsys):
    assert _start_failure(["--url", secrets_server.url, "--token", "ss_not_a_real_token"], capsys) == \
        (1, "sitesecrets: the server rejected the token.\n")


def test_environment_supplies_url_token_and_site(monkeypatch):
    monkeypatch.setenv("SITESECRETS_URL", "https://secrets.example")
    monkeypatch.setenv("SITESECRETS_TOKEN", "ss_env")
    monkeypatch.setenv("SITESECRETS_SITE", "shop")
    args = cli.parse_args([])
    assert (args.url, cli.settings_from(args, args.url).site, args.command) == ("https://secrets.example", "shop", None)
    assert resolve_token(args.url, token=args.token, token_file=args.token_file) == "ss_env"
    monkeypatch.delenv("SITESECRETS_URL")
    assert cli.build_parser().parse_args([]).url == "http://127.0.0.1:8716"


@pytest.mark.parametrize("option", ["--reveal-seconds", "--clipboard-seconds", "--refresh-seconds"])
@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_seconds_that_are_no_duration_are_a_usage_error(option, value, capsys):
    """`--reveal-seconds nan` or `inf` would leave a revealed value on screen (or a copied one on the
    clipboard) for good; a negative one is no duration either."""
    for argv in ([option, value], ["local", option, value]):
        with pytest.raises(SystemExit) as exited:
            cli.build_parser().parse_args(argv)
        assert exited.value.code == 2
        assert option in capsys.readouterr().err
    assert cli.build_parser().parse_args([option, "0"]) and cli.build_parser().parse_args([option, "2.5"])


def test_local_initialises_data_dir_opens_tui_as_admin_and_stops_server(tmp_path, monkeypatch):
    opened = {}

    def fake_run_tui(client: SiteSecretsClient, settings: Settings) -> int:
        opened["identity"], opened["client"], opened["settings"] = client.whoami(), client, settings
        return 0

    monkeypatch.setattr(cli, "run_tui", fake_run_tui)
    data = tmp_path / "fresh"
    assert cli.main(["local", "--data-dir", str(data), "--reveal-seconds", "5"]) == 0
    assert opened["identity"].role == Role.admin and opened["settings"].reveal_seconds == 5
    assert (data / "secrets.db").exists()
    with pytest.raises(ServerUnreachable):
        SiteSecretsClient(opened["settings"].url, "t", timeout=2).health()


@pytest.mark.parametrize("exposed", ["master.key", "secrets.db"])
def test_local_refuses_an_exposed_key_or_database_in_one_sentence_with_exit_2(tmp_path, monkeypatch, capsys, exposed):
    """As `sitesecrets-server` refuses them: the operator's set-up to change, not a crash."""
    from server.datadir import init_data_dir

    monkeypatch.setattr(cli, "run_tui", lambda client, settings: pytest.fail("opened the TUI"))
    data = tmp_path / "data"
    init_data_dir(data, environ={})
    os.chmod(data / exposed, 0o640)
    assert cli.main(["local", "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sitesecrets local: ") and err.count("\n") == 1 and f"chmod 600 {data / exposed}" in err, err


def test_another_shell_reaches_the_local_server_as_the_help_screen_says(tmp_path, monkeypatch):
    """`sitesecrets local` runs its server only while the TUI does: meanwhile the URL and token
    file the help screen names let another shell's `sitesecrets` in."""
    seen = {}

    def another_shell(client: SiteSecretsClient, settings: Settings) -> int:
        env = dict(os.environ, SITESECRETS_URL=settings.url)
        env.pop("SITESECRETS_TOKEN", None)
        seen["ls"] = subprocess.run([sys.executable, "-m", "tui.cli", "--token-file", settings.local_token_file,
                                     "ls", "--json"], env=env, capture_output=True, text=True, timeout=60)
        return 0

    monkeypatch.setattr(cli, "run_tui", another_shell)
    assert cli.main(["local", "--data-dir", str(tmp_path / "data")]) == 0
    assert seen["ls"].returncode == 0, seen["ls"].stderr
    assert seen["ls"].stdout.strip() == "[]"


def test_cli_import_is_light_and_never_touches_server_or_textual():
    code = ("import sys, tui.cli; "
            "assert 'textual' not in sys.modules, 'textual'; assert 'server' not in sys.modules, 'server'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_start_up_failure_prints_no_traceback():
    result = subprocess.run([sys.executable, "-m", "tui.cli", "--url", "http://127.0.0.1:9"],
                            capture_output=True, text=True, env={**os.environ, "SITESECRETS_TOKEN": "ss_t"})
    assert result.returncode == 75 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_core_dumps_are_disabled():
    # the size limit, and the process not dumpable: a core_pattern pipe (ABRT) ignores the limit
    code = ("import ctypes, resource; from tui.crash import disable_core_dumps; disable_core_dumps(); "
            "print(resource.getrlimit(resource.RLIMIT_CORE), ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))")
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert output.strip() == "(0, 0) 0"


def test_local_holds_the_master_key_in_a_process_that_cannot_dump_core(tmp_path):
    # the embedded server loads the master key before the TUI starts: the process must not be
    # dumpable by then (no core file, as `sitesecrets-server` forbids, and no reading its memory)
    code = ("import ctypes, resource, sys; from pathlib import Path; from tui.local import run_local_tui; "
            "run_local_tui(Path(sys.argv[1]), lambda client, url, token_file: print("
            "resource.getrlimit(resource.RLIMIT_CORE), ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)) or 0)")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "data")], capture_output=True, text=True,
                            timeout=60, env={k: v for k, v in os.environ.items() if not k.startswith("SITESECRETS_")})
    assert result.stdout.strip() == "(0, 0) 0", result.stderr


class _Crashing(SiteSecretsApp):
    def action_crash(self) -> None:
        revealed_value = "crash-local-secret"  # a local a traceback with locals would print
        raise RuntimeError(f"boom after {len(revealed_value)} chars")


async def test_crash_report_has_no_locals_and_no_message(make_app, capsys):
    template = make_app()
    app = _Crashing(template.client, template.settings, template.identity)
    with pytest.raises(RuntimeError):
        async with app.run_test(size=(80, 24)) as pilot:
            app.call_later(app.run_action, "crash")
            await wait_until(pilot, lambda: app.return_code is not None, message="crashed")
    report = capsys.readouterr().err
    assert "RuntimeError" in report and "action_crash" in report
    assert "crash-local-secret" not in report and "revealed_value" not in report and "boom" not in report


def test_unknown_site_is_one_sentence(secrets_server, capsys):
    assert _start_failure(["--url", secrets_server.url, "--token", secrets_server.admin_token, "--site", "nope"],
                          capsys) == (1, "sitesecrets: there is no site 'nope' for this token; pick one with --site.\n")


# ------------------------------------------------------------ which site the TUI opens


def _opening(argv: list[str], token: str, monkeypatch):
    """The App `sitesecrets ARGV` would open for `token` (built, not run), on the module's server."""
    monkeypatch.delenv("SITESECRETS_SITE", raising=False)
    args = cli.parse_args(argv)
    client = SiteSecretsClient(args.url, token)
    try:
        return cli.build_app(client, cli.settings_from(args, client.url))
    finally:
        client.close()


def _site_token(admin, site: str) -> str:
    from shared.models import TokenCreate

    return admin.create_token(TokenCreate(name=f"admin-of-{site}", role=Role.admin, site=site)).token


def test_an_operator_token_opens_the_site_given_with_site(secrets_server, site, monkeypatch):
    app = _opening(["--url", secrets_server.url, "--site", site], secrets_server.admin_token, monkeypatch)
    assert app.site == site


def test_a_site_token_given_its_own_site_opens_it(secrets_server, admin, site, monkeypatch):
    app = _opening(["--url", secrets_server.url, "--site", site], _site_token(admin, site), monkeypatch)
    assert app.site == site


def test_a_site_token_given_no_site_opens_its_own(secrets_server, admin, site, monkeypatch):
    assert _opening(["--url", secrets_server.url], _site_token(admin, site), monkeypatch).site == site


def test_a_site_token_given_another_site_says_so_in_one_sentence_and_opens_nothing(secrets_server, admin, site,
                                                                                    monkeypatch, capsys):
    """An explicit --site is never swapped for the token's own behind the user's back."""
    admin.request("POST", "/v1/sites", None, json={"name": f"{site}-other"})
    monkeypatch.setenv("SITESECRETS_TOKEN", _site_token(admin, site))
    monkeypatch.setattr(SiteSecretsApp, "run", lambda self: pytest.fail("the TUI opened"))
    status, said = _start_failure(["--url", secrets_server.url, "--site", f"{site}-other"], capsys)
    assert status == 1
    assert said == (f"sitesecrets: this token is bound to site {site!r} and cannot open site {site + '-other'!r}; "
                    "leave out --site (and SITESECRETS_SITE) to open its own.\n")


def test_a_service_token_says_in_one_sentence_that_it_is_for_run_and_opens_nothing(secrets_server, admin, site,
                                                                                   monkeypatch, capsys):
    """A service token may read its service's environment and nothing else: a TUI opened with it
    would show every tab failing, and `r` failing again, for ever."""
    admin.request("POST", f"/v1/sites/{site}/services", None, json={"name": "api"})
    from shared.models import CreatedToken

    token = admin.request("POST", "/v1/tokens", CreatedToken,
                          json={"name": "api-runner", "role": "service", "site": site, "service": "api"}).token
    monkeypatch.setenv("SITESECRETS_TOKEN", token)
    monkeypatch.setattr(SiteSecretsApp, "run", lambda self: pytest.fail("the TUI opened"))
    status, said = _start_failure(["--url", secrets_server.url], capsys)
    assert status == 1
    assert said == ("sitesecrets: this is the service token of service 'api', which only gives that service its "
                    "secrets (`sitesecrets run --service api -- CMD`); open the TUI with an admin, editor or viewer "
                    "token.\n")


def test_an_empty_site_is_a_usage_error(secrets_server, monkeypatch, capsys):
    monkeypatch.setenv("SITESECRETS_TOKEN", secrets_server.admin_token)
    monkeypatch.setattr(SiteSecretsApp, "run", lambda self: pytest.fail("the TUI opened"))
    status, said = _start_failure(["--url", secrets_server.url, "--site", ""], capsys)
    assert status == 2 and said == "sitesecrets: the site name is empty (--site or SITESECRETS_SITE).\n"
