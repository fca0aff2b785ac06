"""`sitesecrets audit ls | verify` (issue 17, part 5): the site's audit log for scripts."""

from __future__ import annotations

import json

from cli_helpers import Live
from denialwrites import write_repeated_denial


def as_json(result) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_audit_ls_filters_by_action_and_target(live: Live, cli, site):
    live.put_secret(site, "A", "a")
    live.put_secret(site, "B", "b")
    events = as_json(cli("audit", "ls", "--json", "--action", "secret.create", site=site))
    assert sorted(e["target"] for e in events) == ["secret:site/A", "secret:site/B"]
    assert [e["target"] for e in as_json(cli("audit", "ls", "--json", "--target", "secret:site/A", site=site))] == ["secret:site/A"]
    assert set(events[0]) >= {"id", "at", "actor", "action", "target", "outcome", "details"}


def test_audit_ls_since_a_time_and_a_limit(live: Live, cli, site):
    live.put_secret(site, "A", "a")
    live.put_secret(site, "B", "b")
    assert as_json(cli("audit", "ls", "--json", "--since", "2999-01-01", site=site)) == []
    everything = as_json(cli("audit", "ls", "--json", "--since", "2000-01-01T00:00:00Z", site=site))
    assert len(everything) >= 3
    assert len(as_json(cli("audit", "ls", "--json", "--limit", "1", site=site))) == 1


def test_audit_ls_since_with_a_limit_given_keeps_the_newest_that_many(live: Live, cli, site):
    """`--since` alone lists every event from then on; a `--limit` given with it still holds (it
    was dropped without a word, and a script asking for 2 got the whole day)."""
    for name in ("A", "B", "C"):
        live.put_secret(site, name, "v")
    newest = as_json(cli("audit", "ls", "--json", "--limit", "2", site=site))
    capped = as_json(cli("audit", "ls", "--json", "--since", "2000-01-01", "--limit", "2", site=site))
    assert [e["id"] for e in capped] == [e["id"] for e in newest]
    assert len(as_json(cli("audit", "ls", "--json", "--since", "2000-01-01", site=site))) >= 4


def test_audit_ls_bad_since_is_a_usage_error(cli, site):
    result = cli("audit", "ls", "--since", "yesterday", site=site)
    assert result.returncode == 2 and "--since" in result.stderr


def test_audit_ls_since_a_date_that_does_not_exist_is_a_usage_error(cli, site):
    """Shaped like a time but no time at all (month 13, 30 February, hour 25): an empty list would
    read as "nothing happened since"."""
    for text in ("2026-13-03", "2026-02-30", "2026-12-03T25:00Z", "2026-12-03T12:60:00Z"):
        result = cli("audit", "ls", "--since", text, site=site)
        assert result.returncode == 2 and "--since" in result.stderr, (text, result.stdout)


def test_audit_ls_table_shows_markup_literally(live: Live, cli, site):
    live.put_secret(site, "A", "a")
    result = cli("audit", "ls", "--action", "[red]x", site=site)
    assert result.returncode == 0, result.stderr


def test_audit_verify_says_the_chain_holds(live: Live, cli, site):
    live.put_secret(site, "A", "a")
    result = as_json(cli("audit", "verify", "--json", site=site))
    assert result["ok"] is True and result["events"] >= 2


def test_audit_ls_by_an_editor_is_refused(live: Live, cli, site):
    result = cli("audit", "ls", site=site, token=live.mint("editor", site))
    assert result.returncode == 1 and result.stderr.strip()


def test_audit_ls_shows_how_many_attempts_a_coalesced_denial_stands_for(live: Live, cli, terminal, site):
    """The server writes a denial's repeats as one event with `details.repeated` (docs/API.md,
    "Repeated denials"): the table says how many attempts that row stands for, as the TUI's
    Audit tab does; JSON keeps the event as the server wrote it."""
    write_repeated_denial(live.server.state.store, site, "viewer", repeats=1234)
    shown = terminal("audit", "ls", "--action", "secret.reveal", site=site)
    assert shown.returncode == 0, shown.stderr
    assert [line.split()[4:6] for line in shown.stdout.splitlines()[1:]] == [["secret.reveal", "×1,234"],
                                                                          ["secret.reveal", "viewer"]]
    listed = as_json(cli("audit", "ls", "--json", "--action", "secret.reveal", site=site))
    assert [(e["action"], e["details"].get("repeated")) for e in listed] == [("secret.reveal", 1234), ("secret.reveal", None)]


def test_audit_ls_all_sites_shows_the_operators_whole_log_a_deleted_sites_end_included(live: Live, cli, site):
    """A site deleted with everything in it takes its own log with it; who deleted it, and when, is
    in the operator's log (`GET /v1/audit`), which the command line did not offer."""
    live.put_secret(site, "A", "a")
    assert cli("sites", "rm", site, "--cascade", "--yes").returncode == 0
    events = as_json(cli("audit", "ls", "--all-sites", "--json", "--action", "site.delete"))
    assert [(e["site"], e["target"]) for e in events if e["site"] == site] == [(site, f"site:{site}")]


def test_audit_ls_all_sites_table_names_each_events_site(live: Live, cli, terminal, site):
    live.put_secret(site, "A", "a")
    shown = terminal("audit", "ls", "--all-sites", "--action", "secret.create", site=site)
    assert shown.returncode == 0, shown.stderr
    header, *rows = shown.stdout.splitlines()
    assert "SITE" in header.split()
    assert any(site in row.split() and "secret:site/A" in row for row in rows)


def test_audit_ls_all_sites_with_a_site_is_a_usage_error(cli, site):
    result = cli("audit", "ls", "--all-sites", "--site", site)
    assert result.returncode == 2 and "--all-sites" in result.stderr and result.stdout == ""


def test_audit_ls_all_sites_by_a_site_admin_is_refused(live: Live, cli, site):
    result = cli("audit", "ls", "--all-sites", token=live.mint("admin", site))
    assert result.returncode == 1 and "operator" in result.stderr
