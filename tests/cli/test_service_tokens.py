"""A service token reads its own service's environment and nothing else: no reveal, no listing,
no other service's environment, no other site."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from cli_helpers import Live


@dataclass
class Setup:
    site: str
    other_site: str
    token: str


@pytest.fixture
def setup(live: Live) -> Setup:
    site = live.new_site("svc")
    live.new_app(site, "web")
    live.put_secret(site, "API_KEY", "own-secret", app="web")
    live.put_secret(site, "OTHER_KEY", "other-secret", app="web")
    live.put_secret(site, "SITE_KEY", "site-secret")
    live.new_service(site, "api", "web", [{"name": "API_KEY", "app": "web"}])
    live.new_service(site, "worker", "web", [{"name": "OTHER_KEY", "app": "web"}, {"name": "SITE_KEY"}])
    other_site = live.new_site("svc-other")
    live.new_service(other_site, "api", None, [])
    return Setup(site, other_site, live.mint("service", site, "api"))


def test_service_token_fetches_its_own_environment(live, setup):
    with live.client(setup.token) as client:
        response = client.get(f"/v1/sites/{setup.site}/services/api/env")
    assert response.status_code == 200
    assert response.json()["env"] == {"API_KEY": "own-secret"}


@pytest.mark.parametrize("method,path", [
    ("POST", "/apps/web/secrets/API_KEY/reveal"),
    ("POST", "/apps/web/secrets/OTHER_KEY/reveal"),
    ("POST", "/secrets/SITE_KEY/reveal"),
])
def test_service_token_cannot_reveal(live, setup, method, path):
    with live.client(setup.token) as client:
        response = client.request(method, f"/v1/sites/{setup.site}{path}")
    assert response.status_code in (403, 404)
    assert "own-secret" not in response.text and "other-secret" not in response.text
    assert "site-secret" not in response.text


@pytest.mark.parametrize("path", ["/secrets", "/secrets?scope=all", "/apps/web/secrets", "/apps/web/secrets/API_KEY",
                                  "/services", "/services/worker"])
def test_service_token_cannot_list_or_read_metadata(live, setup, path):
    with live.client(setup.token) as client:
        response = client.get(f"/v1/sites/{setup.site}{path}")
    assert response.status_code in (403, 404)
    assert "own-secret" not in response.text and "used_by" not in response.text


def test_service_token_cannot_fetch_another_services_environment(live, setup):
    with live.client(setup.token) as client:
        response = client.get(f"/v1/sites/{setup.site}/services/worker/env")
    assert response.status_code in (403, 404)
    assert "other-secret" not in response.text and "site-secret" not in response.text
    assert live.service(setup.site, "worker")["loaded_at"] is None


def test_service_token_cannot_fetch_a_same_named_service_of_another_site(live, setup):
    with live.client(setup.token) as client:
        response = client.get(f"/v1/sites/{setup.other_site}/services/api/env")
    assert response.status_code == 404


def test_service_token_refusals_are_audited_as_denied(live, setup):
    with live.client(setup.token) as client:
        client.get(f"/v1/sites/{setup.site}/services/worker/env")
        client.post(f"/v1/sites/{setup.site}/apps/web/secrets/OTHER_KEY/reveal")
    outcomes = [e["outcome"] for e in live.audit(setup.site) if e["actor"].startswith("service-")]
    assert outcomes.count("denied") >= 2


def test_service_token_gets_nothing_through_the_command_line(cli, setup):
    for args in (["get", "API_KEY", "--app", "web"], ["ls", "--all"], ["export", "--app", "web"],
                 ["export", "--service", "worker"]):
        result = cli(*args, token=setup.token, site=setup.site)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stdout == ""
        assert "own-secret" not in result.stderr and "other-secret" not in result.stderr
