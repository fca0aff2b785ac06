"""docs/API.md's roles table, checked for every route of the routing table with every role.

The cases are generated from `ROUTES`, and every route must be classified below under one row of
docs/API.md's table and have a concrete path and body: a route added without that fails here instead
of slipping past the roles check.
"""

from __future__ import annotations

import httpx
import pytest

from server.auth import Permission
from server.handlers import ROUTES
from server.routing import Route

from apihelpers import audit_rows, build_template, copy_data_dir, create_secret, expect_error

# docs/API.md, "Roles and permissions": which roles may do each row, and which audit actions belong to which row.
READ, REVEAL, WRITE, ADMIN, ENV, ANY = "read", "reveal", "write", "admin", "env", "any"
TABLE = {
    READ: {"viewer", "editor", "admin"},
    REVEAL: {"editor", "admin"},
    WRITE: {"editor", "admin"},
    ADMIN: {"admin"},
    ENV: {"editor", "admin", "service"},  # service: its own service only
    ANY: {"viewer", "editor", "admin", "service"},  # whoami: the calling token's own metadata
}
ROW_OF_ACTION = {
    "token.whoami": ANY,
    "site.list": READ, "site.get": READ, "app.list": READ, "app.get": READ,
    "secret.list": READ, "secret.get": READ, "secret.versions": READ, "trash.list": READ, "type.list": READ, "type.get": READ,
    "service.list": READ, "service.get": READ,
    "secret.reveal": REVEAL,
    "secret.create": WRITE, "secret.update": WRITE, "secret.delete": WRITE, "secret.rollback": WRITE, "secret.restore": WRITE,
    "type.create": WRITE, "type.update": WRITE, "type.delete": WRITE,
    "service.create": WRITE, "service.update": WRITE, "service.delete": WRITE,
    "site.create": ADMIN, "site.update": ADMIN, "site.delete": ADMIN,
    "app.create": ADMIN, "app.update": ADMIN, "app.delete": ADMIN, "secret.purge": ADMIN,
    "token.list": ADMIN, "token.create": ADMIN, "token.delete": ADMIN, "audit.read": ADMIN,
    "service.env": ENV, "service.load": ENV,
}
ROLES = ("viewer", "editor", "admin", "service")

# A successful request for each route, in the world `world` builds.
BODIES = {
    ("POST", "/v1/sites"): {"name": "new-site"},
    ("PATCH", "/v1/sites/{site}"): {"limits": {"max_secrets": 150}},
    ("POST", "/v1/sites/{site}/apps"): {"name": "new-app"},
    ("PATCH", "/v1/sites/{site}/apps/{app}"): {"site_secrets": False},
    ("POST", "/v1/sites/{site}/secrets"): {"name": "NEW_SECRET", "value": "v"},
    ("PATCH", "/v1/sites/{site}/secrets/{name}"): {"value": "v2"},
    ("POST", "/v1/sites/{site}/apps/{app}/secrets"): {"name": "NEW_SECRET", "value": "v"},
    ("PATCH", "/v1/sites/{site}/apps/{app}/secrets/{name}"): {"value": "v2"},
    ("POST", "/v1/sites/{site}/secrets/{name}/rollback"): {"version": 1},
    ("POST", "/v1/sites/{site}/apps/{app}/secrets/{name}/rollback"): {"version": 1},
    ("POST", "/v1/sites/{site}/secret-types"): {"key": "new-type", "name": "New", "schema": {"type": "object"}},
    ("PATCH", "/v1/sites/{site}/secret-types/{key}"): {"name": "Certificate"},
    ("POST", "/v1/sites/{site}/services"): {"name": "new-service", "secrets": [{"name": "API_KEY"}]},
    ("PATCH", "/v1/sites/{site}/services/{name}"): {"secrets": [{"name": "BOUND"}]},
    ("POST", "/v1/sites/{site}/services/{name}/loads"): {"versions": [{"name": "BOUND", "version": 1}]},
    ("POST", "/v1/tokens"): {"name": "someone", "role": "viewer"},
}


def classify(route: Route) -> str:
    assert route.action in ROW_OF_ACTION, f"{route.method} {route.path}: classify {route.action!r} under a row of docs/API.md's roles table"
    return ROW_OF_ACTION[route.action]


def concrete_path(route: Route, world: dict[str, str], site_bound: bool = False) -> str:
    """The route's path with parameters naming objects of `world` that make the request succeed
    (a token bound to `default` gets a path in `default`, so its answer is about its role)."""
    values = {"site": "default", "app": "web", "key": "cert", "id": world["victim_token"]}
    if route.method == "DELETE" and route.path == "/v1/sites/{site}" and not site_bound:
        values["site"] = "spare"  # only an empty site can be deleted
    if route.method == "DELETE" and route.path.endswith("/apps/{app}"):
        values["app"] = "spare-app"
    if "{name}" in route.path:
        values["name"] = "worker" if "/services/" in route.path else "TRASHED" if "/trash/" in route.path else "API_KEY"
    unknown = set(route.params) - set(values)
    assert not unknown, f"{route.method} {route.path}: give the roles test a value for {unknown}"
    return route.path.format(**values)


PROTECTED = [r for r in ROUTES if r.permission is not Permission.public]
CASES = [pytest.param(route, role, id=f"{role}-{route.method}-{route.path}") for route in PROTECTED for role in ROLES]


def test_every_protected_route_is_classified_and_every_public_one_is_health_or_openapi() -> None:
    for route in PROTECTED:
        classify(route)
    assert {r.path for r in ROUTES if r.permission is Permission.public} == {"/v1/health", "/v1/openapi.json"}


def build_world(api: httpx.Client) -> dict:
    """A site `default` with an app, secrets at both scopes (one with two versions, one in the trash), a type, a bound service; an empty
    site and app to delete; a token to revoke; and a token of every role."""
    for response in (
        api.post("/v1/sites", json={"name": "spare"}),
        api.post("/v1/sites/default/apps", json={"name": "web"}),
        api.post("/v1/sites/default/apps", json={"name": "spare-app"}),
        api.post("/v1/sites/default/secret-types", json={"key": "cert", "name": "Cert", "schema": {"type": "object"}}),
    ):
        assert response.status_code == 201, response.text
    for scope in ("/v1/sites/default", "/v1/sites/default/apps/web"):
        create_secret(api, "API_KEY", "value-1", scope=scope)
        assert api.patch(f"{scope}/secrets/API_KEY", json={"value": "value-1b"}).status_code == 200  # a version to roll back to
        create_secret(api, "BOUND", "value-2", scope=scope)
        create_secret(api, "TRASHED", "value-3", scope=scope)
        assert api.delete(f"{scope}/secrets/TRASHED").status_code == 204
    response = api.post("/v1/sites/default/services", json={"name": "worker", "secrets": [{"name": "BOUND"}]})
    assert response.status_code == 201, response.text
    tokens = {}
    for role in ROLES:
        bound = {"site": "default", "service": "worker"} if role == "service" else {}
        tokens[role] = api.post("/v1/tokens", json={"name": f"{role}-token", "role": role, **bound}).json()["token"]
    victim = api.post("/v1/tokens", json={"name": "victim", "role": "viewer"}).json()["id"]
    return {"victim_token": victim, "tokens": tokens}


@pytest.fixture(scope="module")
def template(pristine_data_dir, tmp_path_factory):
    return build_template(pristine_data_dir, tmp_path_factory.mktemp("roles"), build_world)


@pytest.fixture
def data_dir(template, tmp_path):
    """Each case gets its own copy of the world, so an allowed delete cannot disturb the next case."""
    return copy_data_dir(template, tmp_path)


@pytest.mark.parametrize("route, role", CASES)
def test_role_may_or_may_not_use_route(route: Route, role: str, world, client, data_dir, db_rows) -> None:
    caller = client(world["tokens"][role])
    path = concrete_path(route, world, site_bound=role == "service")
    body = BODIES.get((route.method, route.path))
    allowed = role in TABLE[classify(route)]
    before = db_rows()
    response = caller.request(route.method, path, json=body)
    if allowed:
        assert response.status_code == route.status, response.text
        return
    expect_error(response, 403, "forbidden")
    assert response.json()["error"]["message"] in (f"{'an' if role in ('admin', 'editor') else 'a'} {role} token may not do this",
                                                   "only the operator's admin token (bound to no site) may do this",
                                                   "a service token may only fetch and record the environment of its "
                                                   "own service, 'worker'")
    denied = audit_rows(data_dir, outcome="denied", action=route.action)
    assert len(denied) == 1 and denied[0]["actor"] == f"{role}-token"
    assert denied[0]["site"] == (path.split("/")[3] if path.startswith("/v1/sites/") else None)
    after = db_rows()
    assert after.pop("audit_events")[0][0] == before.pop("audit_events")[0][0] + 1
    assert after == before


def test_service_token_may_not_fetch_another_services_environment(world, api, mint, client, data_dir) -> None:
    assert api.post("/v1/sites/default/services", json={"name": "other", "secrets": []}).status_code == 201
    caller = client(mint("service", site="default", service="worker"))
    refused = caller.get("/v1/sites/default/services/other/env")
    expect_error(refused, 403, "forbidden")
    # what `sitesecrets run --service other` prints: what the token is for, not only that it is refused
    assert refused.json()["error"]["message"] == ("a service token may only fetch and record the environment of "
                                                  "its own service, 'worker'")
    assert caller.get("/v1/sites/default/services/worker/env").json()["env"] == {"BOUND": "value-2"}
    denied = audit_rows(data_dir, outcome="denied")
    assert [(e["action"], e["site"]) for e in denied] == [("service.env", "default")]
    assert "/services/other/env" in denied[0]["details"]


@pytest.mark.parametrize("role, method, path, target", [
    ("viewer", "POST", "/v1/sites/default/secrets/BOUND/reveal", "secret:site/BOUND"),
    ("viewer", "POST", "/v1/sites/default/apps/web/secrets/KEY/reveal", "secret:app/web/KEY"),
    ("viewer", "DELETE", "/v1/sites/default/trash/OLD", "secret:site/OLD"),
    ("service", "GET", "/v1/sites/default/services/other/env", "service:other"),
    ("editor", "DELETE", "/v1/sites/default/apps/web", "app:web"),
    ("viewer", "DELETE", "/v1/sites/default/secret-types/plain", "type:plain"),
    ("editor", "PATCH", "/v1/sites/default", "site:default"),
    ("editor", "DELETE", "/v1/tokens/tok_123", "token:tok_123"),
    ("viewer", "POST", "/v1/sites/default/secrets", None),  # a create's name is in the body, never read
])
def test_a_refused_attempt_is_audited_against_what_it_aimed_at(world, client, data_dir, role, method, path, target) -> None:
    """Filtering the log on a secret must show who tried to read it, not only who did."""
    caller = client(world["tokens"][role])
    body = {"limits": {"max_secrets": 5}} if method == "PATCH" else ({"name": "X", "value": "v"} if path.endswith("/secrets") else None)
    expect_error(caller.request(method, path, json=body), 403, "forbidden")
    [denied] = audit_rows(data_dir, outcome="denied")
    assert denied["target"] == target


def test_a_refused_reveal_names_the_target_an_allowed_one_does(world, api, client, data_dir) -> None:
    expect_error(client(world["tokens"]["viewer"]).post("/v1/sites/default/secrets/BOUND/reveal"), 403, "forbidden")
    assert api.post("/v1/sites/default/secrets/BOUND/reveal").status_code == 200
    events = audit_rows(data_dir, action="secret.reveal")
    assert [(e["outcome"], e["target"]) for e in events] == [("denied", "secret:site/BOUND"), ("ok", "secret:site/BOUND")]


def test_service_token_may_not_record_another_services_load(world, api, mint, client, data_dir, db_rows) -> None:
    assert api.post("/v1/sites/default/services", json={"name": "other", "secrets": [{"name": "BOUND"}]}).status_code == 201
    caller = client(mint("service", site="default", service="worker"))
    before = db_rows()
    expect_error(caller.post("/v1/sites/default/services/other/loads", json={"versions": [{"name": "BOUND", "version": 1}]}),
                 403, "forbidden")
    assert api.get("/v1/sites/default/services/other").json()["loaded_at"] is None
    denied = audit_rows(data_dir, outcome="denied")
    assert [(e["action"], e["site"]) for e in denied] == [("service.load", "default")]
    after = db_rows()
    assert after.pop("audit_events")[0][0] == before.pop("audit_events")[0][0] + 1
    assert after == before


SITE_ROUTES = [pytest.param(r, id=f"{r.method}-{r.path}") for r in PROTECTED if "{site}" in r.path]


@pytest.mark.parametrize("route", SITE_ROUTES)
def test_token_bound_to_another_site_sees_site_as_missing(route: Route, world, api, mint, client, db_rows) -> None:
    assert api.post("/v1/sites", json={"name": "elsewhere"}).status_code == 201
    caller = client(mint("admin", site="elsewhere"))
    before = db_rows()
    response = caller.request(route.method, concrete_path(route, world), json=BODIES.get((route.method, route.path)))
    expect_error(response, 404, "not_found")
    assert db_rows() == before


def test_token_bound_to_a_site_lists_only_that_site(world, api, mint, client) -> None:
    caller = client(mint("viewer", site="spare"))
    assert [s["name"] for s in caller.get("/v1/sites").json()["items"]] == ["spare"]
    assert [s["name"] for s in api.get("/v1/sites").json()["items"]] == ["default", "spare"]
