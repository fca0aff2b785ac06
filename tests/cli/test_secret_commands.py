"""`sitesecrets ls | get | set | rm`: secrets from the shell, with the exit statuses scripts rely on."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cli_helpers import REPO, Live, RecordingProxy, base_env


def test_set_reads_stdin_creates_then_updates(live: Live, cli, site):
    created = cli("set", "API_KEY", input="first value", site=site)
    assert created.returncode == 0, created.stderr
    assert "version 1" in created.stderr and created.stdout == ""
    updated = cli("set", "API_KEY", input="second value", site=site)
    assert updated.returncode == 0, updated.stderr
    assert "version 2" in updated.stderr
    assert live.secret(site, "API_KEY").json()["version"] == 2
    assert live.reveal(site, "API_KEY") == "second value"


def test_set_keeps_the_value_byte_for_byte(live: Live, cli, site):
    value = "  spaced \"quoted\" 'single' $HOME é ✓\nsecond line\n"
    assert cli("set", "EXACT", input=value, site=site).returncode == 0
    assert live.reveal(site, "EXACT") == value


def test_set_reads_the_value_from_a_file(live: Live, cli, site, tmp_path):
    path = tmp_path / "cert.pem"
    path.write_text("-----BEGIN-----\nabc\n-----END-----\n", encoding="utf-8")
    result = cli("set", "TLS_CERT", "--from-file", str(path), "--description", "the cert", site=site)
    assert result.returncode == 0, result.stderr
    assert live.reveal(site, "TLS_CERT") == path.read_text(encoding="utf-8")
    assert live.secret(site, "TLS_CERT").json()["description"] == "the cert"


def test_set_of_a_missing_file_is_a_usage_error(cli, site, tmp_path):
    result = cli("set", "X", "--from-file", str(tmp_path / "missing"), site=site)
    assert result.returncode == 2 and "missing" in result.stderr


def test_set_keeps_carriage_returns_from_stdin(live: Live, cli, site):
    assert cli("set", "CRLF", input="one\r\ntwo\r\n", site=site).returncode == 0
    assert live.reveal(site, "CRLF") == "one\r\ntwo\r\n"


def test_set_keeps_carriage_returns_from_a_file(live: Live, cli, site, tmp_path):
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"one\r\ntwo\r")
    assert cli("set", "CRLF", "--from-file", str(path), site=site).returncode == 0
    assert live.reveal(site, "CRLF") == "one\r\ntwo\r"


def test_set_of_a_file_that_is_not_utf8_is_a_usage_error(live: Live, cli, site, tmp_path):
    path = tmp_path / "binary"
    path.write_bytes(b"\xff\xfe\x00")
    result = cli("set", "BIN", "--from-file", str(path), site=site)
    assert result.returncode == 2 and "UTF-8" in result.stderr
    assert live.secret(site, "BIN").status_code == 404


@pytest.mark.parametrize("locale", [{"PYTHONIOENCODING": "utf-8:strict"}, {"LC_ALL": "C", "PYTHONIOENCODING": ""}],
                         ids=["utf-8 locale", "C locale"])
def test_set_from_stdin_that_is_not_utf8_is_a_usage_error(live: Live, site, locale):
    # a UTF-8 locale reads stdin strictly (it was a traceback); the C locale lets bad bytes through
    # as lone surrogates (it was the server's "holds a lone surrogate", about bytes the user never saw)
    env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=live.admin_token, SITESECRETS_SITE=site, **locale)
    for args in (["set", "BIN"], ["set", "BIN", "--from-file", "-"]):
        result = subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=REPO, env=env, input=b"binary\xff\xfe",
                                capture_output=True, timeout=60)
        stderr = result.stderr.decode()
        assert result.returncode == 2 and "Traceback" not in stderr, stderr
        assert stderr == "sitesecrets: cannot read standard input: not UTF-8 text; nothing was sent\n"
    assert live.secret(site, "BIN").status_code == 404


def test_set_in_an_app_scope(live: Live, cli, site):
    live.new_app(site, "web")
    assert cli("set", "DB_PASSWORD", "--app", "web", input="app value", site=site).returncode == 0
    assert live.reveal(site, "DB_PASSWORD", app="web") == "app value"
    assert live.secret(site, "DB_PASSWORD").status_code == 404  # not at site level


def test_set_with_matching_expected_version_updates(live: Live, cli, site):
    live.put_secret(site, "TOKEN", "v1")
    result = cli("set", "TOKEN", "--expected-version", "1", input="v2", site=site)
    assert result.returncode == 0, result.stderr
    assert live.reveal(site, "TOKEN") == "v2"


def test_set_with_stale_expected_version_is_a_version_conflict(live: Live, cli, site):
    live.put_secret(site, "TOKEN", "v1")
    live.ok("PATCH", f"/v1/sites/{site}/secrets/TOKEN", json={"value": "v2"})
    result = cli("set", "TOKEN", "--expected-version", "1", input="mine", site=site)
    assert result.returncode == 1
    assert "version" in result.stderr.lower()
    assert "mine" not in result.stderr
    assert live.reveal(site, "TOKEN") == "v2"
    assert live.secret(site, "TOKEN").json()["version"] == 2


def test_set_with_expected_version_of_a_missing_secret_is_refused(live: Live, cli, site):
    result = cli("set", "NEW", "--expected-version", "1", input="x", site=site)
    assert result.returncode == 1
    assert live.secret(site, "NEW").status_code == 404


def test_set_of_a_value_over_the_limit_is_refused_before_it_is_sent(live: Live, cli):
    site = live.new_site("small", max_value_bytes=16)
    proxy = RecordingProxy(live.url)
    try:
        result = cli("set", "BIG", input="é" * 9, site=site, url=proxy.url)  # 18 bytes in UTF-8, 9 characters
    finally:
        proxy.close()
    assert result.returncode == 1
    assert "16" in result.stderr and "nothing was sent" in result.stderr
    assert proxy.requests == [("GET", f"/v1/sites/{site}", 0)]  # only the limits were read
    assert live.secret(site, "BIG").status_code == 404
    assert [e["action"] for e in live.audit(site)] == ["site.update", "site.create"]


def test_set_of_a_value_at_the_limit_is_accepted(live: Live, cli):
    site = live.new_site("small", max_value_bytes=16)
    assert cli("set", "FITS", input="é" * 8, site=site).returncode == 0
    assert live.reveal(site, "FITS") == "é" * 8


def test_set_of_a_bad_name_is_refused_with_the_servers_reason(live: Live, cli, site):
    result = cli("set", "BAD-NAME", input="x", site=site)
    assert result.returncode == 1
    assert result.stderr.strip()
    assert live.ok("GET", f"/v1/sites/{site}")["secret_count"] == 0


def test_set_by_a_viewer_is_refused(live: Live, cli, site):
    viewer = live.mint("viewer", site)
    result = cli("set", "X", input="x", site=site, token=viewer)
    assert result.returncode == 1 and result.stderr.strip()
    assert live.secret(site, "X").status_code == 404


def test_get_prints_exactly_the_value(live: Live, cli, site):
    value = "line one\nline two  \n\n"
    live.put_secret(site, "MULTI", value)
    result = cli("get", "MULTI", site=site)
    assert result.returncode == 0, result.stderr
    assert result.stdout == value and result.stderr == ""


def test_get_is_audited_as_a_reveal(live: Live, cli, site):
    live.put_secret(site, "AUDITED", "x")
    assert cli("get", "AUDITED", site=site).returncode == 0
    reveals = [e for e in live.audit(site, action="secret.reveal") if e["target"].endswith("AUDITED")]
    assert len(reveals) == 1 and reveals[0]["outcome"] == "ok"


def test_get_of_an_app_secret(live: Live, cli, site):
    live.new_app(site, "web")
    live.put_secret(site, "K", "site")
    live.put_secret(site, "K", "app", app="web")
    assert cli("get", "K", "--app", "web", site=site).stdout == "app"
    assert cli("get", "K", site=site).stdout == "site"


def test_get_of_a_missing_secret_exits_1_with_the_servers_message(cli, site):
    result = cli("get", "NOPE", site=site)
    assert result.returncode == 1 and result.stdout == ""
    assert "NOPE" in result.stderr


def test_get_by_a_viewer_is_refused(live: Live, cli, site):
    live.put_secret(site, "HIDDEN", "the value")
    result = cli("get", "HIDDEN", site=site, token=live.mint("viewer", site))
    assert result.returncode == 1 and result.stdout == ""
    assert "the value" not in result.stderr


def test_ls_json_lists_metadata_and_never_values(live: Live, cli, site):
    live.new_app(site, "web")
    live.put_secret(site, "SITE_KEY", "site-value")
    live.put_secret(site, "APP_KEY", "app-value", app="web")
    site_only = cli("ls", "--json", site=site)
    assert site_only.returncode == 0, site_only.stderr
    assert [s["name"] for s in json.loads(site_only.stdout)] == ["SITE_KEY"]
    everything = json.loads(cli("ls", "--all", "--json", site=site).stdout)
    assert sorted((s["name"], s["app"]) for s in everything) == [("APP_KEY", "web"), ("SITE_KEY", None)]
    app_only = json.loads(cli("ls", "--app", "web", "--json", site=site).stdout)
    assert [(s["name"], s["version"]) for s in app_only] == [("APP_KEY", 1)]
    for output in (site_only.stdout, json.dumps(everything)):
        assert "site-value" not in output and "app-value" not in output


def test_ls_writes_json_when_stdout_is_not_a_terminal(live: Live, cli, site):
    live.put_secret(site, "PIPED", "x")
    assert [s["name"] for s in json.loads(cli("ls", site=site).stdout)] == ["PIPED"]


def test_ls_of_an_empty_site_is_an_empty_list(cli, site):
    result = cli("ls", "--json", site=site)
    assert (result.returncode, json.loads(result.stdout)) == (0, [])


def test_ls_of_an_unknown_site_exits_1(cli):
    result = cli("ls", "--json", site="no-such-site")
    assert result.returncode == 1 and "no-such-site" in result.stderr


def test_rm_with_yes_deletes(live: Live, cli, site):
    live.put_secret(site, "GONE", "x")
    result = cli("rm", "GONE", "--yes", site=site)
    assert result.returncode == 0, result.stderr
    assert live.secret(site, "GONE").status_code == 404


def test_rm_without_yes_off_a_terminal_asks_for_it_and_deletes_nothing(live: Live, cli, site):
    live.put_secret(site, "KEPT", "x")
    result = cli("rm", "KEPT", site=site)
    assert result.returncode == 2 and "--yes" in result.stderr
    assert live.secret(site, "KEPT").status_code == 200


def test_rm_of_a_bound_secret_names_the_service_and_succeeds_after_unbinding(live: Live, cli, site):
    live.put_secret(site, "IN_USE", "x")
    live.new_service(site, "billing", None, [{"name": "IN_USE"}])
    refused = cli("rm", "IN_USE", "--yes", site=site)
    assert refused.returncode == 1
    assert "billing" in refused.stderr
    assert live.secret(site, "IN_USE").status_code == 200

    unbound = cli("services", "unbind", "billing", "IN_USE", site=site)
    assert unbound.returncode == 0, unbound.stderr
    assert live.service(site, "billing")["secrets"] == []
    deleted = cli("rm", "IN_USE", "--yes", site=site)
    assert deleted.returncode == 0, deleted.stderr
    assert live.secret(site, "IN_USE").status_code == 404


def test_rm_of_a_missing_secret_exits_1(cli, site):
    result = cli("rm", "NOPE", "--yes", site=site)
    assert result.returncode == 1 and "NOPE" in result.stderr


def test_set_from_an_empty_stdin_is_refused_and_keeps_the_value(live: Live, cli, site):
    """`provider-cli get KEY | sitesecrets set KEY` whose provider failed pipes nothing: that must
    not wipe the secret."""
    live.put_secret(site, "DB_PASSWORD", "keep me")
    result = cli("set", "DB_PASSWORD", input="", site=site)
    assert result.returncode == 2
    assert "standard input is empty" in result.stderr and "--allow-empty" in result.stderr
    assert live.reveal(site, "DB_PASSWORD") == "keep me"
    assert cli("set", "NEW", input="", site=site).returncode == 2
    assert live.secret(site, "NEW").status_code == 404


def test_set_of_a_line_ending_alone_is_refused_as_empty(live: Live, cli, site):
    """`echo "$UNSET" | sitesecrets set KEY` pipes a newline alone."""
    live.put_secret(site, "TOKEN", "keep me")
    for piped in ("\n", "\r\n"):
        result = cli("set", "TOKEN", input=piped, site=site)
        assert result.returncode == 2 and "is empty" in result.stderr, repr(piped)
    assert live.reveal(site, "TOKEN") == "keep me"
    assert cli("set", "TOKEN", "--allow-empty", input="\n", site=site).returncode == 0
    assert live.reveal(site, "TOKEN") == "\n"


def test_set_from_an_empty_file_is_refused(live: Live, cli, site, tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    result = cli("set", "X", "--from-file", str(path), site=site)
    assert result.returncode == 2 and "the file is empty" in result.stderr
    assert live.secret(site, "X").status_code == 404


def test_set_with_allow_empty_stores_an_empty_value(live: Live, cli, site):
    live.put_secret(site, "FLAG", "on")
    result = cli("set", "FLAG", "--allow-empty", input="", site=site)
    assert result.returncode == 0, result.stderr
    assert live.reveal(site, "FLAG") == ""


def test_set_allow_empty_with_generate_or_keep_value_is_a_usage_error(cli, site):
    for extra in ("--generate", "--keep-value"):
        result = cli("set", "X", "--allow-empty", extra, "--description", "d", input="", site=site)
        assert result.returncode == 2 and "--allow-empty" in result.stderr, extra


def test_set_from_file_dash_reads_standard_input(live: Live, cli, site):
    result = cli("set", "FROM_STDIN", "--from-file", "-", input="piped", site=site)
    assert result.returncode == 0, result.stderr
    assert live.reveal(site, "FROM_STDIN") == "piped"
