"""A name given on the command line is one segment of the request's path, whatever it holds: `.`
and `..` name nothing, they never climb to the resource above. (An HTTP client removes such
segments from a URL as RFC 3986 says, so `rm ..` would otherwise become `DELETE /v1/sites/S`.)"""

from __future__ import annotations

import pytest

from cli_helpers import Live


def site_exists(live: Live, site: str) -> bool:
    return live.admin.get(f"/v1/sites/{site}").status_code == 200


@pytest.mark.parametrize("args", [["rm", "..", "--yes"], ["trash", "purge", "..", "--yes"],
                                  ["services", "rm", "..", "--yes"]])
def test_a_dot_dot_name_deletes_nothing_above_it(live: Live, cli, site, args):
    result = cli(*args, site=site)
    assert result.returncode == 1
    assert "'..' does not exist" in result.stderr
    assert site_exists(live, site)  # an empty site: DELETE /v1/sites/S would have removed it


def test_a_dot_dot_app_is_not_the_site_scope(live: Live, cli, site):
    live.put_secret(site, "KEY", "site level")
    result = cli("rm", "KEY", "--app", "..", "--yes", site=site)
    assert result.returncode == 1 and "app '..' does not exist" in result.stderr
    assert live.reveal(site, "KEY") == "site level"
    exported = cli("export", "--app", "..", site=site)
    assert exported.returncode == 1 and exported.stdout == ""


def test_a_dot_name_is_a_name_too(live: Live, cli, site):
    result = cli("get", ".", site=site)
    assert result.returncode == 1
    assert "secret '.' does not exist" in result.stderr
